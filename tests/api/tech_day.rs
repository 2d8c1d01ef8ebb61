//! A technician's day over the API: visits in driving order from the
//! station, map-app links, and events replayed with the same key.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use repairnet::auth::{Role, Scope};
use repairnet::dispatch::TechnicianId;

fn onsite(address: &str, phone: &str) -> Value {
    json!({"kind": "onsite", "customer": {"name": "周杰", "phone": phone}, "address": address,
           "product": "notebook", "purchase_date": "2026-10-20", "problem": "无法开机"})
}

/// Three visits of one technician on one day: the day endpoint lists each
/// once, starting at the station, with legs that add up; a replayed event
/// writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technicians_day_is_ordered_and_events_replay_safely() {
    let app = spawn_app().await;
    let agent = token(&app.db, Role::Agent).await;
    let dispatcher = token(&app.db, Role::Dispatcher).await;
    let (st, first) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(onsite("北京市朝阳区建国路88号", "13500000001")),
    )
    .await;
    assert_eq!(st, 201, "{first}");
    let tech = first["assignment"]["technician_id"].as_i64().unwrap();
    let day = first["assignment"]["day"].as_str().unwrap().to_owned();
    let mut codes = vec![first["code"].as_str().unwrap().to_owned()];
    for (i, addr) in ["北京市海淀区中关村大街1号", "北京市东城区王府井大街1号"]
        .iter()
        .enumerate()
    {
        let mut body = onsite(addr, &format!("1350000001{i}"));
        body["auto_assign"] = json!(false);
        // The afternoon window of the service day is always still bookable.
        body["slot"] = json!({"date": day, "period": "pm"});
        let (st, j) = call(&app, Method::POST, "/api/v1/jobs", &agent, Some(body)).await;
        assert_eq!(st, 201, "{j}");
        let (st, j) = call(
            &app,
            Method::POST,
            &format!("/api/v1/jobs/{}/assign", j["id"]),
            &dispatcher,
            Some(json!({"technician_id": tech})),
        )
        .await;
        assert_eq!(st, 200, "{j}");
        assert_eq!(j["assignment"]["day"], day.as_str(), "{j}");
        codes.push(j["code"].as_str().unwrap().to_owned());
    }
    let me = scoped_token(
        &app.db,
        Role::Technician,
        Scope::Technician(TechnicianId::new(tech).unwrap()),
    )
    .await;
    let path = format!("/api/v1/technicians/{tech}/day?date={day}");
    let (st, d) = call(&app, Method::GET, &path, &me, None).await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["route_method"], "exact");
    assert_eq!(d["travel_source"], "haversine");
    let visits = d["visits"].as_array().unwrap();
    let mut listed: Vec<String> = visits
        .iter()
        .map(|v| v["job"]["code"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    codes.sort();
    assert_eq!(listed, codes);
    let legs: f64 = visits
        .iter()
        .map(|v| v["travel_minutes"].as_f64().unwrap())
        .sum();
    assert!((legs - d["total_travel_minutes"].as_f64().unwrap()).abs() < 1e-9);
    for v in visits {
        let nav = &v["navigation"];
        assert!(nav["geo"].as_str().unwrap().starts_with("geo:"), "{nav}");
        assert!(
            nav["amap"]
                .as_str()
                .unwrap()
                .starts_with("https://uri.amap.com/marker?position="),
            "{nav}"
        );
        assert!(
            nav["baidu"].as_str().unwrap().contains("coord_type=bd09ll"),
            "{nav}"
        );
        // GCJ-02 and BD-09 are offset from WGS-84 in mainland China.
        assert!(
            (nav["gcj02"]["lat"].as_f64().unwrap() - v["job"]["lat"].as_f64().unwrap()).abs()
                > 1e-4
        );
    }
    let a_day_later = format!("/api/v1/technicians/{tech}/day?date=2999-01-01");
    let (st, empty) = call(&app, Method::GET, &a_day_later, &me, None).await;
    assert_eq!(st, 200);
    assert_eq!(empty["visits"], json!([]));
    let (st, e) = call(
        &app,
        Method::GET,
        &format!("/api/v1/technicians/{tech}/day?date=tomorrow"),
        &me,
        None,
    )
    .await;
    assert_eq!(st, 400, "{e}");

    // The same en_route sent twice with one key: one audit entry.
    let id = visits[0]["job"]["id"].as_i64().unwrap();
    let events = format!("/api/v1/jobs/{id}/events");
    for (key, body) in [
        (Some("tech-1-en-route"), json!({"event": "en_route"})),
        (Some("tech-1-en-route"), json!({"event": "en_route"})),
        (Some("tech-1-on-site"), json!({"event": "on_site"})),
    ] {
        let (st, v) = post_keyed(&app, &me, &events, key, body).await;
        assert_eq!(st, 200, "{v}");
    }
    let (st, j) = post_keyed(
        &app,
        &me,
        &events,
        None,
        json!({"event": "repaired", "note": "更换电源适配器"}),
    )
    .await;
    assert_eq!(st, 200, "{j}");
    let names: Vec<&str> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "en_route").count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        j["events"].as_array().unwrap().last().unwrap()["data"]["note"],
        "更换电源适配器"
    );
    // A note that is not text is refused, and nothing is written.
    let (st, e) = call(
        &app,
        Method::POST,
        &events,
        &dispatcher,
        Some(json!({"event": "closed", "note": 5})),
    )
    .await;
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["error"]["details"]["fields"][0]["field"], "note", "{e}");
    let (_, after) = call(
        &app,
        Method::GET,
        &format!("/api/v1/jobs/{id}"),
        &dispatcher,
        None,
    )
    .await;
    assert_eq!(after["status"], "repaired");
}

/// A POST with an optional `Idempotency-Key`: the status and the answer.
async fn post_keyed(
    app: &TestApp,
    token: &str,
    path: &str,
    key: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let res = req.send().await.unwrap();
    let st = res.status().as_u16();
    (st, res.json().await.unwrap_or(Value::Null))
}
