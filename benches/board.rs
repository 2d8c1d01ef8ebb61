//! The dispatch board under load, in a real headless Chromium: first paint
//! of the board with 2,000 open jobs (every row listed and every job on the
//! map, as a marker or counted in a cluster), and how long one change takes
//! to reach an open board (hold / resume through the API until the job's row
//! shows the new status).
//!
//! Not criterion: it prints its own figures. Run with
//! `cargo bench --bench board`. Needs `/usr/bin/chromedriver` and
//! `/usr/bin/chromium`; without them it prints why it skipped.
//!
//! `BOARD_PROFILE=1` then profiles one more load and ten more changes
//! (Chrome DevTools through chromedriver): the costliest functions and the
//! renderer's script, style and layout time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark set-up; a failure there is the benchmark's own bug"
)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use futures_util::StreamExt;
use hyper_util::client::legacy::connect::HttpConnector;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use repairnet::auth::{Role, Scope};
use repairnet::config::Settings;
use repairnet::store::{tokens, Db};
use repairnet::Application;
use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const JOBS: usize = 2000;
const LOADS: usize = 5;
const CHANGES: usize = 100;
const POLL: Duration = Duration::from_millis(20);
const WAIT: Duration = Duration::from_secs(60);

/// Kills chromedriver (and with it the browser) however the run ends.
struct Chromedriver(Child);

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// chromedriver, its address and a headless session with a 1280×800 window.
async fn browser() -> (Chromedriver, String, Client) {
    let port = free_port();
    let driver = Chromedriver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !reqwest::get(format!("{base}/status"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < WAIT,
            "chromedriver did not answer on {base}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--disable-background-networking",
                     "--window-size=1280,800"],
        }),
    );
    // Plain HTTP on loopback (see tests/api/web.rs for why not TLS).
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&base)
        .await
        .expect("a browser session");
    (driver, base, client)
}

async fn token(db: &Db, role: Role) -> String {
    tokens::issue(db, role, Scope::All, "bench", None)
        .await
        .expect("token")
        .0
}

