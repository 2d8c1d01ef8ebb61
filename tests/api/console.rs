//! The API the call-centre console stands on: one answer for an address
//! before the job is made, callers found by phone, technicians' bookings,
//! where to send a customer no technician can reach, and visit windows
//! that are never in the past — with the server's clock set by the test.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use repairnet::auth::Role;
use repairnet::basic::ManualClock;

/// 2026-12-01 19:34 in Shanghai: after the afternoon window has started.
const EVENING: &str = "2026-12-01T11:34:00Z";
/// 2026-12-02 10:00 in Shanghai: the morning window has started, the
/// afternoon one has not.
const MORNING: &str = "2026-12-02T02:00:00Z";

async fn app_at(at: &str) -> (TestApp, Arc<ManualClock>, String) {
    let t: DateTime<Utc> = at.parse().unwrap();
    let clock = Arc::new(ManualClock::new(t));
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            clock: Some(clock.clone()),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let agent = token(&app.db, Role::Agent).await;
    (app, clock, agent)
}

fn job(kind: &str, address: &str, phone: &str, bought: &str) -> Value {
    json!({"kind": kind, "customer": {"name": "赵敏", "phone": phone}, "address": address,
           "product": "notebook", "purchase_date": bought, "problem": "开机黑屏"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_for_an_address_after_closing_offer_tomorrow_and_say_why() {
    let (app, clock, agent) = app_at(EVENING).await;
    let (st, o) = call(
        &app,
        Method::GET,
        "/api/v1/intake/options?address=绵阳涪城临园路&product=notebook",
        &agent,
        None,
    )
    .await;
    assert_eq!(st, 200, "{o}");
    assert_eq!(o["query"]["division"]["adcode"], "510703");
    assert_eq!(
        o["day"], "2026-12-02",
        "after 19:34 the first bookable day is tomorrow"
    );
    assert_eq!(o["coverage"], "covered");
    assert!(!o["candidates"].as_array().unwrap().is_empty());
    let stations = o["stations"].as_array().unwrap();
    assert!(!stations.is_empty());
    // Every nearby station says whether it can take the job, and if not why.
    for s in stations {
        assert!(s["reason"].is_null() || s["reason"].is_string(), "{s}");
        assert!(s["station"].get("next_open_at").is_some());
    }
    let can: Vec<&Value> = stations.iter().filter(|s| s["reason"].is_null()).collect();
    assert!(can.iter().all(|s| o["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["station_id"] == s["station"]["id"])));
    // No slot of a day that has ended; tomorrow morning is the first.
    let slots = o["slots"].as_array().unwrap();
    assert!(!slots.is_empty());
    assert!(
        slots
            .iter()
            .all(|s| s["date"].as_str().unwrap() >= "2026-12-02"),
        "{slots:?}"
    );
    assert_eq!(
        (slots[0]["date"].as_str(), slots[0]["period"].as_str()),
        (Some("2026-12-02"), Some("am"))
    );
    // The stations closed at 19:34 say when they open.
    let (_, near) = app
        .get_json("/api/v1/stations/nearest?address=绵阳涪城临园路&k=5")
        .await;
    let first = &near["results"][0]["station"];
    if first["open_now"] == false {
        let next: DateTime<Utc> = first["next_open_at"].as_str().unwrap().parse().unwrap();
        assert!(
            next > repairnet::basic::Clock::now(clock.as_ref())
                && next < repairnet::basic::Clock::now(clock.as_ref()) + Duration::days(3),
            "{first}"
        );
    }

    // A job made now is booked for tomorrow, not for the evening that is over.
    let (st, made) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(job("onsite", "绵阳涪城临园路", "13800005555", "2026-10-20")),
    )
    .await;
    assert_eq!(st, 201, "{made}");
    assert_eq!(made["assignment"]["day"], "2026-12-02");
    assert_eq!(made["coverage"], "covered");
    // A slot that has passed is refused, and nothing is written.
    let mut late = job("onsite", "绵阳涪城临园路", "13800006666", "2026-10-20");
    late["slot"] = json!({"date": "2026-12-01", "period": "pm"});
    let (st, e) = call(&app, Method::POST, "/api/v1/jobs", &agent, Some(late)).await;
    assert_eq!(st, 400, "{e}");
    let (_, none) = call(
        &app,
        Method::GET,
        "/api/v1/jobs?phone=13800006666",
        &agent,
        None,
    )
    .await;
    assert!(none["items"].as_array().unwrap().is_empty());

    // The next morning at 10:00 the morning window has started: only the
    // afternoon of today is offered for today.
    clock.set(MORNING.parse().unwrap());
    let (_, o) = call(
        &app,
        Method::GET,
        "/api/v1/slots?address=绵阳涪城临园路&product=notebook&days=1",
        &agent,
        None,
    )
    .await;
    let periods: Vec<&str> = o["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["period"].as_str().unwrap())
        .collect();
    assert!(
        !periods.is_empty() && periods.iter().all(|p| *p == "pm"),
        "{o}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_no_technician_reaches_gets_the_stations_to_bring_the_item_to() {
    let (app, _clock, agent) = app_at(MORNING).await;
    let path = "/api/v1/intake/options?address=西藏阿里噶尔&product=notebook";
    let (st, o) = call(&app, Method::GET, path, &agent, None).await;
    assert_eq!(st, 200, "{o}");
    assert_eq!(o["coverage"], "no_onsite_station", "{o}");
    assert!(o["candidates"].as_array().unwrap().is_empty());
    assert!(o["slots"].as_array().unwrap().is_empty());
    let carry = o["carry_in_stations"].as_array().unwrap();
    assert!(!carry.is_empty());
    assert!(carry.iter().all(|s| s["station"]["services"]
        .as_array()
        .unwrap()
        .contains(&json!("carry_in"))));
    // The job is still taken, and its answer says so with the same stations.
    let (st, made) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(job("onsite", "西藏阿里噶尔", "13800007777", "2026-11-01")),
    )
    .await;
    assert_eq!(st, 201, "{made}");
    assert_eq!(made["status"], "new");
    assert_eq!(made["coverage"], "no_onsite_station");
    assert_eq!(
        made["carry_in_stations"][0]["station"]["id"],
        carry[0]["station"]["id"]
    );

    // A carry-in job is told where to bring the item, not who would come.
    let (st, o) = call(
        &app,
        Method::GET,
        "/api/v1/intake/options?address=成都武侯&product=notebook&kind=carry_in",
        &agent,
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(o["coverage"], "carry_in");
    assert!(o["candidates"].as_array().unwrap().is_empty());
    assert!(!o["carry_in_stations"].as_array().unwrap().is_empty());
    let (st, made) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(job("carry_in", "成都武侯", "13800008888", "2026-11-01")),
    )
    .await;
    assert_eq!(st, 201, "{made}");
    let (st, rec) = call(
        &app,
        Method::GET,
        &format!(
            "/api/v1/jobs/{}/recommendation",
            made["code"].as_str().unwrap()
        ),
        &agent,
        None,
    )
    .await;
    assert_eq!(st, 200, "{rec}");
    assert_eq!(rec["coverage"], "carry_in");
    assert!(rec["candidates"].as_array().unwrap().is_empty());
    assert!(!rec["carry_in_stations"].as_array().unwrap().is_empty());

    // Bad input is a 400 naming the fields.
    let (st, e) = call(
        &app,
        Method::GET,
        "/api/v1/intake/options?address=成都&product=toaster&kind=teleport",
        &agent,
        None,
    )
    .await;
    assert_eq!(st, 400);
    let fields: Vec<&str> = e["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"product") && fields.contains(&"kind"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_is_found_by_phone_and_technicians_show_their_day() {
    let (app, _clock, agent) = app_at(MORNING).await;
    let dispatcher = token(&app.db, Role::Dispatcher).await;
    let (_, a) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(job("onsite", "绵阳涪城临园路", "13800009999", "2026-11-01")),
    )
    .await;
    let (_, _b) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(job("onsite", "成都武侯", "13800001010", "2026-11-01")),
    )
    .await;
    // The number as the caller says it, with dashes and spaces.
    let (st, found) = call(
        &app,
        Method::GET,
        "/api/v1/jobs?phone=138-0000 9999",
        &agent,
        None,
    )
    .await;
    assert_eq!(st, 200, "{found}");
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["code"], a["code"]);
    let (st, _) = call(&app, Method::GET, "/api/v1/jobs?phone=12", &agent, None).await;
    assert_eq!(st, 400);
    // A summary list leaves the history out.
    let (_, light) = call(
        &app,
        Method::GET,
        "/api/v1/jobs?status=open&summary=true",
        &agent,
        None,
    )
    .await;
    assert!(light["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["events"].as_array().unwrap().is_empty()));

    // The technician the job went to has it booked on its day.
    let station = a["assignment"]["station_id"].as_str().unwrap();
    let day = a["assignment"]["day"].as_str().unwrap();
    let tid = &a["assignment"]["technician_id"];
    let (st, techs) = call(
        &app,
        Method::GET,
        &format!("/api/v1/technicians?station_id={station}&day={day}"),
        &dispatcher,
        None,
    )
    .await;
    assert_eq!(st, 200, "{techs}");
    let t = techs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| &t["id"] == tid)
        .unwrap();
    assert_eq!(t["booked"], 1);
    assert_eq!(t["day"], day);
    let (_, other_day) = call(
        &app,
        Method::GET,
        &format!("/api/v1/technicians?station_id={station}&day=2027-01-05"),
        &dispatcher,
        None,
    )
    .await;
    assert!(other_day["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["booked"] == 0));
    let (st, _) = call(
        &app,
        Method::GET,
        "/api/v1/technicians?day=tomorrow",
        &dispatcher,
        None,
    )
    .await;
    assert_eq!(st, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_moves_a_visit_corrects_the_caller_and_cancels_with_a_reason() {
    let (app, _clock, agent) = app_at(MORNING).await;
    let dispatcher = token(&app.db, Role::Dispatcher).await;
    let (_, made) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(job("onsite", "绵阳涪城临园路", "13800002020", "2026-11-01")),
    )
    .await;
    let code = made["code"].as_str().unwrap().to_owned();
    let a = &made["assignment"];
    let (station, tid, day) = (
        a["station_id"].as_str().unwrap(),
        a["technician_id"].clone(),
        a["day"].as_str().unwrap().to_owned(),
    );
    assert_eq!(day, "2026-12-02");
    let booked = |v: &Value| -> u64 {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == tid)
            .unwrap()["booked"]
            .as_u64()
            .unwrap()
    };

    // Move the visit to the day after tomorrow, afternoon: the booking moves too.
    let path = format!("/api/v1/jobs/{code}/reschedule");
    let (st, moved) = call(
        &app,
        Method::POST,
        &path,
        &agent,
        Some(json!({"date": "2026-12-04", "period": "pm", "reason": "客户周三不在家"})),
    )
    .await;
    assert_eq!(st, 200, "{moved}");
    assert_eq!(moved["assignment"]["day"], "2026-12-04");
    assert_eq!(moved["assignment"]["period"], "pm");
    let last = moved["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "rescheduled");
    assert_eq!(last["data"]["from"]["day"], "2026-12-02");
    let (_, before) = call(
        &app,
        Method::GET,
        &format!("/api/v1/technicians?station_id={station}&day=2026-12-02"),
        &dispatcher,
        None,
    )
    .await;
    let (_, after) = call(
        &app,
        Method::GET,
        &format!("/api/v1/technicians?station_id={station}&day=2026-12-04"),
        &dispatcher,
        None,
    )
    .await;
    assert_eq!((booked(&before), booked(&after)), (0, 1));
    // A window that has started, or a day that is not a date, is refused.
    let (st, _) = call(
        &app,
        Method::POST,
        &path,
        &agent,
        Some(json!({"date": "2026-12-02", "period": "am"})),
    )
    .await;
    assert_eq!(st, 400);
    let (st, _) = call(
        &app,
        Method::POST,
        &path,
        &agent,
        Some(json!({"date": "周五", "period": "noon"})),
    )
    .await;
    assert_eq!(st, 400);

    // Correct the phone and the address text; the event names the fields.
    let (st, fixed) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/jobs/{code}"),
        &agent,
        Some(json!({"phone": "139 0000 3030", "address": "绵阳涪城临园路68号3单元"})),
    )
    .await;
    assert_eq!(st, 200, "{fixed}");
    assert_eq!(fixed["customer"]["phone"], "13900003030");
    assert_eq!(fixed["address"], "绵阳涪城临园路68号3单元");
    assert_eq!(fixed["lat"], made["lat"], "the point does not move");
    let last = fixed["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["event"].as_str(), last["data"]["fields"].clone()),
        (Some("corrected"), json!(["customer.phone", "address"]))
    );
    let (_, found) = call(
        &app,
        Method::GET,
        "/api/v1/jobs?phone=13900003030",
        &agent,
        None,
    )
    .await;
    assert_eq!(found["items"][0]["code"], code.as_str());
    let (st, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/jobs/{code}"),
        &agent,
        Some(json!({"phone": "12"})),
    )
    .await;
    assert_eq!(st, 400);
    let (st, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/jobs/{code}"),
        &agent,
        Some(json!({"lat": 1})),
    )
    .await;
    assert_eq!(st, 400, "unknown fields are refused");

    // An agent cancels for the caller only with a reason, and may do nothing else.
    let events = format!("/api/v1/jobs/{code}/events");
    let (st, _) = call(
        &app,
        Method::POST,
        &events,
        &agent,
        Some(json!({"event": "cancelled"})),
    )
    .await;
    assert_eq!(st, 400);
    let (st, _) = call(
        &app,
        Method::POST,
        &events,
        &agent,
        Some(json!({"event": "hold", "reason": "x"})),
    )
    .await;
    assert_eq!(st, 403);
    let (st, gone) = call(
        &app,
        Method::POST,
        &events,
        &agent,
        Some(json!({"event": "cancelled", "reason": "客户已自行修好"})),
    )
    .await;
    assert_eq!(
        (st, gone["status"].as_str()),
        (200, Some("cancelled")),
        "{gone}"
    );
    let (_, after) = call(
        &app,
        Method::GET,
        &format!("/api/v1/technicians?station_id={station}&day=2026-12-04"),
        &dispatcher,
        None,
    )
    .await;
    assert_eq!(booked(&after), 0, "a cancelled visit gives its day back");
    let (st, _) = call(
        &app,
        Method::POST,
        &path,
        &agent,
        Some(json!({"date": "2026-12-05", "period": "am"})),
    )
    .await;
    assert_eq!(st, 409, "a cancelled job is not moved");
}
