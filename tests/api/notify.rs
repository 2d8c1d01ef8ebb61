//! Customer messages: the outbox, the webhook, the scheduler, the survey.
//!
//! A local HTTP server stands in for the SMS gateway: it can refuse the
//! first tries of every message (to prove retries) and counts messages
//! accepted more than once. Time moves on a manual clock; the tests wait
//! for the server's own workers by polling, never for days.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use repairnet::auth::Role;
use repairnet::basic::{Clock, ManualClock};

/// What the stand-in gateway saw.
#[derive(Default)]
struct Seen {
    /// Refuse this many tries of each message before accepting it.
    fail_first: u32,
    tries: HashMap<String, u32>,
    /// Accepted messages' bodies, in order.
    accepted: Vec<Value>,
    accepted_per_key: HashMap<String, u32>,
}

struct Gateway {
    url: String,
    seen: Arc<Mutex<Seen>>,
}

impl Gateway {
    fn start(fail_first: u32) -> Gateway {
        let seen = Arc::new(Mutex::new(Seen {
            fail_first,
            ..Seen::default()
        }));
        let data = web::Data::new(seen.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/sms", web::post().to(receive))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Gateway {
            url: format!("http://127.0.0.1:{port}/sms"),
            seen,
        }
    }

    fn accepted(&self) -> Vec<Value> {
        self.seen.lock().unwrap().accepted.clone()
    }

    fn templates(&self) -> Vec<String> {
        self.accepted()
            .iter()
            .map(|m| m["template"].as_str().unwrap().to_owned())
            .collect()
    }