/// On-site stations that repair notebooks: the places jobs are put near.
async fn stations(http: &reqwest::Client, base: &str) -> Vec<(f64, f64, String)> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor.as_deref().map(|c| format!("&cursor={c}"));
        let url = format!(
            "{base}/api/v1/stations?limit=1000&service=onsite&product=notebook{}",
            after.unwrap_or_default()
        );
        let page: Value = http.get(url).send().await.unwrap().json().await.unwrap();
        for s in page["items"].as_array().unwrap() {
            out.push((
                s["lat"].as_f64().unwrap(),
                s["lon"].as_f64().unwrap(),
                s["city"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// Opens `JOBS` on-site notebook jobs through the API, each a few km from
/// a random station; every fifth without auto-assignment. Returns the
/// created jobs.
async fn create_jobs(http: &reqwest::Client, base: &str, tok: &str) -> Vec<Value> {
    let places = stations(http, base).await;
    assert!(!places.is_empty(), "no on-site notebook stations");
    let purchase = (chrono::Utc::now().date_naive() - chrono::Days::new(40)).to_string();
    let mut rng = ChaCha8Rng::seed_from_u64(2000);
    let bodies: Vec<Value> = (0..JOBS)
        .map(|i| {
            let (lat, lon, city) = places.choose(&mut rng).unwrap();
            // ±0.03° is about ±3 km.
            let lat = lat + rng.gen_range(-0.03..=0.03);
            let lon = lon + rng.gen_range(-0.03..=0.03);
            let mut body = json!({
                "kind": "onsite",
                "customer": {"name": format!("客户{i}"), "phone": format!("139{:08}", i)},
                "address": format!("{city}测试路{}号", i + 1),
                "lat": lat,
                "lon": lon,
                "product": "notebook",
                "purchase_date": purchase,
                "problem": "开机无显示",
            });
            if i % 5 == 4 {
                body["auto_assign"] = json!(false);
            }
            body
        })
        .collect();
    let url = format!("{base}/api/v1/jobs");
    futures_util::stream::iter(bodies)
        .map(|body| {
            let req = http.post(&url).bearer_auth(tok).json(&body).send();
            async move {
                let res = req.await.unwrap();
                let status = res.status().as_u16();
                let job: Value = res.json().await.unwrap();
                assert_eq!(status, 201, "{job}");
                job
            }
        })
        .buffer_unordered(8)
        .collect()
        .await
}

/// Open jobs the dispatcher sees, paged as the board reads them.
async fn count_open(http: &reqwest::Client, base: &str, tok: &str) -> u64 {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor.as_deref().map(|c| format!("&cursor={c}"));
        let url = format!(
            "{base}/api/v1/jobs?status=open&limit=500&summary=true{}",
            after.unwrap_or_default()
        );
        let page: Value = http
            .get(url)
            .bearer_auth(tok)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        n += page["items"].as_array().unwrap().len() as u64;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return n,
        }
    }
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect("script runs")
}

/// What the board shows: rows, single job markers, cluster icons and the
/// jobs counted in them. Null until the board says it is ready.
const BOARD_STATE: &str = r#"
if (document.body.dataset.ready !== 'true') return null;
const map = document.querySelector('[data-testid="map"]');
let clustered = 0;
for (const c of map.querySelectorAll('.job-cluster .count')) clustered += Number(c.textContent);
return {
  rows: document.querySelectorAll('[data-testid="job-row"]').length,
  markers: map.querySelectorAll('.job-marker').length,
  clusters: map.querySelectorAll('.job-cluster').length,
  clustered,
};
"#;

struct Paint {
    secs: f64,
    rows: u64,
    markers: u64,
    clusters: u64,
    /// In the page, from navigation start: load event, last job-list page
    /// received, board drawn.
    page: Value,
}

/// Where a load's time went, from the page's own clock.
const LOAD_TIMES: &str = r"
const nav = performance.getEntriesByType('navigation')[0];
const jobs = performance.getEntriesByType('resource')
  .filter(e => e.name.includes('/api/v1/jobs?')).map(e => e.responseEnd);
return {load: Math.round(nav.loadEventEnd), jobs: Math.round(Math.max(0, ...jobs)),
        drawn: Math.round(performance.now())};
";

/// Loads the board afresh and times it until it is ready, lists every open
/// job and has every one on the map (single markers plus the jobs counted
/// in cluster icons), then one more animation frame.
async fn first_paint(c: &Client, url: &str, open: u64, blank_first: bool) -> Paint {
    // A blank page first: the board drops `#token=` from its address, so
    // going to the same URL again would only change the fragment.
    if blank_first {
        c.goto("about:blank").await.expect("blank page");
    }
    let started = Instant::now();
    c.goto(url).await.expect("page loads");
    loop {
        let v = js(c, BOARD_STATE).await;
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        if !v.is_null() && n("rows") == open && n("markers") + n("clustered") == open {
            c.execute_async(
                "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => setTimeout(done, 0));",
                vec![],
            )
            .await
            .expect("a frame");
            let secs = started.elapsed().as_secs_f64();
            return Paint {
                secs,
                page: js(c, LOAD_TIMES).await,
                rows: n("rows"),
                markers: n("markers"),
                clusters: n("clusters"),
            };
        }
        assert!(
            started.elapsed() < WAIT,
            "the board did not show {open} jobs: last state {v}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Records when the page fetches a single job (`GET /api/v1/jobs/{id}`,
/// what the board does on a change-feed entry): start and end, epoch ms.
const FETCH_SPY: &str = r"
if (!window.__bench) {
  window.__bench = {};
  const f = window.fetch;
  const t = () => performance.timeOrigin + performance.now();
  window.fetch = function (input, init) {
    const m = String((input && input.url) || input).match(/\/api\/v1\/jobs\/(\d+)$/);
    const start = t();
    const p = f.apply(this, arguments);
    if (m) p.then(() => { window.__bench[m[1]] = { start, end: t() }; }, () => {});
    return p;
  };
}
";

/// One change's way to the board, seconds: in all; from the POST until the
/// page asked for the job (server, feed, browser); the page's fetch of the
/// job; from the fetched job until its row showed the new status (the
/// board's re-render plus up to one poll).
struct Change {
    total: f64,
    feed: f64,
    fetch: f64,
    apply: f64,
}

fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// Posts hold / resume on random assigned jobs, `n` in all, and times
/// each from just before the POST until the job's row shows the new status.
async fn change_latencies(
    c: &Client,
    http: &reqwest::Client,
    base: &str,
    tok: &str,
    assigned: &[(i64, String)],
    n: usize,
) -> Vec<Change> {
    js(c, FETCH_SPY).await;
    let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
    let mut out = Vec::with_capacity(n);
    let mut held: Option<&(i64, String)> = None;
    for _ in 0..n {
        let (job, body, want) = if let Some(j) = held.take() {
            (j, json!({"event": "resume"}), "assigned")
        } else {
            let j = assigned.choose(&mut rng).unwrap();
            held = Some(j);
            (
                j,
                json!({"event": "hold", "reason": "客户出差，下周再约"}),
                "on_hold",
            )
        };
        let (id, code) = job;
        let check = format!(
            "const r = document.querySelector('[data-testid=\"job-row\"][data-code=\"{code}\"]');\
             return r && r.dataset.status === '{want}' ? performance.timeOrigin + performance.now() : null;"
        );
        js(c, &format!("delete window.__bench['{id}'];")).await;
        let posted = epoch_ms();
        let started = Instant::now();
        let res = http
            .post(format!("{base}/api/v1/jobs/{id}/events"))
            .bearer_auth(tok)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{code}: {}", res.status());
        let shown = loop {
            if let Some(t) = js(c, &check).await.as_f64() {
                break t;
            }
            assert!(
                started.elapsed() < WAIT,
                "{code} never showed {want} on the board"
            );
            tokio::time::sleep(POLL).await;
        };
        let total = started.elapsed().as_secs_f64();
        let spy = js(c, &format!("return window.__bench['{id}'] || null;")).await;
        let (start, end) = (
            spy["start"].as_f64().unwrap_or(f64::NAN),
            spy["end"].as_f64().unwrap_or(f64::NAN),
        );
        out.push(Change {
            total,
            feed: (start - posted) / 1000.0,
            fetch: (end - start) / 1000.0,
            apply: (shown - end) / 1000.0,
        });
        // Changes arrive one at a time, as a dispatcher makes them.
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..250))).await;
    }
    out
}

/// Chrome DevTools commands through chromedriver, for the optional profile.
struct Cdp {
    http: reqwest::Client,
    url: String,
}

impl Cdp {
    async fn new(driver_base: &str, c: &Client) -> Cdp {
        let sid = c.session_id().await.unwrap().expect("a session id");
        Cdp {
            http: reqwest::Client::new(),
            url: format!("{driver_base}/session/{sid}/goog/cdp/execute"),
        }
    }

    async fn call(&self, cmd: &str, params: Value) -> Value {
        let res: Value = self
            .http
            .post(&self.url)
            .json(&json!({"cmd": cmd, "params": params}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        res["value"].clone()
    }

    /// The renderer's running totals: time in tasks, script, style and
    /// layout (seconds) and the style and layout counts.
    async fn metrics(&self) -> std::collections::HashMap<String, f64> {
        let m = self.call("Performance.getMetrics", json!({})).await;
        m["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["name"].as_str().unwrap().to_owned(),
                    x["value"].as_f64().unwrap_or(0.0),
                )
            })
            .collect()
    }

    async fn start(&self) -> std::collections::HashMap<String, f64> {
        self.call("Performance.enable", json!({})).await;
        self.call("Profiler.enable", json!({})).await;
        self.call("Profiler.setSamplingInterval", json!({"interval": 200}))
            .await;
        self.call("Profiler.start", json!({})).await;
        self.metrics().await
    }

    /// Stops the profiler and prints where the time went.
    async fn stop(&self, what: &str, before: &std::collections::HashMap<String, f64>) {
        let p = self.call("Profiler.stop", json!({})).await;
        let after = self.metrics().await;
        report_profile(what, &p["profile"]);
        let d = |k: &str| {
            let a = after.get(k).copied().unwrap_or(0.0);
            let b = before.get(k).copied().unwrap_or(0.0);
            // A new document may start its totals from zero.
            if a >= b {
                a - b
            } else {
                a
            }
        };
        println!(
            "  renderer: tasks {:.0} ms, script {:.0} ms, style {:.0} ms ({} recalcs), layout {:.0} ms ({} layouts)",
            d("TaskDuration") * 1000.0,
            d("ScriptDuration") * 1000.0,
            d("RecalcStyleDuration") * 1000.0,
            d("RecalcStyleCount"),
            d("LayoutDuration") * 1000.0,
            d("LayoutCount")
        );
    }
}

/// The ten largest entries of `m` whose key passes `keep`.
fn top<'a>(
    m: &std::collections::HashMap<&'a str, f64>,
    keep: impl Fn(&str) -> bool,
) -> Vec<(&'a str, f64)> {
    let mut v: Vec<(&str, f64)> = m
        .iter()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| (*k, *v))
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v.truncate(10);
    v
}

