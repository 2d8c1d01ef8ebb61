//! The KPI report over HTTP and from the command line: scope, formats,
//! periods, and the same numbers both ways.

use std::collections::BTreeSet;
use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use repairnet::auth::{Role, Scope};
use repairnet::basic::ManualClock;
use repairnet::places::Region;

fn job(kind: &str, address: &str, phone: &str) -> Value {
    json!({"kind": kind, "customer": {"name": "陈静", "phone": phone}, "address": address,
           "product": "notebook", "purchase_date": "2026-10-20", "problem": "无法充电"})
}

async fn events(app: &TestApp, token: &str, id: &Value, names: &[&str]) {
    for e in names {
        let (st, v) = call(
            app,
            Method::POST,
            &format!("/api/v1/jobs/{id}/events"),
            token,
            Some(json!({"event": e})),
        )
        .await;
        assert_eq!(st, 200, "{e}: {v}");
    }
}

fn row<'a>(report: &'a Value, scope: &str, key: Option<&str>) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["scope"] == scope
                && match key {
                    None => true,
                    Some(k) => r["region"] == k || r["station_id"] == k,
                }
        })
        .unwrap_or_else(|| panic!("no {scope} row {key:?}"))
}

fn value(r: &Value, kpi: &str) -> Value {
    r["kpis"][kpi]["value"].clone()
}

/// Wednesday 25 November 2026, 10:00 in Shanghai.
const WEDNESDAY: &str = "2026-11-25T02:00:00Z";
const WEEK: &str = "from=2026-11-23&to=2026-11-29";