    fn duplicates(&self) -> Vec<String> {
        let s = self.seen.lock().unwrap();
        s.accepted_per_key
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

async fn receive(
    req: HttpRequest,
    body: web::Json<Value>,
    seen: web::Data<Arc<Mutex<Seen>>>,
) -> HttpResponse {
    let key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut s = seen.lock().unwrap();
    let tries = s.tries.entry(key.clone()).or_default();
    *tries += 1;
    if *tries <= s.fail_first {
        return HttpResponse::ServiceUnavailable().finish();
    }
    assert_eq!(
        body["id"].as_str(),
        Some(key.as_str()),
        "the key is the message id"
    );
    s.accepted.push(body.into_inner());
    *s.accepted_per_key.entry(key).or_default() += 1;
    HttpResponse::Ok().finish()
}

/// Moves the clock 30 s at a time (so retries come due; well inside a
/// claim's lease, so an answer in flight is never taken for a lost one)
/// until the gateway has accepted `n` messages; fails after five
/// simulated hours.
async fn until_accepted(gw: &Gateway, clock: &ManualClock, n: usize) {
    for _ in 0..600 {
        if gw.accepted().len() >= n {
            return;
        }
        clock.advance(chrono::Duration::seconds(30));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "the gateway accepted {} messages, expected {n}: {:?}",
        gw.accepted().len(),
        gw.templates()
    );
}

/// Waits (real time, polling) until `f` holds; fails after 10 s.
async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Monday 2026-12-07 10:00 in Shanghai.
const MONDAY: &str = "2026-12-07T02:00:00Z";

fn carry_in(phone: &str) -> Value {
    json!({"kind": "carry_in", "customer": {"name": "李雷", "phone": phone},
           "address": "北京市朝阳区建国路88号", "product": "notebook",
           "purchase_date": "2026-10-20", "problem": "键盘失灵"})
}

async fn app_with_gateway(
    backend: Backend,
    clock: &Arc<ManualClock>,
    gw: &Gateway,
) -> Option<TestApp> {
    spawn_app_with(
        backend,
        Options {
            clock: Some(clock.clone()),
            webhook: Some(gw.url.clone()),
            scheduler_ms: Some(50),
            ..Options::default()
        },
    )
    .await
}

async fn post(app: &TestApp, token: &str, id: i64, body: Value) -> Value {
    let (st, v) = call(
        app,
        Method::POST,
        &format!("/api/v1/jobs/{id}/events"),
        token,
        Some(body),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    v
}

async fn job(app: &TestApp, token: &str, id: i64) -> Value {
    let (st, v) = call(app, Method::GET, &format!("/api/v1/jobs/{id}"), token, None).await;
    assert_eq!(st, 200, "{v}");
    v
}

fn tasks(job: &Value) -> Vec<String> {
    job["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task"].as_str().unwrap().to_owned())
        .collect()
}

/// The whole carry-in story: created → ready (notice 1) → reminder after 3
/// days → again → a mail-back task 3 days after the third → mailed back and
/// the survey link; every message tried three times (the gateway refuses
/// two) and accepted exactly once.
async fn carry_in_messages_reminders_and_mail_back(backend: Backend) {
    let clock = Arc::new(ManualClock::new(MONDAY.parse().unwrap()));
    let gw = Gateway::start(2);
    let Some(app) = app_with_gateway(backend, &clock, &gw).await else {
        return;
    };
    let agent = token(&app.db, Role::Agent).await;
    let dispatcher = token(&app.db, Role::Dispatcher).await;
    let (st, created) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(carry_in("13912345678")),
    )
    .await;
    assert_eq!(st, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    let code = created["code"].as_str().unwrap().to_owned();

    until_accepted(&gw, &clock, 1).await;
    let first = &gw.accepted()[0];
    assert_eq!(first["template"], "job_created");
    assert_eq!(first["to"], "13912345678");
    assert_eq!(first["channel"], "sms");
    assert_eq!(first["job_code"], code.as_str());
    let text = first["text"].as_str().unwrap();
    assert!(
        text.contains(&code) && text.contains("/track?code="),
        "{text}"
    );

    post(&app, &dispatcher, id, json!({"event": "repairing"})).await;
    let ready_at = clock.now();
    post(&app, &dispatcher, id, json!({"event": "ready_for_pickup"})).await;
    until_accepted(&gw, &clock, 2).await;
    assert_eq!(gw.templates(), ["job_created", "ready_for_pickup"]);

    // Reminders come from the scheduler 3 and 6 days after the ready message.
    clock.set(ready_at + chrono::Duration::days(3));
    until_accepted(&gw, &clock, 3).await;
    let reminder = &gw.accepted()[2];
    assert_eq!(reminder["template"], "pickup_reminder");
    assert_eq!(reminder["params"]["notice"], 2);
    let j = job(&app, &dispatcher, id).await;
    assert_eq!(j["status"], "notified");
    let notified: Vec<&Value> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "notified")
        .collect();
    assert_eq!(notified.len(), 1, "{j}");
    assert_eq!(notified[0]["actor"], "system");
    let second: DateTime<Utc> = notified[0]["at"].as_str().unwrap().parse().unwrap();

    clock.set(second + chrono::Duration::days(3));
    until_accepted(&gw, &clock, 4).await;
    assert_eq!(gw.accepted()[3]["params"]["notice"], 3);
    let j = job(&app, &dispatcher, id).await;
    assert!(!tasks(&j).contains(&"mail_back".to_owned()), "{j}");

    // Three days after the third notice: no fourth, a mail-back task instead.
    let third: DateTime<Utc> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|e| e["event"] == "notified")
        .unwrap()["at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    clock.set(third + chrono::Duration::days(3));
    until("the mail-back task", || async {
        tasks(&job(&app, &dispatcher, id).await).contains(&"mail_back".to_owned())
    })
    .await;
    post(&app, &dispatcher, id, json!({"event": "mailed_back"})).await;
    until_accepted(&gw, &clock, 6).await;
    // The last two are written together and sent side by side: any order.
    let mut sent = gw.templates();
    sent[4..].sort();
    assert_eq!(
        sent,
        [
            "job_created",
            "ready_for_pickup",
            "pickup_reminder",
            "pickup_reminder",
            "follow_up_survey",
            "mailed_back",
        ]
    );
    let survey = gw
        .accepted()
        .iter()
        .find(|m| m["template"] == "follow_up_survey")
        .unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(survey.contains(&format!("/survey?code={code}")), "{survey}");
    assert!(
        gw.duplicates().is_empty(),
        "accepted twice: {:?}",
        gw.duplicates()
    );

    // The job's messages, as staff see them: all delivered, on the third
    // try. The worker settles a message after the gateway has answered, so
    // the last one may still be settling.
    let path = format!("/api/v1/jobs/{id}/notifications");
    until("every message settled", || async {
        let (_, list) = call(&app, Method::GET, &path, &agent, None).await;
        list["items"]
            .as_array()
            .is_some_and(|a| a.iter().all(|m| m["state"] == "delivered"))
    })
    .await;
    let (st, list) = call(
        &app,
        Method::GET,
        &format!("/api/v1/jobs/{id}/notifications"),
        &agent,
        None,
    )
    .await;
    assert_eq!(st, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    for m in items {
        assert_eq!(m["state"], "delivered", "{m}");
        assert_eq!(m["attempts"], 3, "{m}");
    }
    // Nothing more comes: a quiet hour sends nothing twice.
    clock.advance(chrono::Duration::hours(1));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(gw.accepted().len(), 6);
}
crate::on_both_backends!(carry_in_messages_reminders_and_mail_back);

/// A gateway that never answers 2xx: six tries with growing waits, then
/// `failed`; the job and its other writes are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_gateway_keeps_refusing_fails_after_six_tries() {
    let clock = Arc::new(ManualClock::new(MONDAY.parse().unwrap()));
    let gw = Gateway::start(u32::MAX);
    let app = app_with_gateway(Backend::Sqlite, &clock, &gw)
        .await
        .unwrap();
    let agent = token(&app.db, Role::Agent).await;
    let (st, created) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(carry_in("13700001111")),
    )
    .await;
    assert_eq!(st, 201, "{created}");
    let path = format!("/api/v1/jobs/{}/notifications", created["id"]);
    let state = || async {
        let (_, list) = call(&app, Method::GET, &path, &agent, None).await;
        list["items"][0].clone()
    };
    for _ in 0..400 {
        if state().await["state"] == "failed" {
            break;
        }
        clock.advance(chrono::Duration::minutes(10));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let m = state().await;
    assert_eq!(m["state"], "failed", "{m}");
    assert_eq!(m["attempts"], 6, "{m}");
    assert_eq!(m["last_error"], "HTTP 503", "{m}");
    assert_eq!(gw.seen.lock().unwrap().tries.values().sum::<u32>(), 6);
}

/// Without a webhook messages wait as `pending`, listed per job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_webhook_messages_stay_pending() {
    let app = spawn_app().await;
    let agent = token(&app.db, Role::Agent).await;
    let (st, created) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(carry_in("13700002222")),
    )
    .await;
    assert_eq!(st, 201, "{created}");
    let (st, list) = call(
        &app,
        Method::GET,
        &format!("/api/v1/jobs/{}/notifications", created["id"]),
        &agent,
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(list["items"][0]["template"], "job_created");
    assert_eq!(list["items"][0]["state"], "pending");
    assert_eq!(list["items"][0]["attempts"], 0);
}