/// Self and total time per function from a CPU profile: the ten costliest
/// by self time, and the ten page functions (not Leaflet) by total time.
fn report_profile(what: &str, p: &Value) {
    use std::collections::{HashMap, HashSet};
    let nodes = p["nodes"].as_array().unwrap();
    let mut key = HashMap::new();
    let mut parent = HashMap::new();
    for n in nodes {
        let id = n["id"].as_i64().unwrap();
        let f = &n["callFrame"];
        let url = f["url"].as_str().unwrap_or_default();
        let file = url.rsplit('/').next().unwrap_or_default();
        let name = match f["functionName"].as_str() {
            Some("") | None => "(anonymous)",
            Some(s) => s,
        };
        let k = if file.is_empty() {
            name.to_owned()
        } else {
            format!(
                "{name} {file}:{}",
                f["lineNumber"].as_i64().unwrap_or(0) + 1
            )
        };
        key.insert(id, k);
        for ch in n["children"].as_array().into_iter().flatten() {
            parent.insert(ch.as_i64().unwrap(), id);
        }
    }
    let mut own: HashMap<&str, f64> = HashMap::new();
    let mut total: HashMap<&str, f64> = HashMap::new();
    let samples = p["samples"].as_array().unwrap();
    let deltas = p["timeDeltas"].as_array().unwrap();
    let mut busy = 0.0;
    for (i, s) in samples.iter().enumerate() {
        // A sample's time is the gap to the next one.
        let dt = deltas.get(i + 1).and_then(Value::as_f64).unwrap_or(0.0) / 1000.0;
        let mut id = s.as_i64().unwrap();
        let k = key[&id].as_str();
        if k == "(idle)" {
            continue;
        }
        busy += dt;
        *own.entry(k).or_default() += dt;
        let mut seen = HashSet::new();
        loop {
            let k = key[&id].as_str();
            if seen.insert(k) {
                *total.entry(k).or_default() += dt;
            }
            match parent.get(&id) {
                Some(&up) => id = up,
                None => break,
            }
        }
    }
    println!();
    println!("profile, {what}: {busy:.0} ms busy on the main thread");
    println!("  self time:");
    for (k, v) in top(&own, |_| true) {
        println!("    {v:7.1} ms  {k}");
    }
    println!("  total time, the page's own code:");
    for (k, v) in top(&total, |k| {
        k.contains("dispatch.js") || k.contains("staff.js")
    }) {
        println!("    {v:7.1} ms  {k}");
    }
}

