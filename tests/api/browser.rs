//! The map page in a real headless Chromium driven over WebDriver: the page
//! must show exactly what the API answers for the same query.
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium`; without them the
//! test prints why it skipped, unless `CI` is set, where it fails.
//! Screenshots of each page at 1280x800 and 390x844 go to
//! `target/screenshots/`.

use std::panic::AssertUnwindSafe;

use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use futures_util::FutureExt;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::web::*;

fn searches_done_js() -> &'static str {
    "Number(document.body.dataset.searches || 0)"
}

async fn searches_done(c: &Client) -> u64 {
    c.execute(&format!("return {};", searches_done_js()), vec![])
        .await
        .expect("script runs")
        .as_u64()
        .expect("a count")
}

/// Types `text` into the search box, submits, and waits for the answer.
async fn search(c: &Client, text: &str) {
    let before = searches_done(c).await;
    let q = c.find(Locator::Id("q")).await.expect("#q");
    q.clear().await.expect("clear #q");
    q.send_keys(text).await.expect("type into #q");
    c.find(Locator::Id("search"))
        .await
        .expect("#search")
        .click()
        .await
        .expect("click #search");
    wait_for_search(c, before).await;
}

async fn wait_for_search(c: &Client, before: u64) {
    wait_js(c, &format!("{} > {before}", searches_done_js())).await;
}

async fn texts(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.expect("find_all") {
        out.push(e.text().await.expect("text"));
    }
    out
}

async fn result_ids(c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for e in c
        .find_all(Locator::Css("#results li.result"))
        .await
        .expect("results")
    {
        out.push(e.attr("data-id").await.expect("attr").expect("data-id"));
    }
    out
}

fn api_ids(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["station"]["id"].as_str().expect("id").to_owned())
        .collect()
}

/// A few stations of the test's own around Xining, some carry-in only, so
/// the page has k to show whatever the demo network holds.
async fn add_stations(app: &TestApp) {
    for i in 0..7u32 {
        let onsite = i % 2 == 0;
        let f = f64::from(i);
        let mut s = json!({
            "id": format!("WEB{i}"), "name": format!("西宁测试服务站{i}"),
            "province": "青海省", "city": "西宁市", "adcode": "630102",
            "address": format!("测试路{i}号"), "phone": format!("0971-555000{i}"),
            "lat": 36.62 + 0.011 * f, "lon": 101.78 + 0.017 * f,
            "services": if onsite { json!(["onsite", "carry_in"]) } else { json!(["carry_in"]) },
            "products": ["notebook", "desktop"],
        });
        if onsite {
            s["onsite_radius_km"] = json!(20.0);
        }
        let res = app
            .admin(Method::POST, "/api/v1/stations")
            .json(&s)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 201, "{}", res.text().await.unwrap());
    }
}

fn distance_km(text: &str) -> f64 {
    text.trim()
        .strip_suffix(" km")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("distance {text:?} is not \"N.N km\""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_page_shows_what_the_api_answers() {
    let app = spawn_app().await;
    add_stations(&app).await;
    let Some((_driver, c)) = browser().await else {
        return;
    };
    // Close the session even when a check fails, so no browser outlives the test.
    let outcome = AssertUnwindSafe(check_page(&app, &c)).catch_unwind().await;
    let closed = c.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    closed.expect("close the session");
}

async fn check_page(app: &TestApp, c: &Client) {
    let res = app.get("/api/v1/stations?format=geojson&limit=5000").await;
    let all: Value = res.json().await.expect("geojson");
    let station_count = all["features"].as_array().expect("features").len();

    c.goto(&app.url("/")).await.expect("page loads");
    let loaded = wait_js(c, "document.body.dataset.stations").await;
    assert_eq!(loaded, json!(station_count.to_string()), "stations drawn");
    let markers = c
        .find_all(Locator::Css(
            "#map .leaflet-marker-icon.station-marker, #map .leaflet-marker-icon.marker-cluster",
        ))
        .await
        .expect("markers");
    assert!(!markers.is_empty(), "no station markers or clusters drawn");

    // A point search with k=5 lists the API's own answer, in order.
    let (lat, lon, k) = (36.64, 101.80, 5usize);
    let kin = c.find(Locator::Id("k")).await.expect("#k");
    kin.clear().await.expect("clear #k");
    kin.send_keys(&k.to_string()).await.expect("type k");
    search(c, &format!("{lat},{lon}")).await;
    let (status, expected) = app
        .get_json(&format!(
            "/api/v1/stations/nearest?lat={lat}&lon={lon}&k={k}"
        ))
        .await;
    assert_eq!(status, 200, "{expected}");
    let names = texts(c, "#results li.result .name").await;
    assert_eq!(names.len(), k, "one list item per station asked for");
    assert_eq!(
        names[0],
        expected["results"][0]["station"]["name"].as_str().unwrap()
    );
    assert_eq!(result_ids(c).await, api_ids(&expected));
    let distances: Vec<f64> = texts(c, "#results li.result .distance")
        .await
        .iter()
        .map(|t| distance_km(t))
        .collect();
    for (shown, r) in distances
        .iter()
        .zip(expected["results"].as_array().unwrap())
    {
        let api_km = r["distance_m"].as_f64().unwrap() / 1000.0;
        assert!(
            (shown - api_km).abs() <= 0.05 + 1e-9,
            "{shown} km vs {api_km} km"
        );
    }
    assert!(
        distances.windows(2).all(|w| w[0] <= w[1]),
        "distances not ascending: {distances:?}"
    );
    assert_eq!(
        c.find_all(Locator::Css(".result-marker"))
            .await
            .unwrap()
            .len(),
        k,
        "each result numbered on the map"
    );
    let phone = c
        .find(Locator::Css("#results li.result a.phone"))
        .await
        .expect("a phone link");
    assert!(phone
        .attr("href")
        .await
        .unwrap()
        .is_some_and(|h| h.starts_with("tel:")));

    // Selecting a result highlights it in the list and on the map; the
    // arrow keys move through the list.
    let items: Vec<Element> = c
        .find_all(Locator::Css("#results li.result"))
        .await
        .unwrap();
    items[1].click().await.expect("click a result");
    assert_eq!(
        items[1].attr("aria-current").await.unwrap().as_deref(),
        Some("true")
    );
    let selected = c
        .find_all(Locator::Css(".result-marker.selected"))
        .await
        .unwrap();
    assert_eq!(selected.len(), 1, "exactly one highlighted marker");
    items[1].send_keys(&Key::Down.to_string()).await.unwrap();
    let focused = c
        .execute("return document.activeElement.dataset.id;", vec![])
        .await
        .unwrap();
    assert_eq!(focused, json!(api_ids(&expected)[2]));

    assert_accessible(c, "the map page with results").await;
    screenshots(c, "map").await;

    // A filter change re-runs the search with the filter.
    let before = searches_done(c).await;
    c.find(Locator::Css("#service option[value='carry_in']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_search(c, before).await;
    let (_, carry_in) = app
        .get_json(&format!(
            "/api/v1/stations/nearest?lat={lat}&lon={lon}&k={k}&service=carry_in"
        ))
        .await;
    assert_eq!(result_ids(c).await, api_ids(&carry_in));

    // Bad input: the API's message, and no stale results.
    search(c, "999,999").await;
    let (status, err) = app
        .get_json("/api/v1/stations/nearest?lat=999&lon=999&k=5&service=carry_in")
        .await;
    assert_eq!(status, 400, "{err}");
    let shown = c.find(Locator::Id("error")).await.unwrap();
    assert!(shown.is_displayed().await.unwrap(), "error is visible");
    assert_eq!(
        shown.text().await.unwrap(),
        err["error"]["message"].as_str().unwrap()
    );
    assert!(
        result_ids(c).await.is_empty(),
        "results left after an error"
    );

    // An address: the resolved division when the geocoder knows it, the
    // API's message when it does not.
    let address = "绵阳涪城临园路";
    search(c, address).await;
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/stations/nearest?address={address}&k=5&service=carry_in"
        ))
        .await;
    if status == 200 {
        let division = c.find(Locator::Id("division")).await.unwrap();
        assert!(division.is_displayed().await.unwrap());
        let text = division.text().await.unwrap();
        let d = &body["query"]["division"];
        let last_part = ["district", "city", "province"]
            .iter()
            .find_map(|f| d[f].as_str())
            .or_else(|| d["name"].as_str())
            .expect("a division name");
        assert!(text.contains(last_part), "{text:?} lacks {last_part:?}");
        assert_eq!(result_ids(c).await, api_ids(&body));
    } else {
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            c.find(Locator::Id("error"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
            body["error"]["message"].as_str().unwrap()
        );
        assert!(result_ids(c).await.is_empty());
    }
}

#[tokio::test]
async fn a_customer_tracks_a_repair_on_the_tracking_page() {
    let app = spawn_app().await;
    let agent = token(&app.db, repairnet::auth::Role::Agent).await;
    let job: Value = app
        .client
        .post(app.url("/api/v1/jobs"))
        .bearer_auth(&agent)
        .json(
            &json!({"kind": "onsite", "customer": {"name": "张伟", "phone": "13912345678"},
                      "address": "郑州二七", "product": "notebook", "purchase_date": "2026-10-01"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = job["code"].as_str().expect("a job code").to_owned();
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let outcome = AssertUnwindSafe(async {
        c.goto(&app.url(&format!("/track.html?code={code}"))).await.expect("page loads");
        c.find(Locator::Id("last4")).await.unwrap().send_keys("5678").await.unwrap();
        c.find(Locator::Id("track")).await.unwrap().click().await.unwrap();
        let status = wait_js(&c, "document.getElementById('track-status').dataset.status").await;
        assert_eq!(status, job["status"]);
        assert_accessible(&c, "the tracking page with a job").await;
        screenshots(&c, "track").await;
        let page = c.source().await.unwrap();
        assert!(!page.contains("张伟") && !page.contains("13912345678"), "the page shows personal data");
        // A wrong pair shows the API's message and no status.
        c.find(Locator::Id("last4")).await.unwrap().clear().await.unwrap();
        c.find(Locator::Id("last4")).await.unwrap().send_keys("0000").await.unwrap();
        c.find(Locator::Id("track")).await.unwrap().click().await.unwrap();
        let err = wait_js(&c, "!document.getElementById('track-error').hidden && document.getElementById('track-error').textContent").await;
        assert!(err.as_str().unwrap().contains("no job matches"), "{err}");
        let hidden = c.execute("return document.getElementById('track-result').hidden;", vec![]).await.unwrap();
        assert_eq!(hidden, Value::Bool(true));
    })
    .catch_unwind()
    .await;
    let closed = c.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    closed.expect("close the session");
}
