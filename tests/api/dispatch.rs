use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use repairnet::auth::Role;

struct Staff {
    agent: String,
    dispatcher: String,
    manager: String,
}

async fn staff(app: &TestApp) -> Staff {
    Staff {
        agent: token(&app.db, Role::Agent).await,
        dispatcher: token(&app.db, Role::Dispatcher).await,
        manager: token(&app.db, Role::Manager).await,
    }
}

/// A purchase date `days` before today in Asia/Shanghai, so warranty
/// answers do not depend on the day the tests run.
fn days_ago(days: i64) -> String {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    (today - chrono::Duration::days(days)).to_string()
}

fn onsite_job(address: &str) -> Value {
    json!({
        "kind": "onsite",
        "customer": {"name": "王芳", "phone": "13800001234", "tier": "standard"},
        "address": address,
        "product": "notebook",
        "purchase_date": days_ago(45),
        "problem": "屏幕不亮"
    })
}

#[tokio::test]
async fn an_agent_books_an_onsite_job_from_an_address_and_a_dispatcher_transfers_it() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let (st, job) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &s.agent,
        Some(onsite_job("绵阳涪城临园路")),
    )
    .await;
    assert_eq!(st, 201, "{job}");
    assert!(job["code"].as_str().unwrap().starts_with("RN-"));
    assert_eq!(job["division_adcode"], "510703");
    assert_eq!(job["region"], "southwest");
    // Bought 45 days ago: past 30 days, within 3 months → free repair.
    assert_eq!(
        job["warranty"]["decision"], "free_repair",
        "{}",
        job["warranty"]
    );
    assert!(job["due_at"].as_str().is_some());
    assert_eq!(job["status"], "assigned", "{job}");
    let a = &job["assignment"];
    assert!(a["technician_id"].as_i64().is_some());
    assert_eq!(
        a["station_id"],
        job["recommendation"]["candidates"][0]["station_id"]
    );
    let first_tech = a["technician_id"].as_i64().unwrap();

    // A transfer needs a reason; with one it goes to the next candidate.
    let other = job["recommendation"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["technician_id"].as_i64() != Some(first_tech))
        .expect("a second candidate near 绵阳")
        .clone();
    let path = format!("/api/v1/jobs/{}/assign", job["id"]);
    let (st, body) = call(
        &app,
        Method::POST,
        &path,
        &s.dispatcher,
        Some(json!({"technician_id": other["technician_id"]})),
    )
    .await;
    assert_eq!(st, 400, "{body}");
    let (st, body) = call(
        &app,
        Method::POST,
        &path,
        &s.agent,
        Some(json!({"technician_id": other["technician_id"], "reason": "x"})),
    )
    .await;
    assert_eq!(st, 403, "{body}");
    let (st, moved) = call(
        &app,
        Method::POST,
        &path,
        &s.dispatcher,
        Some(json!({"technician_id": other["technician_id"], "reason": "客户要求改期"})),
    )
    .await;
    assert_eq!(st, 200, "{moved}");
    assert_eq!(moved["assignment"]["technician_id"], other["technician_id"]);
    let transfer = moved["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "transfer")
        .expect("transfer logged");
    assert_eq!(transfer["reason"], "客户要求改期");
    assert!(!transfer["actor"].as_str().unwrap().is_empty());

    // The on-site flow, with an impossible step rejected.
    let ev = format!("/api/v1/jobs/{}/events", job["id"]);
    let (st, body) = call(
        &app,
        Method::POST,
        &ev,
        &s.dispatcher,
        Some(json!({"event": "repaired"})),
    )
    .await;
    assert_eq!(st, 409, "{body}");
    assert_eq!(error_code(&body), "transition_not_allowed");
    for e in ["en_route", "on_site", "repaired"] {
        let (st, body) = call(
            &app,
            Method::POST,
            &ev,
            &s.dispatcher,
            Some(json!({"event": e})),
        )
        .await;
        assert_eq!(st, 200, "{e}: {body}");
    }
    let (st, body) = call(
        &app,
        Method::POST,
        &ev,
        &s.dispatcher,
        Some(json!({"event": "follow_up", "satisfaction": 9})),
    )
    .await;
    assert_eq!(st, 400, "{body}");
    let (st, body) = call(
        &app,
        Method::POST,
        &ev,
        &s.dispatcher,
        Some(json!({"event": "follow_up", "satisfaction": 5})),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["satisfaction"], 5);
    let (st, body) = call(
        &app,
        Method::POST,
        &ev,
        &s.dispatcher,
        Some(json!({"event": "closed"})),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["status"], "closed");
    assert_eq!(body["sla"]["completion"]["state"], "met", "{}", body["sla"]);

    // Readers: manager can read, not create; anonymous gets 401.
    let (st, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/jobs/{}", job["code"].as_str().unwrap()),
        &s.manager,
        None,
    )
    .await;
    assert_eq!(st, 200);
    let (st, _) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &s.manager,
        Some(onsite_job("绵阳涪城")),
    )
    .await;
    assert_eq!(st, 403);
    let res = app
        .client
        .get(app.url("/api/v1/jobs"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_retried_intake_never_makes_a_second_job() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let send = |body: Value| {
        app.client
            .post(app.url("/api/v1/jobs"))
            .bearer_auth(&s.agent)
            .header("Idempotency-Key", "call-2026-11-23-0001")
            .json(&body)
            .send()
    };
    let first = send(onsite_job("郑州二七德化街")).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send(onsite_job("郑州二七德化街")).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["code"], again["code"]);
    let other = send(onsite_job("青岛崂山")).await.unwrap();
    assert_eq!(other.status(), 422);
    let (_, list) = call(&app, Method::GET, "/api/v1/jobs?limit=500", &s.agent, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn customers_track_their_own_job_and_learn_nothing_else() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let (_, job) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &s.agent,
        Some(onsite_job("成都武侯")),
    )
    .await;
    let code = job["code"].as_str().unwrap();
    let (st, t) = app
        .get_json(&format!("/api/v1/track?code={code}&phone_last4=1234"))
        .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["status"], job["status"]);
    let text = t.to_string();
    for secret in ["王芳", "13800001234", "屏幕不亮"] {
        assert!(!text.contains(secret), "tracking leaks {secret}");
    }
    let (s1, wrong) = app
        .get_json(&format!("/api/v1/track?code={code}&phone_last4=9999"))
        .await;
    let (s2, unknown) = app
        .get_json("/api/v1/track?code=RN-2222-2222&phone_last4=1234")
        .await;
    assert_eq!((s1, s2), (404, 404));
    assert_eq!(wrong, unknown);
    let (st, _) = app.get_json("/api/v1/track?code=RN-2222-2222").await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn warranty_check_follows_the_policy() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let ago = |d: i64| (today - chrono::Duration::days(d)).to_string();
    for (body, expected) in [
        (
            json!({"purchase_date": ago(3), "request": "no_reason_return", "item": {"resalable": true}}),
            "return",
        ),
        (
            json!({"purchase_date": ago(3), "request": "no_reason_return", "item": {"resalable": false}}),
            "none",
        ),
        (json!({"purchase_date": ago(10)}), "return"),
        (json!({"purchase_date": ago(20)}), "exchange"),
        (
            json!({"purchase_date": ago(20), "item": {"special_price": true}}),
            "free_repair",
        ),
        (json!({"purchase_date": ago(60)}), "free_repair"),
        (json!({"purchase_date": ago(200)}), "paid_repair"),
        (
            json!({"purchase_date": ago(5), "damage": "customer"}),
            "paid_repair",
        ),
    ] {
        let (st, d) = call(
            &app,
            Method::POST,
            "/api/v1/warranty/check",
            &s.agent,
            Some(body.clone()),
        )
        .await;
        assert_eq!(st, 200, "{body}: {d}");
        assert_eq!(d["decision"], expected, "{body}: {d}");
        assert!(!d["reason"].as_str().unwrap().is_empty());
    }
    let (st, d) = call(
        &app,
        Method::POST,
        "/api/v1/warranty/check",
        &s.agent,
        Some(json!({"purchase_date": ago(-2)})),
    )
    .await;
    assert_eq!(st, 400, "{d}");
    let (st, _) = call(
        &app,
        Method::POST,
        "/api/v1/warranty/check",
        &s.agent,
        Some(json!({"purchase_date": "yesterday"})),
    )
    .await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn carry_in_flow_notices_and_reasons_for_rejected_candidates() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let mut body = onsite_job("泸州江阳");
    body["kind"] = json!("carry_in");
    let (st, job) = call(&app, Method::POST, "/api/v1/jobs", &s.agent, Some(body)).await;
    assert_eq!(st, 201, "{job}");
    assert_eq!(job["status"], "received");
    assert!(job["station_id"].as_str().is_some());
    let ev = format!("/api/v1/jobs/{}/events", job["id"]);
    // The ready message is notice 1.
    for e in ["repairing", "ready_for_pickup"] {
        let (st, body) = call(
            &app,
            Method::POST,
            &ev,
            &s.dispatcher,
            Some(json!({"event": e})),
        )
        .await;
        assert_eq!(st, 200, "{e}: {body}");
    }
    // A second notice only three days after the first (the ready message); mailing back only after the third.
    let (st, body) = call(
        &app,
        Method::POST,
        &ev,
        &s.dispatcher,
        Some(json!({"event": "notified"})),
    )
    .await;
    assert_eq!(st, 409, "{body}");
    let (st, _) = call(
        &app,
        Method::POST,
        &ev,
        &s.dispatcher,
        Some(json!({"event": "mailed_back"})),
    )
    .await;
    assert_eq!(st, 409);
    let (st, body) = call(
        &app,
        Method::POST,
        &ev,
        &s.dispatcher,
        Some(json!({"event": "picked_up"})),
    )
    .await;
    assert_eq!(st, 200, "{body}");

    // Recommendation reasons for an on-site job: every rejected nearby
    // station or technician says why.
    let (st, job) = call(&app, Method::POST, "/api/v1/jobs", &s.agent,
        Some(json!({"kind": "onsite", "customer": {"name": "李", "phone": "13900000000"}, "address": "上海静安",
                    "product": "server", "purchase_date": "2026-11-01", "auto_assign": false}))).await;
    assert_eq!(st, 201, "{job}");
    assert_eq!(job["status"], "new");
    let rec = &job["recommendation"];
    let reasons: Vec<&str> = rec["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(!reasons.is_empty(), "{rec}");
    for r in &reasons {
        assert!([
            "out_of_radius",
            "no_onsite",
            "no_product",
            "no_skill",
            "off_duty",
            "full",
            "closed",
            "no_technicians"
        ]
        .contains(r));
    }
    assert!(
        reasons.contains(&"no_product") || reasons.contains(&"no_skill"),
        "{reasons:?}"
    );
}