/// Two server processes on one PostgreSQL, both running the scheduler and
/// the delivery worker: every reminder is written once and every message
/// accepted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_send_each_reminder_once() {
    let clock = Arc::new(ManualClock::new(MONDAY.parse().unwrap()));
    let gw = Gateway::start(0);
    let Some(a) = app_with_gateway(Backend::Postgres, &clock, &gw).await else {
        return;
    };
    let b = spawn_on_url(
        &a.database_url,
        Options {
            clock: Some(clock.clone()),
            webhook: Some(gw.url.clone()),
            scheduler_ms: Some(50),
            ..Options::default()
        },
    )
    .await;
    let agent = token(&a.db, Role::Agent).await;
    let dispatcher = token(&a.db, Role::Dispatcher).await;
    let n = 12;
    let mut ids = Vec::new();
    for i in 0..n {
        let app = if i % 2 == 0 { &a } else { &b };
        let (st, created) = call(
            app,
            Method::POST,
            "/api/v1/jobs",
            &agent,
            Some(carry_in(&format!("1390000{i:04}"))),
        )
        .await;
        assert_eq!(st, 201, "{created}");
        let id = created["id"].as_i64().unwrap();
        post(app, &dispatcher, id, json!({"event": "repairing"})).await;
        post(app, &dispatcher, id, json!({"event": "ready_for_pickup"})).await;
        ids.push(id);
    }
    until_accepted(&gw, &clock, 2 * n).await;
    clock.advance(chrono::Duration::days(3));
    until_accepted(&gw, &clock, 3 * n).await;
    // Both schedulers had every chance to write a reminder twice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gw.accepted().len(), 3 * n, "{:?}", gw.templates());
    assert!(
        gw.duplicates().is_empty(),
        "accepted twice: {:?}",
        gw.duplicates()
    );
    for id in ids {
        let j = job(&a, &dispatcher, id).await;
        let notices = j["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "notified")
            .count();
        assert_eq!(notices, 1, "job {id}: {j}");
    }
}

