//! KPI reports at scale: a bulk demo history of `KPI_JOBS` jobs (default
//! 1,480,000, which makes just over 10 million audit entries) over
//! `KPI_DAYS` days (default 90, so one quarter holds them all), then the
//! report for one region over the quarter and for the whole network, with
//! every station row, as `GET /api/v1/kpi` makes it (the use case, without
//! the HTTP round trip).
//!
//! Not criterion: each report is run `KPI_RUNS` times (default 5) and the
//! fastest and the median are printed. Run with `cargo bench --bench kpi`;
//! SQLite in a temp file, then PostgreSQL on 127.0.0.1:5432 (a fresh
//! database `repairnet_bench_kpi`) when it answers. `KPI_BACKENDS=sqlite`
//! runs one backend only; `KPI_NO_VERIFY=1` skips the check below;
//! `KPI_REUSE=1` keeps the previous run's
//! databases and history (the SQLite file is in the temp directory's
//! `repairnet-bench-kpi/`). Also checks that the daily tallies the bulk load
//! wrote equal a recomputation from the histories.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark set-up; a failure there is the benchmark's own bug"
)]

use std::time::{Duration, Instant};

use chrono::Utc;
use repairnet::auth::Principal;
use repairnet::dispatch::DispatchContext;
use repairnet::network::SharedIndex;
use repairnet::places::Region;
use repairnet::reports::kpi::Granularity;
use repairnet::reports::service::kpi_report;
use repairnet::reports::targets::Targets;
use repairnet::reports::KpiQuery;
use repairnet::store::{self, Db};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn fresh(backend: &str) -> Option<String> {
    if backend == "sqlite" {
        let dir = std::env::temp_dir().join("repairnet-bench-kpi");
        if !reuse() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        std::fs::create_dir_all(&dir).unwrap();
        return Some(format!("sqlite://{}", dir.join("kpi.db").display()));
    }
    let Ok(Db::Postgres(admin)) = Db::connect("postgres://postgres@127.0.0.1:5432/test").await
    else {
        println!("postgres: not reachable on 127.0.0.1:5432, skipped");
        return None;
    };
    if !reuse() {
        sqlx::query("DROP DATABASE IF EXISTS repairnet_bench_kpi")
            .execute(&admin)
            .await
            .unwrap();
        sqlx::query("CREATE DATABASE repairnet_bench_kpi")
            .execute(&admin)
            .await
            .unwrap();
    }
    admin.close().await;
    Some("postgres://postgres@127.0.0.1:5432/repairnet_bench_kpi".into())
}

/// `KPI_REUSE=1`: keep the database a previous run made (its history too).
fn reuse() -> bool {
    std::env::var_os("KPI_REUSE").is_some()
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    format!(
        "fastest {:.3} s, median {:.3} s",
        times[0].as_secs_f64(),
        times[times.len() / 2].as_secs_f64()
    )
}

#[tokio::main]
async fn main() {
    let jobs = env("KPI_JOBS", 1_480_000);
    let days = u32::try_from(env("KPI_DAYS", 90)).unwrap();
    let runs = env("KPI_RUNS", 5).max(1);
    let backends = std::env::var("KPI_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let ctx = DispatchContext::new(None, Duration::from_secs(1)).unwrap();
    let rules = ctx.kpi_rules();
    for backend in backends.split(',') {
        let Some(url) = fresh(backend).await else {
            continue;
        };
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        repairnet::demo::load_demo_if_empty(&db).await.unwrap();
        store::kpi::ensure(&db, &rules).await.unwrap();
        let index = SharedIndex::new(repairnet::load_index(&db).await.unwrap());
        let stations: Vec<_> = index.load().iter().map(|s| (**s).clone()).collect();
        let technicians = store::technicians::list(&db, None).await.unwrap();
        let end = Utc::now();
        if reuse() && store::jobs::any(&db).await.unwrap() {
            println!("{backend}: the previous run's history");
        } else {
            let started = Instant::now();
            let bulk = Db::connect_for_bulk(&url).await.unwrap();
            let stats = repairnet::demo::bulk::load_bulk(
                &bulk,
                &stations,
                &technicians,
                &ctx,
                days,
                jobs,
                repairnet::demo::DEFAULT_SEED,
                end,
                |_| {},
            )
            .await
            .unwrap();
            bulk.close().await;
            println!(
                "{backend}: {} jobs, {} events ({} open) written in {:.1} s",
                stats.jobs,
                stats.events,
                stats.open,
                started.elapsed().as_secs_f64()
            );
        }
        let to = ctx.calendar.local_date(end);
        let from = to - chrono::Duration::days(i64::from(days) - 1);
        let cases = [
            (
                "region southwest, quarter",
                Some(Region::Southwest),
                Granularity::None,
            ),
            ("network, quarter", None, Granularity::None),
            ("network, quarter by week", None, Granularity::Week),
        ];
        for (name, region, granularity) in cases {
            let q = KpiQuery {
                from,
                to,
                region,
                station_id: None,
                granularity,
                stations: true,
            };
            let mut times = Vec::new();
            let mut rows = 0;
            for _ in 0..runs {
                let t = Instant::now();
                let report = kpi_report(
                    &db,
                    &index,
                    Targets::shipped(),
                    ctx.calendar.timezone(),
                    ctx.policy.sla.warning_share,
                    &Principal::system(),
                    &q,
                    Utc::now(),
                )
                .await
                .unwrap();
                times.push(t.elapsed());
                rows = report.rows.len();
            }
            println!("{backend}: {name} ({rows} rows): {}", summary(times));
        }
        if std::env::var_os("KPI_NO_VERIFY").is_some() {
            continue;
        }
        let t = Instant::now();
        let diffs = store::kpi::verify(&db, &rules).await.unwrap();
        assert!(
            diffs.is_empty(),
            "tallies differ: {:?}",
            &diffs[..diffs.len().min(5)]
        );
        println!(
            "{backend}: daily tallies equal a recomputation ({:.1} s)",
            t.elapsed().as_secs_f64()
        );
        db.close().await;
    }
}
