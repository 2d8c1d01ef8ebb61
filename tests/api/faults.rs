//! Faults the server must survive without losing an acknowledged write:
//! the process killed with SIGKILL in the middle of writes (SQLite and
//! PostgreSQL), and PostgreSQL itself restarted under load (503 with the
//! error JSON while it is down, recovery without help).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

/// An intake request as an agent's console sends it.
fn intake(n: usize) -> Value {
    json!({
        "kind": "onsite",
        "customer": {"name": "王芳", "phone": format!("138{:08}", n), "tier": "standard"},
        "address": "绵阳涪城临园路",
        "product": "notebook",
        "purchase_date": "2026-01-05",
        "problem": format!("故障测试{n}"),
    })
}

/// What the writers saw: acknowledged job ids by idempotency key, and the
/// statuses of every other answer.
#[derive(Default)]
struct Seen {
    acknowledged: Vec<(String, i64)>,
    refused: Vec<(String, u16, Value)>,
    no_answer: usize,
}

/// `writers` tasks posting jobs to `base` until `stop` is set.
fn start_writers(
    base: &str,
    token: &str,
    writers: usize,
    stop: &Arc<std::sync::atomic::AtomicBool>,
    seen: &Arc<Mutex<Seen>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..writers)
        .map(|w| {
            let (base, token) = (base.to_owned(), token.to_owned());
            let (stop, seen) = (stop.clone(), seen.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()
                    .unwrap();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let n = w * 1_000_000 + i;
                    i += 1;
                    let key = format!("fault-{w}-{i}");
                    let res = http
                        .post(format!("{base}/api/v1/jobs"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", &key)
                        .json(&intake(n))
                        .send()
                        .await;
                    let Ok(res) = res else {
                        seen.lock().unwrap().no_answer += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    };
                    let status = res.status().as_u16();
                    match res.json::<Value>().await {
                        Ok(body) if status == 201 => {
                            let id = body["id"].as_i64().expect("a job id");
                            seen.lock().unwrap().acknowledged.push((key, id));
                        }
                        Ok(body) => {
                            seen.lock().unwrap().refused.push((key, status, body));
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err(_) => seen.lock().unwrap().no_answer += 1,
                    }
                }
            })
        })
        .collect()
}

