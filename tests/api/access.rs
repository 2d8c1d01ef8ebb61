//! Roles and scopes, walked as a table: every protected endpoint with
//! tokens of each role and scope, and the status each must get. Outside a
//! token's scope is a 404, as if the object did not exist.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use repairnet::auth::{hash_token, new_token, Role, Scope};
use repairnet::dispatch::model::TechnicianId;
use repairnet::network::StationId;
use repairnet::places::Region;
use repairnet::store::tokens::{self, NewToken};

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn onsite(address: &str, phone: &str) -> Value {
    let bought = (chrono::Utc::now() - chrono::Duration::days(40)).date_naive();
    json!({"kind": "onsite", "customer": {"name": "王芳", "phone": phone},
           "address": address, "product": "notebook", "purchase_date": bought.to_string(), "problem": "不开机"})
}

/// An assigned on-site job: (code, station id, technician id).
async fn assigned_job(
    app: &TestApp,
    agent: &str,
    address: &str,
    phone: &str,
) -> (String, String, i64) {
    let (st, job) = send(
        app,
        Method::POST,
        "/api/v1/jobs",
        Some(agent),
        Some(&onsite(address, phone)),
    )
    .await;
    assert_eq!(st, 201, "{job}");
    let a = &job["assignment"];
    assert!(a.is_object(), "the demo network covers {address}: {job}");
    (
        job["code"].as_str().unwrap().to_owned(),
        a["station_id"].as_str().unwrap().to_owned(),
        a["technician_id"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn every_endpoint_answers_each_role_and_scope_as_the_contract_says() {
    let app = spawn_app().await;
    let db = &app.db;
    let agent = token(db, Role::Agent).await;
    let (a_code, a_station, a_tech) =
        assigned_job(&app, &agent, "绵阳涪城临园路", "13800001111").await;
    let (b_code, b_station, b_tech) = assigned_job(&app, &agent, "上海静安", "13800002222").await;
    assert_ne!(a_station, b_station);
    let st = |s: &str| StationId::parse(s).unwrap();
    let tech = |t: i64| TechnicianId::new(t).unwrap();

    let dispatcher = token(db, Role::Dispatcher).await;
    let manager = token(db, Role::Manager).await;
    let admin = app.admin_token.clone();
    let parts = token(db, Role::Parts).await;
    let sw = scoped_token(db, Role::Dispatcher, Scope::Region(Region::Southwest)).await;
    let east = scoped_token(db, Role::Dispatcher, Scope::Region(Region::East)).await;
    let at_a = scoped_token(db, Role::Dispatcher, Scope::Station(st(&a_station))).await;
    let at_b = scoped_token(db, Role::Dispatcher, Scope::Station(st(&b_station))).await;
    let tech_a = scoped_token(db, Role::Technician, Scope::Technician(tech(a_tech))).await;
    let tech_b = scoped_token(db, Role::Technician, Scope::Technician(tech(b_tech))).await;
    let admin_east = scoped_token(db, Role::Admin, Scope::Region(Region::East)).await;

    let tokens: Vec<(&str, Option<&str>)> = vec![
        ("none", None),
        ("agent", Some(&agent)),
        ("dispatcher", Some(&dispatcher)),
        ("manager", Some(&manager)),
        ("admin", Some(&admin)),
        ("parts", Some(&parts)),
        ("disp@southwest", Some(&sw)),
        ("disp@east", Some(&east)),
        ("disp@stationA", Some(&at_a)),
        ("disp@stationB", Some(&at_b)),
        ("tech A", Some(&tech_a)),
        ("tech B", Some(&tech_b)),
        ("admin@east", Some(&admin_east)),
    ];
    let job_a = format!("/api/v1/jobs/{a_code}");
    let job_b = format!("/api/v1/jobs/{b_code}");
    let events_a = format!("{job_a}/events");
    let assign_a = format!("{job_a}/assign");
    let rec_a = format!("{job_a}/recommendation");
    let patch_tech_a = format!("/api/v1/technicians/{a_tech}");
    let station_a = format!("/api/v1/stations/{a_station}");
    let day_a = format!("/api/v1/technicians/{a_tech}/day");
    let messages_a = format!("{job_a}/notifications");
    let recontact_a = format!("{job_a}/recontact");
    let note = json!({"note": "回访"});
    // Requests chosen so that an allowed caller gets a stable answer that
    // changes nothing: `repaired` from `assigned` is refused by the state
    // machine (409), assigning the same technician again is a 409, an empty
    // merge patch changes nothing.
    let repaired = json!({"event": "repaired"});
    let same_tech = json!({"technician_id": a_tech, "reason": "再派"});
    let nothing = json!({});
    let dry_run_sw = json!({"region": "southwest", "apply": false});
    let warranty = json!({"purchase_date": "2026-11-01"});
    let new_job = onsite("成都武侯", "13800003333");

    type Row<'a> = (Method, &'a str, Option<&'a Value>, [u16; 13]);
    //                                                  none agent disp mgr admin parts sw  east stA  stB  tA   tB  adm@e
    let table: Vec<Row> = vec![
        (
            Method::GET,
            job_a.as_str(),
            None,
            [
                401, 200, 200, 200, 200, 403, 200, 404, 200, 404, 200, 404, 404,
            ],
        ),
        (
            Method::GET,
            job_b.as_str(),
            None,
            [
                401, 200, 200, 200, 200, 403, 404, 200, 404, 200, 404, 200, 200,
            ],
        ),
        (
            Method::POST,
            events_a.as_str(),
            Some(&repaired),
            [
                401, 403, 409, 403, 409, 403, 409, 404, 409, 404, 409, 404, 404,
            ],
        ),
        (
            Method::POST,
            assign_a.as_str(),
            Some(&same_tech),
            [
                401, 403, 409, 403, 409, 403, 409, 404, 409, 404, 403, 403, 404,
            ],
        ),
        (
            Method::GET,
            rec_a.as_str(),
            None,
            [
                401, 200, 200, 403, 200, 403, 200, 404, 200, 404, 403, 403, 404,
            ],
        ),
        (
            Method::GET,
            "/api/v1/technicians",
            None,
            [
                401, 200, 200, 200, 200, 403, 200, 200, 200, 200, 403, 403, 200,
            ],
        ),
        (
            Method::PATCH,
            patch_tech_a.as_str(),
            Some(&nothing),
            [
                401, 403, 200, 403, 200, 403, 200, 404, 200, 404, 403, 403, 404,
            ],
        ),
        (
            Method::POST,
            "/api/v1/dispatch/optimize",
            Some(&dry_run_sw),
            [
                401, 403, 200, 403, 200, 403, 200, 404, 200, 200, 403, 403, 404,
            ],
        ),
        (
            Method::POST,
            "/api/v1/warranty/check",
            Some(&warranty),
            [
                401, 200, 200, 403, 200, 403, 200, 200, 200, 200, 403, 403, 200,
            ],
        ),
        (
            Method::GET,
            day_a.as_str(),
            None,
            [
                401, 403, 200, 200, 200, 403, 200, 404, 200, 404, 200, 404, 404,
            ],
        ),
        (
            Method::GET,
            messages_a.as_str(),
            None,
            [
                401, 200, 200, 200, 200, 403, 200, 404, 200, 404, 403, 403, 404,
            ],
        ),
        (
            Method::POST,
            recontact_a.as_str(),
            Some(&note),
            [
                401, 409, 409, 403, 409, 403, 409, 404, 409, 404, 403, 403, 404,
            ],
        ),
        (
            Method::GET,
            "/api/v1/tokens",
            None,
            [
                401, 403, 403, 403, 200, 403, 403, 403, 403, 403, 403, 403, 403,
            ],
        ),
        (
            Method::DELETE,
            "/api/v1/tokens/nope",
            None,
            [
                401, 403, 403, 403, 404, 403, 403, 403, 403, 403, 403, 403, 403,
            ],
        ),
        (
            Method::PATCH,
            station_a.as_str(),
            Some(&nothing),
            [
                401, 403, 403, 403, 200, 403, 403, 403, 403, 403, 403, 403, 404,
            ],
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(&new_job),
            [
                401, 201, 201, 403, 201, 403, 201, 201, 201, 201, 403, 403, 201,
            ],
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, body, expected) in &table {
        for ((name, tok), want) in tokens.iter().zip(expected) {
            let (got, answer) = send(&app, method.clone(), path, *tok, *body).await;
            if got != *want {
                wrong.push(format!(
                    "{method} {path} as {name}: {got}, expected {want} ({answer})"
                ));
            }
            if got >= 400 {
                assert!(
                    answer["error"]["code"].is_string(),
                    "{method} {path} as {name}: {answer}"
                );
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Lists hold exactly what the scope sees.
    let codes = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["code"].as_str().unwrap().to_owned())
            .collect()
    };
    for (tok, sees_a, sees_b) in [
        (&sw, true, false),
        (&east, false, true),
        (&at_a, true, false),
        (&tech_b, false, true),
        (&dispatcher, true, true),
    ] {
        let (s, list) = send(
            &app,
            Method::GET,
            "/api/v1/jobs?status=open&limit=500",
            Some(tok),
            None,
        )
        .await;
        assert_eq!(s, 200);
        let codes = codes(&list);
        assert_eq!(codes.contains(&a_code), sees_a, "{codes:?}");
        assert_eq!(codes.contains(&b_code), sees_b, "{codes:?}");
    }
    // Asking a region outside the scope finds nothing.
    let (_, list) = send(
        &app,
        Method::GET,
        "/api/v1/jobs?region=east",
        Some(&sw),
        None,
    )
    .await;
    assert!(codes(&list).is_empty());
    // A technician sees only their own technicians' list entry when scoped... they may not list at all.
    let (s, techs) = send(&app, Method::GET, "/api/v1/technicians", Some(&at_a), None).await;
    assert_eq!(s, 200);
    assert!(techs["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["station_id"] == a_station.as_str()));

    // A technician works their own visit: en route is accepted.
    let (s, job) = send(
        &app,
        Method::POST,
        &events_a,
        Some(&tech_a),
        Some(&json!({"event": "en_route"})),
    )
    .await;
    assert_eq!(
        (s, job["status"].as_str()),
        (200, Some("en_route")),
        "{job}"
    );
    // ...but may not close or cancel it.
    let (s, e) = send(
        &app,
        Method::POST,
        &events_a,
        Some(&tech_a),
        Some(&json!({"event": "cancelled", "reason": "x"})),
    )
    .await;
    assert_eq!(s, 403, "{e}");
}

#[tokio::test]
async fn revoked_and_expired_tokens_are_refused_and_the_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let agent = token(&app.db, Role::Agent).await;
    let path = "/api/v1/technicians";
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let res = app
            .client
            .get(app.url(path))
            .header("Authorization", format!("{scheme} {agent}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
    }
    // An expired token is a 401.
    let t = new_token();
    let hash = hash_token(&t);
    tokens::insert(
        &app.db,
        &NewToken {
            hash: &hash,
            role: Role::Agent,
            scope: Scope::All,
            label: "old",
            expires_at: Some(chrono::Utc::now() - chrono::Duration::minutes(1)),
        },
    )
    .await
    .unwrap();
    let (s, e) = send(&app, Method::GET, path, Some(&t), None).await;
    assert_eq!(s, 401, "{e}");

    // The admin lists tokens without secrets and revokes the agent's.
    let (s, list) = send(
        &app,
        Method::GET,
        "/api/v1/tokens",
        Some(&app.admin_token),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let text = list.to_string();
    assert!(
        !text.contains(&agent) && !text.contains(&hash_token(&agent)),
        "secrets never listed"
    );
    let items = list["items"].as_array().unwrap();
    assert!(items.iter().all(|i| [
        "id",
        "role",
        "scope",
        "label",
        "created_at",
        "expires_at",
        "revoked"
    ]
    .iter()
    .all(|k| i.get(k).is_some())));
    let old = items.iter().find(|i| i["label"] == "old").unwrap();
    assert!(old["expires_at"].is_string());
    let agent_id = tokens::find(&app.db, &hash_token(&agent))
        .await
        .unwrap()
        .unwrap()
        .id;
    let (s, _) = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/tokens/{agent_id}"),
        Some(&app.admin_token),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, e) = send(&app, Method::GET, path, Some(&agent), None).await;
    assert_eq!(s, 401, "a revoked token: {e}");
    let (_, list) = send(
        &app,
        Method::GET,
        "/api/v1/tokens",
        Some(&app.admin_token),
        None,
    )
    .await;
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == agent_id.as_str() && i["revoked"] == true));
}

#[tokio::test]
async fn a_page_learns_its_tokens_role_and_scope() {
    let app = spawn_app().await;
    let sw = scoped_token(&app.db, Role::Dispatcher, Scope::Region(Region::Southwest)).await;
    let (s, me) = send(&app, Method::GET, "/api/v1/session", Some(&sw), None).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["role"], "dispatcher");
    assert_eq!(me["scope"], json!({"kind": "region", "id": "southwest"}));
    assert_eq!(me["label"], "test");
    let (s, _) = send(&app, Method::GET, "/api/v1/session", None, None).await;
    assert_eq!(s, 401);
}
