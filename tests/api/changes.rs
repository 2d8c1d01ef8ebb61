//! The change feed: every committed job change, in sequence order, within
//! the reader's scope, by long poll and by server-sent events, across
//! server processes that share a database.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use repairnet::auth::{Role, Scope};
use repairnet::places::Region;

fn onsite(address: &str, phone: &str) -> Value {
    let bought = (chrono::Utc::now() - chrono::Duration::days(40)).date_naive();
    json!({"kind": "onsite", "customer": {"name": "李雷", "phone": phone},
           "address": address, "product": "notebook", "purchase_date": bought.to_string()})
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let st = res.status().as_u16();
    (st, res.json().await.unwrap_or(Value::Null))
}

async fn create(app: &TestApp, token: &str, address: &str, phone: &str) -> Value {
    let res = app
        .client
        .request(Method::POST, app.url("/api/v1/jobs"))
        .bearer_auth(token)
        .json(&onsite(address, phone))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

fn seqs(page: &Value) -> Vec<i64> {
    page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["seq"].as_i64().unwrap())
        .collect()
}

async fn feed_follows_changes_in_order_within_scope(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    let agent = token(&app.db, Role::Agent).await;
    let east = scoped_token(&app.db, Role::Manager, Scope::Region(Region::East)).await;
    // Nothing yet: an immediate answer with `next` = `after`.
    let (st, page) = get(&app, "/api/v1/jobs/changes?after=0&wait=0", &agent).await;
    assert_eq!((st, page["next"].as_i64()), (200, Some(0)), "{page}");
    assert!(page["changes"].as_array().unwrap().is_empty());

    let a = create(&app, &agent, "绵阳涪城临园路", "13900000001").await;
    let (_, page) = get(&app, "/api/v1/jobs/changes?after=0&wait=0", &agent).await;
    let changes = page["changes"].as_array().unwrap();
    let names: Vec<&str> = changes
        .iter()
        .map(|c| c["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["created", "assign"], "{page}");
    assert!(changes
        .iter()
        .all(|c| c["code"] == a["code"] && c["job_id"] == a["id"]));
    assert_eq!(changes[1]["status"], "assigned");
    let s = seqs(&page);
    assert!(s.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(page["next"].as_i64(), s.last().copied());
    // The events in the job's own history carry the same sequence numbers.
    let hist: Vec<i64> = a["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(hist, s);

    // A long poll that is waiting when a change is made returns it.
    let next = page["next"].as_i64().unwrap();
    let waiting = {
        let (client, url, agent) = (
            app.client.clone(),
            app.url(&format!("/api/v1/jobs/changes?after={next}&wait=20")),
            agent.clone(),
        );
        tokio::spawn(async move {
            client
                .get(url)
                .bearer_auth(agent)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let b = create(&app, &agent, "上海静安", "13900000002").await;
    let woke = waiting.await.unwrap();
    assert_eq!(woke["changes"][0]["code"], b["code"], "{woke}");
    assert!(seqs(&woke)[0] > next);

    // A region's reader sees only its region's jobs; `latest` starts at now.
    let (_, page) = get(&app, "/api/v1/jobs/changes?after=0&wait=0", &east).await;
    let codes: Vec<&Value> = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["code"])
        .collect();
    assert!(
        !codes.is_empty() && codes.iter().all(|c| **c == b["code"]),
        "{page}"
    );
    let (_, page) = get(&app, "/api/v1/jobs/changes?after=latest&wait=0", &agent).await;
    assert!(page["changes"].as_array().unwrap().is_empty());
    assert_eq!(page["next"].as_i64(), seqs(&woke).last().copied());

    // Bad input is a 400; no token a 401.
    let (st, e) = get(&app, "/api/v1/jobs/changes?after=x", &agent).await;
    assert_eq!(st, 400, "{e}");
    let (st, _) = get(&app, "/api/v1/jobs/changes?wait=99", &agent).await;
    assert_eq!(st, 400);
    let res = app
        .client
        .get(app.url("/api/v1/jobs/changes"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
on_both_backends!(feed_follows_changes_in_order_within_scope);

async fn event_stream_carries_each_change_with_its_sequence_number(backend: Backend) {
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    let agent = token(&app.db, Role::Dispatcher).await;
    let mut res = app
        .client
        .get(app.url("/api/v1/jobs/changes?after=0"))
        .bearer_auth(&agent)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let job = create(&app, &agent, "成都武侯", "13900000003").await;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while text.matches("\n\n").count() < 2 || !text.contains("\"assign\"") {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("events arrive")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let events: Vec<(i64, Value)> = text
        .split("\n\n")
        .filter(|b| b.starts_with("id: "))
        .map(|b| {
            let (id, data) = b.split_once('\n').unwrap();
            let id: i64 = id.trim_start_matches("id: ").parse().unwrap();
            let data: Value = serde_json::from_str(data.trim_start_matches("data: ")).unwrap();
            (id, data)
        })
        .collect();
    assert!(events.len() >= 2, "{text}");
    for (id, data) in &events {
        assert_eq!(data["seq"].as_i64(), Some(*id));
        assert_eq!(data["code"], job["code"]);
    }
}
on_both_backends!(event_stream_carries_each_change_with_its_sequence_number);

/// A change made through one server process reaches a reader of another
/// process on the same PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_process_reaches_the_feed_of_another() {
    let Some(first) = spawn_app_on(Backend::Postgres).await else {
        return;
    };
    let second = spawn_on_url(&first.database_url, Options::default()).await;
    let agent = token(&first.db, Role::Agent).await;
    let waiting = {
        let (client, url, agent) = (
            second.client.clone(),
            second.url("/api/v1/jobs/changes?after=0&wait=20"),
            agent.clone(),
        );
        tokio::spawn(async move {
            client
                .get(url)
                .bearer_auth(agent)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let job = create(&first, &agent, "绵阳涪城临园路", "13900000004").await;
    let page = waiting.await.unwrap();
    assert_eq!(page["changes"][0]["code"], job["code"], "{page}");
}
