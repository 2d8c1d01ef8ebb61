//! The business calendar at run time: what `/api/v1/calendar` tells an
//! agent, a deployment's own holiday list, and the warning while the
//! shipped list is about to run out.

use std::sync::Arc;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;
use repairnet::auth::Role;
use repairnet::basic::ManualClock;

fn day<'a>(body: &'a Value, date: &str) -> &'a Value {
    body["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == date)
        .unwrap_or_else(|| panic!("no {date} in {body}"))
}

async fn app_at(now: &str, tweak: Option<fn(&mut repairnet::config::Settings)>) -> TestApp {
    let clock = Arc::new(ManualClock::new(now.parse().unwrap()));
    spawn_app_with(
        Backend::Sqlite,
        Options {
            clock: Some(clock),
            tweak,
            ..Options::default()
        },
    )
    .await
    .unwrap()
}

/// National Day week 2026: the holidays by name, the Saturday make-up
/// working day, plain weekdays and weekends; agents only; a range is
/// checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reads_holidays_and_make_up_days() {
    let app = app_at("2026-09-28T02:00:00Z", None).await;
    let agent = token(&app.db, Role::Agent).await;
    let (st, body) = call(
        &app,
        Method::GET,
        "/api/v1/calendar?from=2026-09-28&to=2026-10-11",
        &agent,
        None,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["days"].as_array().unwrap().len(), 14);
    assert_eq!(body["covered_until"], "2026-12-31");
    let monday = day(&body, "2026-09-28");
    assert_eq!(
        (&monday["kind"], &monday["working"]),
        (&"workday".into(), &true.into())
    );
    let national = day(&body, "2026-10-01");
    assert_eq!(
        (&national["kind"], &national["working"]),
        (&"holiday".into(), &false.into())
    );
    assert!(
        national["name"].as_str().unwrap().contains("国庆"),
        "{national}"
    );
    let saturday = day(&body, "2026-10-10");
    assert_eq!(
        (&saturday["kind"], &saturday["working"]),
        (&"makeup_workday".into(), &true.into())
    );
    assert_eq!(day(&body, "2026-10-11")["kind"], "weekend");
    assert!(body["days"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["beyond_coverage"] == false));
    // Without dates: today and the next 13 days.
    let (_, two_weeks) = call(&app, Method::GET, "/api/v1/calendar", &agent, None).await;
    assert_eq!(two_weeks["from"], "2026-09-28");
    assert_eq!(two_weeks["to"], "2026-10-11");
    let (st, _) = call(
        &app,
        Method::GET,
        "/api/v1/calendar?from=2026-10-11&to=2026-10-01",
        &agent,
        None,
    )
    .await;
    assert_eq!(st, 400);
    let (st, _) = call(
        &app,
        Method::GET,
        "/api/v1/calendar?from=2026-01-01&to=2027-06-01",
        &agent,
        None,
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(app.get("/api/v1/calendar").await.status(), 401);
    // Past the list, a day is known by its weekday alone, and says so.
    let (_, jan) = call(
        &app,
        Method::GET,
        "/api/v1/calendar?from=2027-01-01&to=2027-01-01",
        &agent,
        None,
    )
    .await;
    assert_eq!(day(&jan, "2027-01-01")["beyond_coverage"], true);
}

/// Within 60 days of the list's end the server warns in `/readyz` (and the
/// log); half a year before, it does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_warns_while_the_holiday_list_runs_out() {
    let late = app_at("2026-12-02T02:00:00Z", None).await;
    let (st, r) = late.get_json("/readyz").await;
    assert_eq!(st, 200);
    assert_eq!(r["calendar"]["covered_until"], "2026-12-31");
    assert!(
        r["calendar"]["warning"]
            .as_str()
            .unwrap()
            .contains("--holidays"),
        "{r}"
    );
    // A job whose due time lies past the list says so in its SLA.
    let after = app_at("2026-12-28T02:00:00Z", None).await;
    let agent = token(&after.db, Role::Agent).await;
    let (st, job) = call(
        &after,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(serde_json::json!({
        "kind": "carry_in", "customer": {"name": "王芳", "phone": "13800001234"},
        "address": "上海市静安区", "product": "notebook", "purchase_date": "2026-11-01",
        "problem": "无法开机"})),
    )
    .await;
    assert_eq!(st, 201, "{job}");
    assert!(
        job["sla"]["calendar_note"]
            .as_str()
            .unwrap()
            .contains("2026-12-31"),
        "{job}"
    );
    let early = app_at("2026-06-01T02:00:00Z", None).await;
    let (_, r) = early.get_json("/readyz").await;
    assert_eq!(r["calendar"]["warning"], Value::Null, "{r}");
}

