//! Browser tests of the regional dashboard /kpi (headless Chromium, axe-core):
//! the seven regions show the API's numbers for the period on screen, the
//! trend charts draw, a region's stations are the API's station rows in a
//! table that sorts and on a map, complaints waiting for a call back are
//! listed with the customer's phone, and the CSV is the API's.
//!
//! Screenshots go to `target/screenshots/kpi-*.png`.

use std::collections::BTreeSet;

use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::web::*;
use repairnet::auth::Role;

const REGIONS: [&str; 7] = [
    "north",
    "northeast",
    "east",
    "central",
    "south",
    "southwest",
    "northwest",
];

const KPIS: [&str; 19] = [
    "jobs_opened",
    "jobs_closed",
    "jobs_cancelled",
    "on_time_repair_rate",
    "first_visit_on_time_rate",
    "first_visit_median_h",
    "first_visit_p90_h",
    "sla_breaches",
    "sla_warnings",
    "late_notice_before_due_rate",
    "follow_up_within_3d_rate",
    "satisfaction_mean",
    "satisfaction_count",
    "complaints",
    "complaints_recontacted",
    "pickup_backlog",
    "mailed_back",
    "first_time_fix_rate",
    "utilisation",
];

fn purchase_date() -> String {
    (chrono::Utc::now().date_naive() - chrono::Days::new(40)).to_string()
}

/// Opens a job as a call-centre agent would.
async fn open_job(app: &TestApp, agent: &str, kind: &str, name: &str, address: &str) -> Value {
    let (status, job) = call(
        app,
        Method::POST,
        "/api/v1/jobs",
        agent,
        Some(json!({
            "kind": kind,
            "customer": {"name": name, "phone": "13912345678"},
            "address": address,
            "product": "notebook",
            "purchase_date": purchase_date(),
            "problem": "开机无显示",
        })),
    )
    .await;
    assert_eq!(status, 201, "{job}");
    job
}