/// One on-site station with technicians of the given capacities, on an
/// otherwise empty directory.
async fn small_network(app: &TestApp, s: &Staff, capacities: &[u32]) -> Vec<i64> {
    let station = json!({
        "id": "CAP1", "name": "容量测试站", "province": "四川省", "city": "成都市", "adcode": "510107",
        "lat": 30.64, "lon": 104.04, "services": ["onsite", "carry_in"], "products": ["notebook"],
        "opening_hours": "24/7", "onsite_radius_km": 50.0
    });
    let res = app
        .admin(Method::POST, "/api/v1/stations")
        .json(&station)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let mut ids = Vec::new();
    for (i, c) in capacities.iter().enumerate() {
        let (st, t) = call(app, Method::POST, "/api/v1/technicians", &s.dispatcher,
            Some(json!({"station_id": "CAP1", "name": format!("技师{i}"), "skills": ["notebook"], "daily_capacity": c}))).await;
        assert_eq!(st, 201, "{t}");
        ids.push(t["id"].as_i64().unwrap());
    }
    ids
}

fn job_at_cap1(i: usize) -> Value {
    json!({"kind": "onsite", "customer": {"name": format!("客户{i}"), "phone": format!("1380000{i:04}")},
           "lat": 30.65, "lon": 104.05, "product": "notebook", "purchase_date": "2026-11-01"})
}