fn holidays_2027() -> std::path::PathBuf {
    let p = std::env::temp_dir().join("repairnet-test-holidays-2027.csv");
    std::fs::write(
        &p,
        "date,kind,name\n2027-01-01,holiday,元旦 New Year's Day\n2027-01-09,workday,调休 make-up day\n",
    )
    .unwrap();
    p
}

/// A deployment gives next year's list with `--holidays`: the calendar
/// follows it and the warning goes; a file that does not read stops the
/// start with a message naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_gives_next_years_holidays() {
    let app = app_at(
        "2026-12-02T02:00:00Z",
        Some(|s| s.holidays = Some(holidays_2027())),
    )
    .await;
    let agent = token(&app.db, Role::Agent).await;
    let (_, body) = call(
        &app,
        Method::GET,
        "/api/v1/calendar?from=2027-01-01&to=2027-01-10",
        &agent,
        None,
    )
    .await;
    assert_eq!(body["covered_until"], "2027-12-31");
    assert_eq!(day(&body, "2027-01-01")["kind"], "holiday");
    assert_eq!(day(&body, "2027-01-09")["kind"], "makeup_workday");
    let (_, r) = app.get_json("/readyz").await;
    assert_eq!(r["calendar"]["warning"], Value::Null, "{r}");

    let bad = std::env::temp_dir().join("repairnet-test-holidays-bad.csv");
    std::fs::write(&bad, "2027-13-01,holiday,no such day\n").unwrap();
    let settings = repairnet::config::Settings {
        bind: "127.0.0.1:0".into(),
        database_url: "sqlite::memory:".into(),
        no_demo_history: true,
        holidays: Some(bad.clone()),
        ..repairnet::config::Settings::default()
    };
    let Err(e) = repairnet::Application::build(settings).await else {
        panic!("a bad holidays file must stop the start");
    };
    let msg = format!("{e:#}");
    assert!(
        msg.contains("repairnet-test-holidays-bad.csv") && msg.contains("line 1"),
        "{msg}"
    );
}

/// `PH` in a station's opening hours follows the same holiday list as the
/// SLA clock: closed on National Day (a Thursday), open on a plain
/// Thursday a week later; a station without `PH off` is open on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_hours_ph_follows_the_holiday_calendar() {
    let app = app_at("2026-09-20T02:00:00Z", None).await;
    for (id, hours, lon) in [
        ("PHOFF", "Mo-Fr 09:00-18:00; PH off", 101.78),
        ("PLAIN", "Mo-Fr 09:00-18:00", 101.80),
    ] {
        let res = app
            .admin(Method::POST, "/api/v1/stations")
            .json(&serde_json::json!({
                "id": id, "name": format!("测试站{id}"), "province": "青海省", "city": "西宁市",
                "adcode": "630102", "address": "测试路1号", "phone": "0971-5550001",
                "lat": 36.62, "lon": lon, "services": ["carry_in"], "products": ["notebook"],
                "opening_hours": hours,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "{}", res.text().await.unwrap());
    }
    let open_ids = |at: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .get_json(&format!(
                    "/api/v1/stations/nearest?lat=36.62&lon=101.79&k=50&max_km=10&open_at={at}"
                ))
                .await;
            assert_eq!(status, 200, "{body}");
            let mut ids: Vec<String> = body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["station"]["id"].as_str().unwrap().to_owned())
                .filter(|id| id == "PHOFF" || id == "PLAIN")
                .collect();
            ids.sort();
            ids
        }
    };
    // 10:00 in Xining's time zone (Asia/Shanghai) on both days.
    assert_eq!(open_ids("2026-10-01T02:00:00Z").await, ["PLAIN"]);
    assert_eq!(open_ids("2026-10-08T02:00:00Z").await, ["PHOFF", "PLAIN"]);
}