/// An on-site job finished: the survey records the customer's score once,
/// a low score opens a complaint that a call back closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_survey_records_a_score_once_and_a_low_one_is_a_complaint() {
    let app = spawn_app().await;
    let agent = token(&app.db, Role::Agent).await;
    let dispatcher = token(&app.db, Role::Dispatcher).await;
    let body = json!({"kind": "onsite", "customer": {"name": "韩梅梅", "phone": "13600005678"},
        "address": "北京市朝阳区建国路88号", "product": "notebook",
        "purchase_date": "2026-10-20", "problem": "屏幕闪烁"});
    let (st, created) = call(&app, Method::POST, "/api/v1/jobs", &agent, Some(body)).await;
    assert_eq!(st, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    let code = created["code"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "assigned", "{created}");
    let survey = |last4: &str, score: i64| json!({"code": code, "phone_last4": last4, "score": score, "comment": "等了很久"});
    let send = |b: Value| send_survey(&app, b);
    // Before the repair: not yet.
    let (st, v) = send(survey("5678", 2)).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("not_complete")),
        "{v}"
    );
    for e in ["en_route", "on_site", "repaired"] {
        post(&app, &dispatcher, id, json!({"event": e})).await;
    }
    let (st, v) = send(survey("0000", 2)).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{v}"
    );
    let (st, v) = send(survey("5678", 9)).await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = send(survey("5678", 2)).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["complaint"], true);
    let (st, v) = send(survey("5678", 5)).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("already_recorded")),
        "{v}"
    );

    let j = job(&app, &dispatcher, id).await;
    assert_eq!(j["satisfaction"], 2);
    let f = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "follow_up")
        .unwrap();
    assert_eq!(f["actor"], "customer");
    assert_eq!(f["data"]["comment"], "等了很久");
    assert!(tasks(&j).contains(&"recontact_customer".to_owned()), "{j}");

    let listed = |v: &Value| -> Vec<i64> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_i64().unwrap())
            .collect()
    };
    let (st, open) = call(
        &app,
        Method::GET,
        "/api/v1/jobs?task=recontact_customer",
        &agent,
        None,
    )
    .await;
    assert_eq!(st, 200, "{open}");
    assert_eq!(listed(&open), [id]);
    let path = format!("/api/v1/jobs/{id}/recontact");
    let (st, v) = call(
        &app,
        Method::POST,
        &path,
        &agent,
        Some(json!({"note": " "})),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = call(
        &app,
        Method::POST,
        &path,
        &agent,
        Some(json!({"note": "已致电道歉，赠送延保"})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert!(!tasks(&v).contains(&"recontact_customer".to_owned()), "{v}");
    let (_, open) = call(
        &app,
        Method::GET,
        "/api/v1/jobs?task=recontact_customer",
        &agent,
        None,
    )
    .await;
    assert!(listed(&open).is_empty(), "{open}");
    let (st, _) = call(
        &app,
        Method::GET,
        "/api/v1/jobs?task=call_everyone",
        &agent,
        None,
    )
    .await;
    assert_eq!(st, 400);
    let (st, v) = call(
        &app,
        Method::POST,
        &path,
        &agent,
        Some(json!({"note": "再次致电"})),
    )
    .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("no_open_complaint")),
        "{v}"
    );
}

async fn send_survey(app: &TestApp, b: Value) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/survey"))
        .json(&b)
        .send()
        .await
        .unwrap();
    let st = res.status().as_u16();
    (st, res.json::<Value>().await.unwrap_or(Value::Null))
}

/// The real binary's logs, with a webhook and a caller looked up by phone:
/// the phone number never appears, the delivery line shows its last four.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_numbers_never_reach_the_logs() {
    let gw = Gateway::start(0);
    let url = fresh_database(Backend::Sqlite).await.unwrap();
    let agent = cli_token(&url, "agent");
    let log = std::env::temp_dir().join(format!("repairnet-log-{}.txt", std::process::id()));
    let (mut server, base) = serve_binary(
        &url,
        &[],
        &[
            ("REPAIRNET_NOTIFY_WEBHOOK", gw.url.as_str()),
            (
                "RUST_LOG",
                "debug,sqlx=warn,hyper=warn,reqwest=warn,h2=warn,rustls=warn",
            ),
        ],
        std::fs::File::create(&log).unwrap().into(),
    )
    .await;
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/api/v1/jobs"))
        .bearer_auth(&agent)
        .json(&carry_in("13987654321"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let res = http
        .get(format!("{base}/api/v1/jobs?phone=13987654321"))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    until("the message", || async { !gw.accepted().is_empty() }).await;
    // The delivery is logged after the gateway answers.
    until("the delivery log line", || async {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("message delivered")
    })
    .await;
    server.kill().unwrap();
    server.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("13987654321"), "a phone number in the logs");
    assert!(
        !text.contains("87654321"),
        "most of a phone number in the logs"
    );
    assert!(
        text.contains("***4321"),
        "the delivery line names the last four digits"
    );
    assert!(
        text.contains("path=/api/v1/jobs"),
        "requests are logged by path"
    );
    assert_eq!(
        gw.accepted()[0]["to"],
        "13987654321",
        "the gateway gets the number"
    );
}