async fn a_manager_reads_the_week_per_region_and_station_within_scope(backend: Backend) {
    let clock = Arc::new(ManualClock::new(WEDNESDAY.parse().unwrap()));
    let Some(app) = spawn_app_with(
        backend,
        Options {
            clock: Some(clock.clone()),
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let agent = token(&app.db, Role::Agent).await;
    let dispatcher = token(&app.db, Role::Dispatcher).await;
    let manager = token(&app.db, Role::Manager).await;
    // A carry-in job of the week before, untouched since: its repair
    // deadline (7 days) falls in this week with no entry in it.
    clock.set("2026-11-17T02:00:00Z".parse().unwrap());
    let (st, old) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(job("carry_in", "北京市朝阳区建国路88号", "13800000009")),
    )
    .await;
    assert_eq!(st, 201, "{old}");
    clock.set(WEDNESDAY.parse().unwrap());
    let (st, a) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(job("onsite", "绵阳涪城临园路", "13800000001")),
    )
    .await;
    assert_eq!(st, 201, "{a}");
    let (st, b) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(job("onsite", "成都武侯", "13800000002")),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let (st, c) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(job("carry_in", "上海静安", "13800000003")),
    )
    .await;
    assert_eq!(st, 201, "{c}");
    clock.advance(chrono::Duration::hours(2));
    events(
        &app,
        &dispatcher,
        &a["id"],
        &["en_route", "on_site", "repaired"],
    )
    .await;
    events(&app, &dispatcher, &b["id"], &["cancelled"]).await;
    events(
        &app,
        &dispatcher,
        &c["id"],
        &["repairing", "ready_for_pickup"],
    )
    .await;

    let (st, r) = call(
        &app,
        Method::GET,
        &format!("/api/v1/kpi?{WEEK}"),
        &manager,
        None,
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (
            r["from"].as_str(),
            r["to"].as_str(),
            r["granularity"].as_str()
        ),
        (Some("2026-11-23"), Some("2026-11-29"), Some("none"))
    );
    let net = row(&r, "network", None);
    assert_eq!(value(net, "jobs_opened"), 3.0);
    assert_eq!(value(net, "jobs_cancelled"), 1.0);
    assert_eq!(value(net, "pickup_backlog"), 1.0);
    // Reached 2 h after opening, repaired on the visit.
    assert_eq!(value(net, "first_visit_median_h"), 2.0);
    assert_eq!(value(net, "first_time_fix_rate"), 1.0);
    assert_eq!(value(net, "on_time_repair_rate"), 1.0);
    assert_eq!(net["kpis"]["on_time_repair_rate"]["target"], 0.95);
    assert_eq!(net["kpis"]["on_time_repair_rate"]["status"], "met");
    assert_eq!(net["kpis"]["jobs_opened"]["status"], Value::Null);
    assert_eq!(
        value(net, "sla_breaches"),
        1.0,
        "the old job's deadline fell in the week"
    );
    assert_eq!(value(row(&r, "region", Some("north")), "sla_breaches"), 1.0);
    assert_eq!(value(row(&r, "region", Some("north")), "jobs_opened"), 0.0);
    let sw = row(&r, "region", Some("southwest"));
    assert_eq!(value(sw, "jobs_opened"), 2.0);
    assert_eq!(value(row(&r, "region", Some("east")), "jobs_opened"), 1.0);
    assert_eq!(value(row(&r, "region", Some("north")), "jobs_opened"), 0.0);
    // Every region once, every station once.
    let (_, stations) = call(
        &app,
        Method::GET,
        "/api/v1/stations?limit=1",
        &manager,
        None,
    )
    .await;
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.iter().filter(|x| x["scope"] == "region").count(), 7);
    let station_rows = rows.iter().filter(|x| x["scope"] == "station").count();
    assert_eq!(
        station_rows as u64,
        stations["total"].as_u64().unwrap_or(station_rows as u64)
    );
    // The repaired job's station: ranked first in its region.
    let a_station = a["assignment"]["station_id"].as_str().unwrap();
    let st_row = row(&r, "station", Some(a_station));
    assert_eq!(value(st_row, "jobs_opened"), 1.0);
    assert_eq!(st_row["rank"], 1);
    assert!(st_row["station_name"].as_str().is_some());

    // By day: the same week, one row set per day.
    let (st, d) = call(
        &app,
        Method::GET,
        &format!("/api/v1/kpi?{WEEK}&granularity=day"),
        &manager,
        None,
    )
    .await;
    assert_eq!(st, 200);
    let periods: BTreeSet<&str> = d["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["period"].as_str())
        .collect();
    assert_eq!(periods.len(), 7);
    let wed = d["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["scope"] == "network" && x["period"] == "2026-11-25")
        .unwrap();
    assert_eq!(value(wed, "jobs_opened"), 3.0);

    // Trends leave the stations out when asked.
    let (st, t) = call(
        &app,
        Method::GET,
        &format!("/api/v1/kpi?{WEEK}&granularity=week&stations=false"),
        &manager,
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        t["rows"].as_array().unwrap().len(),
        8,
        "the network and seven regions, one week"
    );

    // CSV: a BOM, a header, one line per row and KPI.
    let res = app
        .client
        .get(app.url(&format!("/api/v1/kpi?{WEEK}&format=csv")))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    assert!(csv.starts_with('\u{feff}'));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + rows.len() * 19);
    assert!(
        lines.contains(&"region,southwest,,,,jobs_opened,2,,,"),
        "{}",
        &lines[..30].join("\n")
    );

    // A manager of the south-west sees the south-west only.
    let sw_mgr = scoped_token(&app.db, Role::Manager, Scope::Region(Region::Southwest)).await;
    let (st, mine) = call(
        &app,
        Method::GET,
        &format!("/api/v1/kpi?{WEEK}"),
        &sw_mgr,
        None,
    )
    .await;
    assert_eq!(st, 200, "{mine}");
    let scopes: BTreeSet<&str> = mine["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, BTreeSet::from(["region", "station"]));
    assert!(mine["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["region"] == "southwest"));
    let (st, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/kpi?{WEEK}&region=east"),
        &sw_mgr,
        None,
    )
    .await;
    assert_eq!(st, 404);
    let east_station = c["station_id"].as_str().unwrap();
    let (st, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/kpi?{WEEK}&station_id={east_station}"),
        &sw_mgr,
        None,
    )
    .await;
    assert_eq!(st, 404);
    let (st, one) = call(
        &app,
        Method::GET,
        &format!("/api/v1/kpi?{WEEK}&station_id={a_station}"),
        &sw_mgr,
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);

    // Bad input: a clear 400 naming the field; other roles: 403.
    for q in [
        "granularity=hour",
        "from=2026-12-01&to=2026-11-01",
        "format=xml",
        "from=yesterday",
        "region=atlantis",
    ] {
        let (st, e) = call(
            &app,
            Method::GET,
            &format!("/api/v1/kpi?{q}"),
            &manager,
            None,
        )
        .await;
        assert_eq!(st, 400, "{q}: {e}");
    }
    let (st, _) = call(&app, Method::GET, "/api/v1/kpi", &agent, None).await;
    assert_eq!(st, 403);
}
crate::on_both_backends!(a_manager_reads_the_week_per_region_and_station_within_scope);

/// `repairnet report` gives the API's numbers for the same period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_report_has_the_apis_numbers() {
    let app = spawn_app().await;
    let agent = token(&app.db, Role::Agent).await;
    let dispatcher = token(&app.db, Role::Dispatcher).await;
    let manager = token(&app.db, Role::Manager).await;
    let (st, a) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(job("onsite", "绵阳涪城临园路", "13800000011")),
    )
    .await;
    assert_eq!(st, 201, "{a}");
    events(&app, &dispatcher, &a["id"], &["en_route", "on_site"]).await;
    let (st, c) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(job("carry_in", "上海静安", "13800000013")),
    )
    .await;
    assert_eq!(st, 201, "{c}");
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let period = format!("{}..{today}", today - chrono::Duration::days(6));
    let (st, api) = call(
        &app,
        Method::GET,
        &format!(
            "/api/v1/kpi?from={}&to={today}&region=southwest",
            today - chrono::Duration::days(6)
        ),
        &manager,
        None,
    )
    .await;
    assert_eq!(st, 200);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_repairnet"))
        .args([
            "report",
            "--period",
            &period,
            "--region",
            "西南",
            "--format",
            "json",
            "--database",
            &app.database_url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli["rows"], api["rows"]);
    assert_eq!(
        value(row(&cli, "region", Some("southwest")), "jobs_opened"),
        1.0
    );
    // Markdown for mail, and a bad period named.
    let md = std::process::Command::new(env!("CARGO_BIN_EXE_repairnet"))
        .args([
            "report",
            "--period",
            &period,
            "--database",
            &app.database_url,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(md.stdout).unwrap();
    assert!(
        text.contains("| 西南 |") && text.contains("jobs_opened"),
        "{text}"
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_repairnet"))
        .args([
            "report",
            "--period",
            "last week",
            "--database",
            &app.database_url,
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("2026-W47"));
}

/// The demo history: the same for the same seed and end, plausible (some
/// jobs still open, follow-ups, complaints), and the report counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_history_is_repeatable_and_feeds_the_report() {
    use repairnet::demo::history::load_history;
    let end: chrono::DateTime<chrono::Utc> = "2026-11-30T10:00:00Z".parse().unwrap();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let app = spawn_app().await;
        let index = std::sync::Arc::new(repairnet::network::SharedIndex::new(
            repairnet::load_index(&app.db).await.unwrap(),
        ));
        let ctx =
            repairnet::dispatch::DispatchContext::new(None, std::time::Duration::from_secs(1))
                .unwrap();
        let stats = load_history(&app.db, index, ctx, 14, 12, 7, end, false)
            .await
            .unwrap();
        let shape: Vec<(String, String)> = sqlx_rows(&app).await;
        runs.push((app, stats, shape));
    }
    let (app, stats, shape) = &runs[0];
    assert_eq!(stats, &runs[1].1);
    assert_eq!(
        shape, &runs[1].2,
        "the same seed and end make the same history"
    );
    assert!(stats.jobs >= 160, "{stats:?}");
    assert!(stats.open > 0 && stats.open < stats.jobs, "{stats:?}");
    let statuses: BTreeSet<&str> = shape.iter().map(|(s, _)| s.as_str()).collect();
    for s in ["closed", "assigned", "repairing"] {
        assert!(statuses.contains(s), "no {s} job in {statuses:?}");
    }
    let manager = token(&app.db, Role::Manager).await;
    let (st, r) = call(
        app,
        Method::GET,
        "/api/v1/kpi?from=2026-11-16&to=2026-11-30",
        &manager,
        None,
    )
    .await;
    assert_eq!(st, 200);
    let net = row(&r, "network", None);
    assert_eq!(
        value(net, "jobs_opened").as_f64().unwrap() as usize,
        stats.jobs
    );
    assert!(
        value(net, "satisfaction_count").as_f64().unwrap() > 0.0,
        "{net}"
    );
    assert!(
        value(net, "on_time_repair_rate").as_f64().is_some(),
        "{net}"
    );
    // Every entry the history posted says it is demo data.
    assert!(
        shape.iter().all(|(_, actors)| actors
            .split(',')
            .all(|a| a == "demo-history" || a == "system")),
        "{shape:?}"
    );
}

/// Per job in id order: its status and the actors of its entries.
async fn sqlx_rows(app: &TestApp) -> Vec<(String, String)> {
    let repairnet::store::Db::Sqlite(pool) = &app.db else {
        unreachable!()
    };
    sqlx::query_as::<_, (String, String)>(
        "SELECT j.status, group_concat(DISTINCT e.actor) FROM jobs j JOIN job_events e ON e.job_id = j.id GROUP BY j.id ORDER BY j.id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Every job write keeps the daily tallies of settled jobs in its own
/// transaction: after a history made through the use cases (holds,
/// pickups, mail-backs, follow-ups after closing, call-backs, cancellations)
/// the stored rows equal a recomputation from the audit log, and rebuilding
/// them from scratch changes no number the API reports.
async fn daily_tallies_kept_by_every_write_equal_a_recomputation(backend: Backend) {
    use repairnet::store::kpi;
    let Some(app) = spawn_app_on(backend).await else {
        return;
    };
    let end: chrono::DateTime<chrono::Utc> = "2026-11-30T10:00:00Z".parse().unwrap();
    let index = Arc::new(repairnet::network::SharedIndex::new(
        repairnet::load_index(&app.db).await.unwrap(),
    ));
    let ctx =
        repairnet::dispatch::DispatchContext::new(None, std::time::Duration::from_secs(1)).unwrap();
    let rules = ctx.kpi_rules();
    let stats = repairnet::demo::history::load_history(&app.db, index, ctx, 28, 8, 11, end, true)
        .await
        .unwrap();
    assert!(stats.open > 0 && stats.open < stats.jobs, "{stats:?}");
    let from = "2026-10-01".parse().unwrap();
    let to = "2026-12-31".parse().unwrap();
    let stored = kpi::days(&app.db, from, to, None, None).await.unwrap();
    assert!(stored.len() > 100, "only {} day rows", stored.len());
    let diffs = kpi::verify(&app.db, &rules).await.unwrap();
    assert!(diffs.is_empty(), "{diffs:#?}");

    let manager = token(&app.db, Role::Manager).await;
    let path = "/api/v1/kpi?from=2026-11-02&to=2026-11-30&granularity=week";
    let (st, before) = call(&app, Method::GET, path, &manager, None).await;
    assert_eq!(st, 200);
    // A tampered row shows up as a difference; a rebuild puts it right.
    let k = &stored[0].0;
    let (day, region, station) = (
        k.day.to_string(),
        k.region.map_or("", Region::code).to_owned(),
        k.station_id
            .as_ref()
            .map_or_else(String::new, |s| s.as_str().to_owned()),
    );
    let tamper = "UPDATE kpi_days SET counters = '{\"opened\": 999}' \
                  WHERE day = $1 AND region = $2 AND station_id = $3";
    repairnet::on_db!(&app.db, p => sqlx::query(tamper).bind(&day).bind(&region).bind(&station)
        .execute(p).await.map(|r| r.rows_affected()))
    .unwrap();
    assert_eq!(kpi::verify(&app.db, &rules).await.unwrap().len(), 1);
    kpi::rebuild(&app.db, &rules).await.unwrap();
    assert!(kpi::verify(&app.db, &rules).await.unwrap().is_empty());
    let (_, after) = call(&app, Method::GET, path, &manager, None).await;
    assert_eq!(before, after);
}
crate::on_both_backends!(daily_tallies_kept_by_every_write_equal_a_recomputation);