/// One more load of the board under the profiler, straight from the open
/// board (same site, same renderer; the token is in the tab's session).
async fn profile_load(c: &Client, cdp: &Cdp, url: &str, open: u64) {
    let before = cdp.start().await;
    let p = first_paint(c, url, open, false).await;
    cdp.stop(&format!("one board load ({})", ms(p.secs)), &before)
        .await;
}

/// Ten more changes under the profiler.
async fn profile_changes(
    c: &Client,
    cdp: &Cdp,
    http: &reqwest::Client,
    base: &str,
    tok: &str,
    assigned: &[(i64, String)],
) {
    let before = cdp.start().await;
    let lat = change_latencies(c, http, base, tok, &assigned[..assigned.len().min(50)], 10).await;
    let sum: f64 = lat.iter().map(|c| c.total).sum();
    cdp.stop(
        &format!("10 changes ({} mean)", ms(sum / lat.len() as f64)),
        &before,
    )
    .await;
}

/// The value at quantile `q` of sorted `xs` (nearest rank).
fn quantile(xs: &[f64], q: f64) -> f64 {
    let rank = (q * xs.len() as f64).ceil() as usize;
    xs[rank.clamp(1, xs.len()) - 1]
}

fn ms(s: f64) -> String {
    format!("{:.0} ms", s * 1000.0)
}