/// Every acknowledged job is there, once.
async fn check_acknowledged(base: &str, token: &str, seen: &Seen) {
    let http = reqwest::Client::new();
    let mut ids = BTreeSet::new();
    for (key, id) in &seen.acknowledged {
        assert!(ids.insert(*id), "job {id} acknowledged twice");
        let res = http
            .get(format!("{base}/api/v1/jobs/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "acknowledged job {id} ({key}) is lost");
    }
}

/// The daily KPI tallies still agree with the job histories.
fn kpi_check(url: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_repairnet"))
        .args(["kpi-check", "--database", url])
        .env("REPAIRNET_NO_DEMO_HISTORY", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Eight writers, SIGKILL mid-write, a restart: every write the server
/// acknowledged is there, and the tallies written with them agree.
async fn acknowledged_writes_survive_sigkill(backend: Backend) {
    let Some(url) = fresh_database(backend).await else {
        return;
    };
    let token = cli_token(&url, "agent");
    let (mut server, base) = serve_binary(&url, &[], &[], std::process::Stdio::null()).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let writers = start_writers(&base, &token, 8, &stop, &seen);
    // Kill once a good number of writes went through.
    let started = Instant::now();
    while seen.lock().unwrap().acknowledged.len() < 40
        && started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(
        seen.acknowledged.len() >= 40,
        "only {} writes",
        seen.acknowledged.len()
    );
    let (mut server, base) = serve_binary(&url, &[], &[], std::process::Stdio::null()).await;
    check_acknowledged(&base, &token, &seen).await;
    server.kill().unwrap();
    server.wait().unwrap();
    kpi_check(&url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_on_sqlite() {
    acknowledged_writes_survive_sigkill(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_on_postgres() {
    acknowledged_writes_survive_sigkill(Backend::Postgres).await;
}

/// A PostgreSQL cluster of the test's own (the shared one serves the
/// other tests), made with Debian's cluster tools; dropped on drop.
struct OwnCluster {
    version: String,
    name: String,
    port: u16,
}

impl OwnCluster {
    /// `None` (with the reason printed) where clusters cannot be made,
    /// which CI does not accept.
    fn create() -> Option<OwnCluster> {
        let version = std::fs::read_dir("/etc/postgresql")
            .ok()
            .and_then(|d| d.flatten().next())
            .map(|e| e.file_name().to_string_lossy().into_owned());
        let tools = std::env::var_os("PATH").is_some_and(|p| {
            std::env::split_paths(&p).any(|d| d.join("pg_createcluster").is_file())
        });
        let Some(version) = version.filter(|_| tools) else {
            let why = "Debian's PostgreSQL cluster tools (pg_createcluster) are not installed";
            assert!(std::env::var_os("CI").is_none(), "{why}; required under CI");
            eprintln!("SKIPPED: {why}");
            return None;
        };
        let cluster = OwnCluster {
            version,
            name: "repairnet_faults".into(),
            port: 55439,
        };
        cluster.drop_cluster();
        let ok = std::process::Command::new("pg_createcluster")
            .args([
                &cluster.version,
                &cluster.name,
                "--port",
                &cluster.port.to_string(),
                "--",
                "--auth=trust",
            ])
            .output()
            .unwrap();
        if !ok.status.success() {
            let why = format!(
                "pg_createcluster failed (it needs root): {}",
                String::from_utf8_lossy(&ok.stderr)
            );
            assert!(std::env::var_os("CI").is_none(), "{why}");
            eprintln!("SKIPPED: {why}");
            return None;
        }
        cluster.ctl("start");
        Some(cluster)
    }

    fn ctl(&self, action: &str) {
        let out = std::process::Command::new("pg_ctlcluster")
            .args([
                "--skip-systemctl-redirect",
                &self.version,
                &self.name,
                action,
            ])
            .args(if action == "stop" {
                &["-m", "fast"][..]
            } else {
                &[][..]
            })
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctlcluster {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn drop_cluster(&self) {
        let _ = std::process::Command::new("pg_dropcluster")
            .args(["--stop", &self.version, &self.name])
            .output();
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        self.drop_cluster();
    }
}

/// PostgreSQL stops under a steady load of intakes and comes back: while
/// it is down every answer is 503 with the error JSON (never a 500); the
/// server recovers by itself within seconds of the database's return; no
/// acknowledged job is lost, and a refused intake retried with its
/// `Idempotency-Key` makes exactly one job.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_under_load() {
    let Some(cluster) = OwnCluster::create() else {
        return;
    };
    let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    let db = repairnet::store::Db::connect(&admin).await.unwrap();
    let repairnet::store::Db::Postgres(pool) = &db else {
        unreachable!()
    };
    sqlx::query("CREATE DATABASE faults")
        .execute(pool)
        .await
        .unwrap();
    db.close().await;
    let url = format!("postgres://postgres@127.0.0.1:{}/faults", cluster.port);
    let token = cli_token(&url, "agent");
    let (mut server, base) = serve_binary(&url, &[], &[], std::process::Stdio::null()).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let writers = start_writers(&base, &token, 4, &stop, &seen);
    let wait_for = |n: usize| {
        let seen = seen.clone();
        async move {
            let started = Instant::now();
            while seen.lock().unwrap().acknowledged.len() < n {
                assert!(started.elapsed() < Duration::from_secs(60), "no progress");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(20).await;
    cluster.ctl("stop");
    // Down for a while: readiness says so, writes get 503s.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503, "readiness while the database is down");
    let before_restart = seen.lock().unwrap().acknowledged.len();
    // From the start command: it returns once the database accepts
    // connections.
    let back = Instant::now();
    cluster.ctl("start");
    wait_for(before_restart + 1).await;
    let recovery = back.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    eprintln!(
        "postgres restart: {} acknowledged, {} refused, {} without answer; first acknowledged write {} ms after the database was started",
        seen.acknowledged.len(),
        seen.refused.len(),
        seen.no_answer,
        recovery.as_millis()
    );
    assert!(!seen.refused.is_empty(), "no request met the database down");
    for (key, status, body) in &seen.refused {
        assert_eq!(*status, 503, "{key}: {body}");
        assert!(
            ["unavailable", "timeout"].contains(&body["error"]["code"].as_str().unwrap_or("")),
            "{key}: {body}"
        );
    }
    assert!(
        recovery < Duration::from_secs(15),
        "recovered after {recovery:?}"
    );
    check_acknowledged(&base, &token, &seen).await;
    // A refused intake retried with its key: one job, however many tries.
    let http = reqwest::Client::new();
    let (key, _, _) = &seen.refused[0];
    let n: usize = 9_000_000;
    let mut ids = BTreeSet::new();
    for _ in 0..2 {
        let res = http
            .post(format!("{base}/api/v1/jobs"))
            .bearer_auth(&token)
            .header("Idempotency-Key", key)
            .json(&intake(n))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        let body: Value = res.json().await.unwrap();
        ids.insert(body["id"].as_i64().unwrap());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    server.kill().unwrap();
    server.wait().unwrap();
    kpi_check(&url);
}
