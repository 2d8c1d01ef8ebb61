//! Customer-message delivery: how many messages per second one server
//! process delivers to a webhook, and how late a pickup reminder reaches
//! the gateway after it fell due.
//!
//! Not criterion: it prints its own figures. Run with
//! `cargo bench --bench notify` (SQLite in a temp file). `NOTIFY_JOBS`
//! (default 2000) carry-in jobs are opened with no webhook configured, so
//! their `job_created` messages wait in the outbox; a second server process
//! on the same database with a webhook then delivers them all (a local
//! stand-in gateway that answers 200). For reminders, `NOTIFY_READY`
//! (default 200) of the jobs are made ready for pickup, the manual clock is
//! moved to the instant their reminder falls due, and the time until the
//! gateway holds every reminder is measured; the scheduler runs every
//! `NOTIFY_SCHEDULER_MS` (default 60000, the server's default), so the
//! lateness is at most one scheduler interval plus the delivery time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark set-up; a failure there is the benchmark's own bug"
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use futures_util::StreamExt;
use repairnet::auth::{Role, Scope};
use repairnet::basic::{Clock, ManualClock};
use repairnet::config::Settings;
use repairnet::store::{tokens, Db};
use repairnet::Application;
use serde_json::{json, Value};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn token(db: &Db, role: Role) -> String {
    tokens::issue(db, role, Scope::All, "bench", None)
        .await
        .expect("token")
        .0
}

async fn start(
    url: &str,
    clock: Arc<ManualClock>,
    webhook: Option<String>,
    scheduler_ms: u64,
) -> String {
    let settings = Settings {
        bind: "127.0.0.1:0".into(),
        database_url: url.to_owned(),
        no_demo_history: true,
        notify_webhook: webhook,
        scheduler_ms,
        ..Settings::default()
    };
    let app = Application::build_with_clock(settings, clock)
        .await
        .expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    base
}

#[tokio::main]
async fn main() {
    let jobs = env("NOTIFY_JOBS", 2000);
    let ready = env("NOTIFY_READY", 200).min(jobs);
    let scheduler_ms = env("NOTIFY_SCHEDULER_MS", 60_000) as u64;
    let dir = std::env::temp_dir().join(format!("repairnet-bench-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let clock = Arc::new(ManualClock::new("2026-12-07T02:00:00Z".parse().unwrap()));

    // The stand-in gateway: counts what it accepts.
    let accepted = Arc::new(AtomicUsize::new(0));
    let reminders = Arc::new(AtomicUsize::new(0));
    let (a, r) = (accepted.clone(), reminders.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gw = format!(
        "http://127.0.0.1:{}/sms",
        listener.local_addr().unwrap().port()
    );
    let server = HttpServer::new(move || {
        let (a, r) = (a.clone(), r.clone());
        App::new().route(
            "/sms",
            web::post().to(move |body: web::Json<Value>| {
                let (a, r) = (a.clone(), r.clone());
                async move {
                    a.fetch_add(1, Ordering::SeqCst);
                    if body["template"] == "pickup_reminder" {
                        r.fetch_add(1, Ordering::SeqCst);
                    }
                    HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);

    // Phase 1: jobs opened with no webhook; their messages wait.
    let quiet = start(&url, clock.clone(), None, 86_400_000).await;
    let db = Db::connect(&url).await.unwrap();
    let agent = token(&db, Role::Agent).await;
    let dispatcher = token(&db, Role::Dispatcher).await;
    let http = reqwest::Client::new();
    let opened = Instant::now();
    let ids: Vec<i64> = futures_util::stream::iter(0..jobs)
        .map(|i| {
            let (http, quiet, agent) = (http.clone(), quiet.clone(), agent.clone());
            async move {
                let body = json!({"kind": "carry_in", "customer": {"name": "测试", "phone": format!("139{i:08}")},
                    "address": "北京市朝阳区建国路88号", "product": "notebook",
                    "purchase_date": "2026-10-20", "problem": "键盘失灵"});
                let v: Value = http.post(format!("{quiet}/api/v1/jobs")).bearer_auth(&agent)
                    .json(&body).send().await.unwrap().json().await.unwrap();
                v["id"].as_i64().expect("job opened")
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let ready_at = clock.now();
    for id in &ids[..ready] {
        for e in ["repairing", "ready_for_pickup"] {
            let res = http
                .post(format!("{quiet}/api/v1/jobs/{id}/events"))
                .bearer_auth(&dispatcher)
                .json(&json!({"event": e}))
                .send()
                .await
                .unwrap();
            assert!(res.status().is_success());
        }
    }
    let waiting = jobs + ready;
    println!(
        "opened {jobs} jobs ({ready} ready for pickup) in {:.1} s; {waiting} messages waiting",
        opened.elapsed().as_secs_f64()
    );

    // Phase 2: a process with the webhook delivers the backlog.
    let t = Instant::now();
    let _sender = start(&url, clock.clone(), Some(gw), scheduler_ms).await;
    while accepted.load(Ordering::SeqCst) < waiting {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "delivered {waiting} messages in {secs:.2} s: {:.0} messages/s (one process, SQLite, batches of 32, 8 in flight)",
        waiting as f64 / secs
    );

    // Phase 3: the reminders fall due now; how long until the gateway has them.
    clock.set(ready_at + chrono::Duration::days(3));
    let due = Instant::now();
    let mut first = None;
    while reminders.load(Ordering::SeqCst) < ready {
        if first.is_none() && reminders.load(Ordering::SeqCst) > 0 {
            first = Some(due.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let last = due.elapsed();
    println!(
        "{ready} reminders due at once: first at the gateway {:.2} s after falling due, last {:.2} s (scheduler every {:.1} s)",
        first.unwrap_or(last).as_secs_f64(),
        last.as_secs_f64(),
        scheduler_ms as f64 / 1000.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}