async fn run() {
    let dir = std::env::temp_dir().join(format!("repairnet-board-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let database_url = format!("sqlite://{}", dir.join("board.db").display());
    let settings = Settings {
        bind: "127.0.0.1:0".into(),
        database_url: database_url.clone(),
        no_demo_history: true,
        ..Settings::default()
    };
    let app = Application::build(settings).await.expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let db = Db::connect(&database_url).await.expect("a connection");
    let dispatcher = token(&db, Role::Dispatcher).await;
    let http = reqwest::Client::new();

    let started = Instant::now();
    let jobs = create_jobs(&http, &base, &dispatcher).await;
    let assigned: Vec<(i64, String)> = jobs
        .iter()
        .filter(|j| j["status"] == json!("assigned"))
        .map(|j| {
            (
                j["id"].as_i64().unwrap(),
                j["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    println!(
        "created {} jobs in {:.1} s ({} auto-assigned, {} unassigned)",
        jobs.len(),
        started.elapsed().as_secs_f64(),
        assigned.len(),
        jobs.len() - assigned.len()
    );
    // The demo network may bring open jobs of its own.
    let open_n = count_open(&http, &base, &dispatcher).await;
    println!("open jobs on the board: {open_n}");

    let (_driver, driver_base, c) = browser().await;
    let url = format!("{base}/dispatch#token={dispatcher}");
    let mut paints = Vec::new();
    for i in 0..LOADS {
        let p = first_paint(&c, &url, open_n, true).await;
        println!(
            "load {}: {} ({} rows, {} single markers, {} clusters; in the page: \
             scripts loaded {} ms, job list in {} ms, drawn {} ms)",
            i + 1,
            ms(p.secs),
            p.rows,
            p.markers,
            p.clusters,
            p.page["load"],
            p.page["jobs"],
            p.page["drawn"]
        );
        paints.push(p.secs);
    }
    // The board stays open from the last load for the changes.
    let changes = change_latencies(&c, &http, &base, &dispatcher, &assigned, CHANGES).await;
    if std::env::var_os("BOARD_PROFILE").is_some() {
        let cdp = Cdp::new(&driver_base, &c).await;
        profile_load(&c, &cdp, &format!("{base}/dispatch?profile"), open_n).await;
        profile_changes(&c, &cdp, &http, &base, &dispatcher, &assigned).await;
    }
    c.close().await.expect("close the session");
    let _ = std::fs::remove_dir_all(&dir);

    paints.sort_by(f64::total_cmp);
    let sorted = |f: fn(&Change) -> f64| {
        let mut v: Vec<f64> = changes.iter().map(f).filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let lat = sorted(|c| c.total);
    println!();
    println!("| board, {JOBS} open jobs | figure | target |");
    println!("| --- | --- | --- |");
    println!(
        "| first paint, all rows and markers ({LOADS} loads) | median {}, max {} | < 1.5 s |",
        ms(quantile(&paints, 0.5)),
        ms(*paints.last().unwrap())
    );
    println!(
        "| change to open board ({CHANGES} hold/resume) | p50 {}, p99 {}, max {} | p99 < 2 s |",
        ms(quantile(&lat, 0.5)),
        ms(quantile(&lat, 0.99)),
        ms(*lat.last().unwrap())
    );
    println!();
    println!("where a change's time went (p50 / p99 / max):");
    for (what, f) in [
        (
            "POST until the page asks for the job",
            (|c: &Change| c.feed) as fn(&Change) -> f64,
        ),
        ("the page's fetch of the job", |c: &Change| c.fetch),
        ("fetched job until its row shows it", |c: &Change| c.apply),
    ] {
        let v = sorted(f);
        if v.is_empty() {
            continue;
        }
        println!(
            "  {what}: {} / {} / {}",
            ms(quantile(&v, 0.5)),
            ms(quantile(&v, 0.99)),
            ms(*v.last().unwrap())
        );
    }
    let worst = changes
        .iter()
        .max_by(|a, b| a.total.total_cmp(&b.total))
        .unwrap();
    println!(
        "  slowest change: {} = {} + {} + {} (+ the POST's own answer and polling)",
        ms(worst.total),
        ms(worst.feed),
        ms(worst.fetch),
        ms(worst.apply)
    );
}

fn main() {
    // `cargo test --benches` runs benches once in test mode: nothing to do.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if !Path::new(CHROMEDRIVER).exists() {
        println!("SKIPPED: {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(run());
}