/// Gives an on-site job that intake left unassigned (no technician free
/// today, say) to the best candidate, as a dispatcher would.
async fn ensure_assigned(app: &TestApp, dispatcher: &str, job: &Value) {
    if job["kind"] != "onsite" || job["status"] != "new" {
        return;
    }
    let id = &job["id"];
    let rec = api_get(
        app,
        dispatcher,
        &format!("/api/v1/jobs/{id}/recommendation"),
    )
    .await;
    let tech = rec["candidates"][0]["technician_id"].clone();
    assert!(tech.is_i64(), "no technician for {}: {rec}", job["code"]);
    let (status, body) = call(
        app,
        Method::POST,
        &format!("/api/v1/jobs/{id}/assign"),
        dispatcher,
        Some(json!({"technician_id": tech})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn events(app: &TestApp, dispatcher: &str, job: &Value, list: &[&str]) {
    ensure_assigned(app, dispatcher, job).await;
    let path = format!("/api/v1/jobs/{}/events", job["id"]);
    for e in list {
        let (status, body) = call(
            app,
            Method::POST,
            &path,
            dispatcher,
            Some(json!({"event": e})),
        )
        .await;
        assert_eq!(status, 200, "{e}: {body}");
    }
}

/// The customer's own rating from the survey page (public).
async fn rate(app: &TestApp, job: &Value, score: u8) {
    let res = app
        .client
        .post(app.url("/api/v1/survey"))
        .json(&json!({"code": job["code"], "phone_last4": "5678", "score": score}))
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "{body}");
}

/// A GET with one retry: a pooled connection the server closed while the
/// browser was busy (keep-alive ran out) fails once, harmlessly.
async fn api_text(app: &TestApp, token: &str, path: &str) -> String {
    let send = || app.client.get(app.url(path)).bearer_auth(token).send();
    let res = match send().await {
        Ok(res) => res,
        Err(_) => send().await.expect("the server answers"),
    };
    let status = res.status().as_u16();
    let body = res.text().await.expect("a body");
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn api_get(app: &TestApp, token: &str, path: &str) -> Value {
    serde_json::from_str(&api_text(app, token, path).await).expect("JSON")
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect("script runs")
}

/// Clicks `css`, retrying while the element is missing or not yet
/// interactable (the drill-down sliding in on a busy machine).
async fn click(c: &Client, css: &str) {
    let started = std::time::Instant::now();
    loop {
        let outcome = match c.find(Locator::Css(css)).await {
            Ok(e) => e.click().await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => return,
            Err(_) if started.elapsed() < WAIT => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("click {css}: {e}"),
        }
    }
}

/// The period the page shows, as it asks the API for it.
async fn page_period(c: &Client) -> (String, String) {
    let v = js(
        c,
        "return [document.getElementById('from').value, document.getElementById('to').value];",
    )
    .await;
    (
        v[0].as_str().expect("from").to_owned(),
        v[1].as_str().expect("to").to_owned(),
    )
}

/// Every `data-testid="kpi-value"` of a card as `(kpi, data-value, text)`.
async fn card_values(c: &Client, card_css: &str) -> Vec<(String, String, String)> {
    let v = js(
        c,
        &format!(
            "return [...document.querySelectorAll(\"{card_css} [data-testid='kpi-value']\")]\
               .map(e => [e.dataset.kpi, e.dataset.value, e.textContent]);"
        ),
    )
    .await;
    v.as_array()
        .expect("values")
        .iter()
        .map(|t| {
            (
                t[0].as_str().unwrap().to_owned(),
                t[1].as_str().unwrap().to_owned(),
                t[2].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The card's numbers are the row's: every KPI's raw value, and the
/// counts as text exactly.
async fn assert_card_matches(c: &Client, card_css: &str, row: &Value, what: &str) {
    let shown = card_values(c, card_css).await;
    let keys: BTreeSet<&str> = shown.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        KPIS.iter().copied().collect(),
        "{what}: one number per KPI"
    );
    for (kpi, raw, text) in &shown {
        let api = &row["kpis"][kpi]["value"];
        match api.as_f64() {
            None => {
                assert!(api.is_null(), "{what} {kpi}: {api}");
                assert_eq!(raw, "", "{what} {kpi}: no value in the API");
                assert_eq!(text, "—", "{what} {kpi}");
            }
            Some(x) => {
                let y: f64 = raw.parse().unwrap_or(f64::NAN);
                assert!((x - y).abs() < 1e-9, "{what} {kpi}: API {x}, page {raw}");
            }
        }
    }
    for count in [
        "jobs_opened",
        "jobs_closed",
        "sla_breaches",
        "pickup_backlog",
    ] {
        let api = row["kpis"][count]["value"].as_f64().expect("a count");
        let (_, _, text) = shown.iter().find(|(k, _, _)| k == count).unwrap();
        assert_eq!(
            text.replace(',', ""),
            format!("{}", api as i64),
            "{what} {count}"
        );
    }
}

/// Opaque pixels on a chart's canvas, and how many are `rgb` exactly.
async fn chart_pixels(c: &Client, kpi: &str, rgb: [u8; 3]) -> (u64, u64) {
    let v = js(
        c,
        &format!(
            "const cv = document.querySelector(\"[data-testid='kpi-chart'][data-kpi='{kpi}'] canvas\");\
             if (!cv || !cv.width || !cv.height) return [0, 0];\
             const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;\
             let opaque = 0, hit = 0;\
             for (let i = 0; i < d.length; i += 4) {{\
               if (d[i + 3] > 0) opaque++;\
               if (d[i + 3] === 255 && d[i] === {} && d[i + 1] === {} && d[i + 2] === {}) hit++;\
             }}\
             return [opaque, hit];",
            rgb[0], rgb[1], rgb[2]
        ),
    )
    .await;
    (v[0].as_u64().unwrap_or(0), v[1].as_u64().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_regional_dashboard_shows_the_apis_kpis() {
    let app = spawn_app().await;
    let Some((_driver, c)) = browser().await else {
        return;
    };
    run(c.clone(), check_dashboard(&app, &c)).await;
}

async fn check_dashboard(app: &TestApp, c: &Client) {
    let agent = token(&app.db, Role::Agent).await;
    let dispatcher = token(&app.db, Role::Dispatcher).await;
    let manager = token(&app.db, Role::Manager).await;

    // A little history: on-site jobs at every stage in the south-west, one
    // rated 2 (a complaint) and one in the east rated 5, a carry-in waiting
    // for pickup, an untouched job in the centre.
    let mianyang = open_job(app, &agent, "onsite", "张伟", "绵阳涪城临园路").await;
    events(
        app,
        &dispatcher,
        &mianyang,
        &["en_route", "on_site", "repaired"],
    )
    .await;
    rate(app, &mianyang, 2).await;
    let chengdu = open_job(app, &agent, "onsite", "李娜", "成都武侯区").await;
    events(app, &dispatcher, &chengdu, &["en_route", "on_site"]).await;
    let shanghai = open_job(app, &agent, "onsite", "陈静", "上海静安区").await;
    events(
        app,
        &dispatcher,
        &shanghai,
        &["en_route", "on_site", "repaired"],
    )
    .await;
    rate(app, &shanghai, 5).await;
    let luzhou = open_job(app, &agent, "carry_in", "刘洋", "泸州江阳").await;
    events(
        app,
        &dispatcher,
        &luzhou,
        &["repairing", "ready_for_pickup"],
    )
    .await;
    open_job(app, &agent, "onsite", "王芳", "郑州二七区").await;

    // Another role gets the log-in form with the reason.
    c.goto(&app.url(&format!("/kpi#token={agent}")))
        .await
        .expect("page loads");
    let why = wait_js(
        c,
        "!document.getElementById('login-error').hidden && document.getElementById('login-error').textContent",
    )
    .await;
    assert!(why.as_str().unwrap().contains("角色"), "{why}");

    // (1) Seven regions with the API's numbers for the period on screen.
    // A new document: only the fragment changing would not reload the page.
    c.goto("about:blank").await.expect("blank page");
    c.goto(&app.url(&format!("/kpi#token={manager}")))
        .await
        .expect("page loads");
    wait_js(
        c,
        "document.body.dataset.ready === 'true' \
         && document.querySelectorAll(\"[data-testid='kpi-region']\").length === 7",
    )
    .await;
    let shown: BTreeSet<String> = js(
        c,
        "return [...document.querySelectorAll(\"[data-testid='kpi-region']\")].map(e => e.dataset.region);",
    )
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(|v| v.as_str().unwrap().to_owned())
    .collect();
    assert_eq!(
        shown,
        REGIONS.iter().map(|s| (*s).to_owned()).collect(),
        "one card per region"
    );
    let (from, to) = page_period(c).await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    assert_eq!(to, today.to_string(), "the last 7 days by default");
    assert_eq!(from, (today - chrono::Days::new(6)).to_string());
    let report = api_get(
        app,
        &manager,
        &format!("/api/v1/kpi?from={from}&to={to}&granularity=none"),
    )
    .await;
    let rows = report["rows"].as_array().expect("rows");
    let region_row = |code: &str| {
        rows.iter()
            .find(|r| r["scope"] == "region" && r["region"] == code)
            .unwrap_or_else(|| panic!("no row for {code}"))
    };
    for code in REGIONS {
        assert_card_matches(
            c,
            &format!("[data-testid='kpi-region'][data-region='{code}']"),
            region_row(code),
            code,
        )
        .await;
    }
    let network = rows
        .iter()
        .find(|r| r["scope"] == "network")
        .expect("network row");
    assert_card_matches(c, "[data-testid='kpi-network']", network, "network").await;
    let sw_opened = region_row("southwest")["kpis"]["jobs_opened"]["value"]
        .as_f64()
        .unwrap();
    assert!(sw_opened >= 3.0, "the history counts: {sw_opened}");
    // A status is a word and a symbol, never a colour alone.
    let badges = js(
        c,
        "return [...document.querySelectorAll(\"[data-testid='kpi-region'] .badge\")]\
           .map(b => b.textContent.trim());",
    )
    .await;
    let badges = badges.as_array().unwrap();
    assert!(!badges.is_empty(), "the history meets some targets");
    for b in badges {
        let b = b.as_str().unwrap();
        assert!(["✓ 达标", "! 预警", "✗ 未达标"].contains(&b), "badge {b:?}");
    }

    // (2) The trend charts have drawn: one per KPI, on canvases of some size.
    wait_js(
        c,
        "document.querySelectorAll(\"[data-testid='kpi-chart'] canvas\").length === 19",
    )
    .await;
    let (opaque, _) = chart_pixels(c, "jobs_opened", [0, 0, 0]).await;
    assert!(
        opaque > 500,
        "the jobs_opened chart is blank ({opaque} pixels)"
    );
    // The network's line (its colour, exactly) is on the chart.
    let (_, grey) = chart_pixels(c, "jobs_opened", [0x56, 0x65, 0x6f]).await;
    assert!(grey > 20, "no network line ({grey} pixels)");

    // Complaints waiting for a call back, with the phone to call.
    let complaint = format!(
        "[data-testid='kpi-complaint'][data-code='{}']",
        mianyang["code"].as_str().unwrap()
    );
    wait_js(c, &format!("document.querySelector(\"{complaint}\")")).await;
    let tel = js(
        c,
        &format!(
            "return document.querySelector(\"{complaint} a[href^='tel:']\").getAttribute('href');"
        ),
    )
    .await;
    assert_eq!(tel, json!("tel:13912345678"));
    let others = js(
        c,
        "return document.querySelectorAll(\"[data-testid='kpi-complaint']\").length;",
    )
    .await;
    assert_eq!(others, json!(1), "only the job rated 2 is a complaint");

    assert_accessible(c, "the dashboard").await;
    screenshots(c, "kpi").await;

    // (3) Drill into the south-west: its stations are the API's station rows.
    click(
        c,
        "[data-testid='kpi-region'][data-region='southwest'] .region-btn",
    )
    .await;
    wait_js(
        c,
        "!document.querySelector(\"[data-testid='kpi-drill']\").hidden \
         && document.querySelectorAll(\"[data-testid='kpi-station']\").length > 0",
    )
    .await;
    let api_stations: BTreeSet<String> = rows
        .iter()
        .filter(|r| r["scope"] == "station" && r["region"] == "southwest")
        .map(|r| r["station_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!api_stations.is_empty());
    let listed: Vec<String> = js(
        c,
        "return [...document.querySelectorAll(\"[data-testid='kpi-station']\")].map(r => r.dataset.station);",
    )
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(|v| v.as_str().unwrap().to_owned())
    .collect();
    assert_eq!(
        listed.iter().cloned().collect::<BTreeSet<_>>(),
        api_stations,
        "one table row per station row of the API"
    );
    assert_eq!(listed.len(), api_stations.len());
    // Ranked first: the API's rank 1 heads the table, its rank shown.
    let first = rows
        .iter()
        .find(|r| r["scope"] == "station" && r["region"] == "southwest" && r["rank"] == 1)
        .expect("a ranked station in the south-west");
    assert_eq!(listed[0], first["station_id"].as_str().unwrap());
    let rank_text = js(
        c,
        "return document.querySelector(\"[data-testid='kpi-station'] td[data-col='rank']\").textContent;",
    )
    .await;
    assert_eq!(rank_text, json!("1"));

    // Sorting: a header is a button; the column's aria-sort follows.
    click(c, "#stations button.sort[data-key='jobs_opened']").await;
    wait_js(
        c,
        "document.querySelector(\"#stations button.sort[data-key='jobs_opened']\").closest('th').getAttribute('aria-sort') === 'descending'",
    )
    .await;
    let most = rows
        .iter()
        .filter(|r| r["scope"] == "station" && r["region"] == "southwest")
        .filter_map(|r| r["kpis"]["jobs_opened"]["value"].as_f64())
        .fold(0.0_f64, f64::max);
    let top = js(
        c,
        "return document.querySelector(\"[data-testid='kpi-station'] td[data-col='jobs_opened'] .v\").textContent;",
    )
    .await;
    assert_eq!(top, json!(format!("{}", most as i64)));
    assert_eq!(
        js(c, "return document.activeElement.dataset.key;").await,
        json!("jobs_opened"),
        "focus stays on the header after sorting"
    );
    click(c, "#stations button.sort[data-key='jobs_opened']").await;
    wait_js(
        c,
        "document.querySelector(\"#stations button.sort[data-key='jobs_opened']\").closest('th').getAttribute('aria-sort') === 'ascending'",
    )
    .await;
    click(c, "#stations button.sort[data-key='rank']").await;

    // The stations on the map, one marker per station of the region.
    let geo = api_get(
        app,
        &manager,
        "/api/v1/stations?region=southwest&format=geojson&limit=5000",
    )
    .await;
    let n = geo["features"].as_array().unwrap().len();
    wait_js(
        c,
        &format!(
            "document.querySelectorAll(\"[data-testid='kpi-map'] .st-marker\").length === {n}"
        ),
    )
    .await;

    // The region's line joins the network's on the charts.
    wait_js(c, "document.querySelector('#trend-legend .key.region')").await;
    let (_, blue) = chart_pixels(c, "jobs_opened", [0x0b, 0x63, 0xc5]).await;
    assert!(blue > 20, "no south-west line ({blue} pixels)");

    // The complaints narrow to the region; the east's rating was no complaint.
    wait_js(
        c,
        &format!(
            "document.querySelector(\"[data-testid='kpi-complaints']\").getAttribute('aria-busy') === 'false' \
             && document.querySelector(\"{complaint}\")"
        ),
    )
    .await;

    // The CSV is the API's, saved without the token in any URL.
    js(
        c,
        "window.savedCsv = null;\
         const create = URL.createObjectURL;\
         URL.createObjectURL = function (blob) {\
           const href = create.call(URL, blob);\
           blob.text().then(text => { window.savedCsv = { href, text, name: window.savedName }; });\
           return href;\
         };\
         const click = HTMLAnchorElement.prototype.click;\
         HTMLAnchorElement.prototype.click = function () {\
           if (!this.download) return click.call(this);\
           window.savedName = this.download;\
         };",
    )
    .await;
    click(c, "#drill-csv").await;
    let saved = wait_js(c, "window.savedCsv").await;
    assert_eq!(
        saved["name"],
        json!(format!("kpi-southwest-{from}-{to}.csv"))
    );
    assert!(saved["href"].as_str().unwrap().starts_with("blob:"));
    let text = saved["text"].as_str().unwrap();
    let api_csv = api_text(
        app,
        &manager,
        &format!("/api/v1/kpi?from={from}&to={to}&granularity=none&format=csv&region=southwest"),
    )
    .await;
    assert!(api_csv.starts_with('\u{feff}'), "CSV for Excel: with a BOM");
    assert_eq!(
        text.trim_start_matches('\u{feff}'),
        &api_csv['\u{feff}'.len_utf8()..]
    );

    assert_accessible(c, "the south-west drilled into").await;
    // The drill-down in view at both sizes (a phone stacks it far below).
    let to_drill = "document.querySelector(\"[data-testid='kpi-drill']\").scrollIntoView();";
    c.set_window_size(390, 844).await.expect("resize");
    js(c, to_drill).await;
    screenshot(c, "kpi-region", 390, 844).await;
    js(c, to_drill).await;
    screenshot(c, "kpi-region", 1280, 800).await;

    // (4) Another period: the numbers follow it.
    click(c, "#presets button[data-preset='last90']").await;
    wait_js(
        c,
        &format!(
            "document.getElementById('from').value === '{}' && document.body.dataset.ready === 'true'",
            today - chrono::Days::new(89)
        ),
    )
    .await;
    let (from, to) = page_period(c).await;
    let long = api_get(
        app,
        &manager,
        &format!("/api/v1/kpi?from={from}&to={to}&region=southwest"),
    )
    .await;
    let sw = long["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scope"] == "region")
        .unwrap()
        .clone();
    assert_card_matches(
        c,
        "[data-testid='kpi-region'][data-region='southwest']",
        &sw,
        "south-west over 90 days",
    )
    .await;
    assert_eq!(
        js(c, "return document.getElementById('granularity').value;").await,
        json!("week"),
        "90 daily points would be unreadable"
    );
}