async fn check_no_overbooking(apps: &[&TestApp], s: &Staff, capacity: usize, n: usize) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let app = apps[i % apps.len()];
            let req = app
                .client
                .post(app.url("/api/v1/jobs"))
                .bearer_auth(&s.agent)
                .json(&job_at_cap1(i))
                .send();
            tokio::spawn(async move {
                let res = req.await.unwrap();
                let st = res.status().as_u16();
                (st, res.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut assigned = 0;
    let mut ids = Vec::new();
    for t in tasks {
        let (st, body) = t.await.unwrap();
        assert_eq!(st, 201, "{body}");
        if !body["assignment"].is_null() {
            assigned += 1;
        }
        ids.push(body["id"].as_i64().unwrap());
    }
    assert_eq!(
        assigned, capacity,
        "assigned {assigned} jobs on a capacity of {capacity}"
    );
    let app = apps[0];
    for id in ids {
        let (st, _) = call(
            app,
            Method::GET,
            &format!("/api/v1/jobs/{id}"),
            &s.agent,
            None,
        )
        .await;
        assert_eq!(st, 200, "job {id} answered 201 but cannot be read");
    }
    let (_, list) = call(app, Method::GET, "/api/v1/jobs?limit=500", &s.agent, None).await;
    let mut per_tech = std::collections::HashMap::<i64, usize>::new();
    for j in list["items"].as_array().unwrap() {
        if let Some(t) = j["assignment"]["technician_id"].as_i64() {
            *per_tech.entry(t).or_default() += 1;
        }
    }
    assert!(per_tech.values().all(|&n| n <= 3), "{per_tech:?}");
}

async fn concurrent_intakes_never_overbook(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        Options {
            demo: false,
            ..Default::default()
        },
    )
    .await
    else {
        return;
    };
    let s = staff(&app).await;
    small_network(&app, &s, &[3, 3]).await;
    check_no_overbooking(&[&app], &s, 6, 200).await;
}
on_both_backends!(concurrent_intakes_never_overbook);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_never_overbook() {
    let Some(a) = spawn_app_with(
        Backend::Postgres,
        Options {
            demo: false,
            ..Default::default()
        },
    )
    .await
    else {
        return;
    };
    let b = spawn_on_url(
        &a.database_url,
        Options {
            demo: false,
            ..Default::default()
        },
    )
    .await;
    let s = staff(&a).await;
    small_network(&a, &s, &[3, 3]).await;
    // Process B learns of the new station through NOTIFY / polling.
    for _ in 0..50 {
        if b.get("/api/v1/stations/CAP1").await.status() == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    check_no_overbooking(&[&a, &b], &s, 6, 200).await;
}

#[tokio::test]
async fn the_optimiser_assigns_waiting_jobs_within_capacity() {
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            demo: false,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let s = staff(&app).await;
    let techs = small_network(&app, &s, &[2, 1]).await;
    for i in 0..5 {
        let mut j = job_at_cap1(i);
        j["auto_assign"] = json!(false);
        let (st, body) = call(&app, Method::POST, "/api/v1/jobs", &s.agent, Some(j)).await;
        assert_eq!(st, 201, "{body}");
    }
    let (st, dry) = call(
        &app,
        Method::POST,
        "/api/v1/dispatch/optimize",
        &s.dispatcher,
        Some(json!({"apply": false})),
    )
    .await;
    assert_eq!(st, 200, "{dry}");
    assert_eq!(dry["assignments"].as_array().unwrap().len(), 3);
    assert_eq!(dry["unassigned"].as_array().unwrap().len(), 2);
    assert!(dry["unassigned"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["reason"] == "capacity_exhausted"));
    let (_, list) = call(
        &app,
        Method::GET,
        "/api/v1/jobs?unassigned=true",
        &s.agent,
        None,
    )
    .await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        5,
        "a dry run wrote something"
    );

    let (st, _) = call(
        &app,
        Method::POST,
        "/api/v1/dispatch/optimize",
        &s.agent,
        Some(json!({"apply": true})),
    )
    .await;
    assert_eq!(st, 403);
    let (st, done) = call(
        &app,
        Method::POST,
        "/api/v1/dispatch/optimize",
        &s.dispatcher,
        Some(json!({"apply": true})),
    )
    .await;
    assert_eq!(st, 200, "{done}");
    assert_eq!(done["applied_count"], 3);
    let (_, list) = call(
        &app,
        Method::GET,
        "/api/v1/jobs?unassigned=true",
        &s.agent,
        None,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (_, mine) = call(
        &app,
        Method::GET,
        &format!("/api/v1/jobs?technician_id={}", techs[0]),
        &s.agent,
        None,
    )
    .await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);

    // Off duty: recommendations say so.
    let (st, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/technicians/{}", techs[1]),
        &s.dispatcher,
        Some(json!({"on_duty": false})),
    )
    .await;
    assert_eq!(st, 200);
    let id = list["items"][0]["id"].as_i64().unwrap();
    let (_, rec) = call(
        &app,
        Method::GET,
        &format!("/api/v1/jobs/{id}/recommendation"),
        &s.agent,
        None,
    )
    .await;
    let reasons: Vec<&str> = rec["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"off_duty") && reasons.contains(&"full"),
        "{rec}"
    );
    assert!(rec["candidates"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_agent_offers_slots_and_books_one_with_the_job() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let (st, body) = call(
        &app,
        Method::GET,
        "/api/v1/slots?address=%E6%88%90%E9%83%BD%E6%AD%A6%E4%BE%AF&product=notebook&days=2",
        &s.agent,
        None,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let slots = body["slots"].as_array().unwrap();
    assert!(!slots.is_empty());
    let tomorrow = (chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        + chrono::Duration::days(1))
    .to_string();
    let slot = slots
        .iter()
        .find(|s| s["date"] == tomorrow.as_str() && s["period"] == "pm")
        .expect("a slot tomorrow afternoon");
    assert!(slot["remaining"].as_u64().unwrap() >= 1);
    let mut job = onsite_job("成都武侯");
    job["slot"] = json!({"date": tomorrow, "period": "pm"});
    let (st, created) = call(&app, Method::POST, "/api/v1/jobs", &s.agent, Some(job)).await;
    assert_eq!(st, 201, "{created}");
    assert_eq!(created["assignment"]["day"], tomorrow.as_str());
    assert_eq!(created["assignment"]["period"], "pm");
    let (st, _) = call(
        &app,
        Method::GET,
        "/api/v1/slots?address=%E6%88%90%E9%83%BD&product=toaster",
        &s.agent,
        None,
    )
    .await;
    assert_eq!(st, 400);
    let (st, _) = call(
        &app,
        Method::GET,
        "/api/v1/slots?address=%E6%88%90%E9%83%BD&product=notebook",
        &s.manager,
        None,
    )
    .await;
    assert_eq!(st, 403);
}

/// One merge patch (RFC 7396) for stations and technicians: `null` removes
/// a member, so an optional field falls back to its default.
async fn merge_patch_null_removes_optional_fields(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    let s = staff(&app).await;
    // A station with both services drops on-site: the radius goes with it.
    let (_, list) = app
        .get_json("/api/v1/stations?service=onsite&limit=200")
        .await;
    let both = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["services"].as_array().unwrap().len() == 2)
        .expect("a station offering both services")
        .clone();
    let id = both["id"].as_str().unwrap();
    let path = format!("/api/v1/stations/{id}");
    let res = app
        .admin(Method::PATCH, &path)
        .json(&json!({"services": ["carry_in"], "onsite_radius_km": null, "phone": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, st) = app.get_json(&path).await;
    assert_eq!(st["services"], json!(["carry_in"]));
    assert!(st["onsite_radius_km"].is_null(), "{st}");
    assert_eq!(st["phone"], "");
    assert_eq!(st["name"], both["name"], "untouched fields stay");

    // A technician taken off duty, then `on_duty: null`: back to the default.
    let (_, techs) = call(
        &app,
        Method::GET,
        "/api/v1/technicians",
        &s.dispatcher,
        None,
    )
    .await;
    // One of another station: the one above no longer comes on site.
    let tech = techs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["station_id"] != id)
        .unwrap();
    let tid = tech["id"].as_i64().unwrap();
    let tpath = format!("/api/v1/technicians/{tid}");
    let (st, t) = call(
        &app,
        Method::PATCH,
        &tpath,
        &s.dispatcher,
        Some(json!({"on_duty": false})),
    )
    .await;
    assert_eq!((st, &t["on_duty"]), (200, &json!(false)), "{t}");
    let (st, t) = call(
        &app,
        Method::PATCH,
        &tpath,
        &s.dispatcher,
        Some(json!({"on_duty": null})),
    )
    .await;
    assert_eq!((st, &t["on_duty"]), (200, &json!(true)), "{t}");
    // A required field cannot be removed: 400, and nothing changes.
    let (st, e) = call(
        &app,
        Method::PATCH,
        &tpath,
        &s.dispatcher,
        Some(json!({"name": null, "on_duty": false})),
    )
    .await;
    assert_eq!(st, 400, "{e}");
    let (_, techs) = call(
        &app,
        Method::GET,
        "/api/v1/technicians",
        &s.dispatcher,
        None,
    )
    .await;
    let after = techs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == tid)
        .unwrap();
    assert_eq!(after["on_duty"], true);
}
on_both_backends!(merge_patch_null_removes_optional_fields);

/// Every `*_id` key found anywhere in `v`, with the JSON type of its value.
fn id_types(
    v: &Value,
    out: &mut std::collections::BTreeMap<String, std::collections::BTreeSet<&'static str>>,
) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k.ends_with("_id") && !x.is_null() {
                    let t = match x {
                        Value::Number(_) => "number",
                        Value::String(_) => "string",
                        _ => "other",
                    };
                    out.entry(k.clone()).or_default().insert(t);
                }
                id_types(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| id_types(x, out)),
        _ => {}
    }
}

/// An id has one JSON type everywhere: a technician id or a job id is a
/// number in every answer (jobs, lists, recommendations, slots, the
/// technician's day, the optimiser) and the same number is accepted back
/// in requests; station ids are strings everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_have_one_json_type_in_every_answer() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let (st, job) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &s.agent,
        Some(onsite_job("绵阳涪城临园路")),
    )
    .await;
    assert_eq!(st, 201, "{job}");
    let mut waiting = onsite_job("绵阳涪城临园路");
    waiting["auto_assign"] = json!(false);
    let (st, _) = call(&app, Method::POST, "/api/v1/jobs", &s.agent, Some(waiting)).await;
    assert_eq!(st, 201);
    let id = job["id"].clone();
    let tech = job["assignment"]["technician_id"].clone();
    let mut answers = vec![job.clone()];
    for path in [
        format!("/api/v1/jobs/{id}"),
        "/api/v1/jobs".to_owned(),
        "/api/v1/jobs?unassigned=true".to_owned(),
        format!("/api/v1/jobs/{id}/recommendation"),
        format!("/api/v1/jobs/{id}/notifications"),
        "/api/v1/technicians?station_id=".to_owned()
            + job["assignment"]["station_id"].as_str().unwrap(),
        format!("/api/v1/technicians/{tech}/day"),
        format!("/api/v1/jobs?technician_id={tech}"),
        "/api/v1/slots?address=绵阳涪城临园路&product=notebook".to_owned(),
        "/api/v1/stations/nearest?lat=31.46&lon=104.75&k=3".to_owned(),
    ] {
        let (st, body) = call(&app, Method::GET, &path, &s.dispatcher, None).await;
        assert_eq!(st, 200, "{path}: {body}");
        answers.push(body);
    }
    let (st, opt) = call(
        &app,
        Method::POST,
        "/api/v1/dispatch/optimize",
        &s.dispatcher,
        Some(json!({"apply": false})),
    )
    .await;
    assert_eq!(st, 200, "{opt}");
    answers.push(opt);
    let mut types = std::collections::BTreeMap::new();
    for a in &answers {
        id_types(a, &mut types);
    }
    for key in ["technician_id", "job_id", "station_id"] {
        assert!(types.contains_key(key), "no {key} seen in {types:?}");
    }
    for (key, t) in &types {
        assert_eq!(t.len(), 1, "{key} comes as {t:?}");
        let expected = if key.starts_with("station") || key == "token_id" {
            "string"
        } else {
            "number"
        };
        if ["technician_id", "job_id", "station_id"].contains(&key.as_str()) {
            assert!(t.contains(expected), "{key} comes as {t:?}");
        }
    }
    assert!(id.is_number() && tech.is_number(), "{id} {tech}");
    // The same values go back in requests as they came.
    let (st, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/jobs/{id}/assign"),
        &s.dispatcher,
        Some(json!({"technician_id": tech, "reason": "同一技师"})),
    )
    .await;
    assert!(st == 200 || st == 409, "{st} {body}");
}
