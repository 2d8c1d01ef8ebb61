//! The customer pages in a real headless Chromium driven over WebDriver:
//! the map page must show exactly what the API answers for the same query,
//! on a phone too (list first, map on demand); the tracking page answers in
//! Chinese and shows each step once.
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium`; without them the
//! test prints why it skipped, unless `CI` is set, where it fails.
//! Screenshots of each page at 1280x800 and 390x844 go to
//! `target/screenshots/`.

use chrono::Datelike;

use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
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
    run(c.clone(), check_page(&app, &c)).await;
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

    // The filters are folded until asked for.
    let filters = c.find(Locator::Id("service")).await.expect("#service");
    assert!(!filters.is_displayed().await.unwrap(), "filters folded");
    c.find(Locator::Css("#filters summary"))
        .await
        .expect("the filters' summary")
        .click()
        .await
        .expect("unfold the filters");
    assert!(filters.is_displayed().await.unwrap(), "filters unfolded");

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
    assert_eq!(
        c.find(Locator::Id("filter-count"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "（已选 1 项）",
        "the folded filters say one is set"
    );

    // Bad input: a Chinese sentence for the API's refusal, and no stale results.
    search(c, "999,999").await;
    let (status, err) = app
        .get_json("/api/v1/stations/nearest?lat=999&lon=999&k=5&service=carry_in")
        .await;
    assert_eq!(status, 400, "{err}");
    let shown = c.find(Locator::Id("error")).await.unwrap();
    assert!(shown.is_displayed().await.unwrap(), "error is visible");
    let text = shown.text().await.unwrap();
    assert!(text.starts_with("坐标超出范围"), "{text:?}");
    assert_eq!(
        shown.attr("data-code").await.unwrap().as_deref(),
        err["error"]["code"].as_str()
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
        let text = c
            .find(Locator::Id("error"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.starts_with("没有找到这个地址"), "{text:?}");
        assert!(result_ids(c).await.is_empty());
    }
}

/// Adds one station of the test's own; answers its API view.
async fn add_station(app: &TestApp, s: Value) -> Value {
    let res = app
        .admin(Method::POST, "/api/v1/stations")
        .json(&s)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 201, "{}", res.text().await.unwrap());
    let (status, view) = app
        .get_json(&format!("/api/v1/stations/{}", s["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200, "{view}");
    view
}

const WEEKDAYS: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
const OSM_DAYS: [&str; 7] = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"];

/// What one listed station shows: each part with its text and whether it
/// is wholly visible once scrolled to (what sits near its top and near its
/// bottom edge is the element itself, so nothing clips or covers it).
const LISTED_JS: &str = "
    const seen = (li, sel) => {
      const e = li.querySelector(sel);
      if (!e) return null;
      e.scrollIntoView({block: 'center'});
      const r = e.getBoundingClientRect();
      const at = (x, y) => { const hit = document.elementFromPoint(x, y);
                             return !!hit && (hit === e || e.contains(hit)); };
      return {text: e.textContent.trim(), href: e.getAttribute('href'),
              visible: r.height >= 12
                && at(r.left + r.width / 4, r.top + 2) && at(r.left + r.width * 3 / 4, r.bottom - 2)};
    };
    const out = [...document.querySelectorAll('#results li.result')].map(li => ({
      id: li.dataset.id, name: seen(li, '.name'), phone: seen(li, 'a.phone'),
      state: li.querySelector('.open-state').textContent.trim()}));
    window.scrollTo(0, 0);
    return out;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_the_map_page_lists_names_and_phones_and_opens_the_map_on_demand() {
    let app = spawn_app().await;
    add_stations(&app).await;
    // Next to the search point: one open day and night, one that opens
    // three days from now at 09:00 (Shanghai), so it is closed today.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let later = (today + chrono::Duration::days(3))
        .weekday()
        .num_days_from_monday() as usize;
    let shut = add_station(
        &app,
        json!({
            "id": "WEBSHUT", "name": "西宁周末服务站", "province": "青海省", "city": "西宁市",
            "adcode": "630102", "address": "测试路甲1号", "phone": "0971-5551111",
            "lat": 36.6405, "lon": 101.8005, "services": ["carry_in"], "products": ["notebook"],
            "opening_hours": format!("{} 09:00-10:00", OSM_DAYS[later]),
        }),
    )
    .await;
    assert_eq!(shut["open_now"], json!(false), "{shut}");
    let next_open = shut["next_open_at"].as_str().expect("a next opening");
    let opens = chrono::DateTime::parse_from_rfc3339(next_open)
        .unwrap()
        .with_timezone(&chrono_tz::Asia::Shanghai);
    let expected_next = format!(
        "下次营业 {} {}",
        WEEKDAYS[opens.weekday().num_days_from_monday() as usize],
        opens.format("%H:%M")
    );
    add_station(&app, json!({
        "id": "WEB247", "name": "西宁全天服务站", "province": "青海省", "city": "西宁市",
        "adcode": "630102", "address": "测试路乙2号", "phone": "0971-5552222",
        "lat": 36.6410, "lon": 101.8010, "services": ["onsite", "carry_in"], "products": ["notebook"],
        "onsite_radius_km": 10.0, "opening_hours": "24/7",
    }))
    .await;
    let Some((_driver, c)) = browser().await else {
        return;
    };
    run(c.clone(), check_phone_page(&app, &c, &expected_next)).await;
}

async fn check_phone_page(app: &TestApp, c: &Client, expected_next: &str) {
    c.set_window_size(390, 844).await.expect("resize");
    c.goto(&app.url("/")).await.expect("page loads");
    let width = c
        .execute("return window.innerWidth;", vec![])
        .await
        .unwrap();
    assert!(
        width.as_u64().unwrap() <= 400,
        "not a phone-sized page: {width}"
    );
    wait_js(c, "document.body.dataset.stations").await;
    let map_height = "document.getElementById('map').getBoundingClientRect().height";
    assert_eq!(
        c.execute(&format!("return {map_height};"), vec![])
            .await
            .unwrap(),
        json!(0),
        "the map takes the screen before it is asked for"
    );

    let (lat, lon) = (36.64, 101.80);
    search(c, &format!("{lat},{lon}")).await;
    let (status, expected) = app
        .get_json(&format!("/api/v1/stations/nearest?lat={lat}&lon={lon}&k=5"))
        .await;
    assert_eq!(status, 200, "{expected}");
    let api = expected["results"].as_array().unwrap();
    assert_eq!(api.len(), 5);

    // The first station is readable on the first screen, without scrolling.
    let first_bottom = c
        .execute(
            "return document.querySelector('#results li.result .name').getBoundingClientRect().bottom \
             - window.innerHeight;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        first_bottom.as_f64().unwrap() <= 0.0,
        "the first station's name is below the fold by {first_bottom} px"
    );

    let listed = c.execute(LISTED_JS, vec![]).await.expect("list read");
    let listed = listed.as_array().expect("items");
    assert_eq!(listed.len(), api.len(), "one item per station: {listed:?}");
    for (item, r) in listed.iter().zip(api) {
        let s = &r["station"];
        assert_eq!(item["id"], s["id"]);
        assert_eq!(item["name"]["text"], s["name"], "{item}");
        assert_eq!(item["name"]["visible"], json!(true), "name hidden: {item}");
        assert_eq!(item["phone"]["text"], s["phone"], "{item}");
        assert_eq!(
            item["phone"]["visible"],
            json!(true),
            "phone hidden: {item}"
        );
        let digits: String = s["phone"]
            .as_str()
            .unwrap()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        assert_eq!(item["phone"]["href"], json!(format!("tel:{digits}")));
        let state = item["state"].as_str().unwrap();
        match s["id"].as_str().unwrap() {
            "WEBSHUT" => assert!(
                state.contains(expected_next),
                "{state:?} lacks {expected_next:?}"
            ),
            "WEB247" => assert_eq!(state, "营业中"),
            _ => {}
        }
    }
    let ids: Vec<&str> = listed.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert!(
        ids.contains(&"WEBSHUT") && ids.contains(&"WEB247"),
        "{ids:?}"
    );
    assert_accessible(c, "the map page on a phone, with results").await;
    screenshots(c, "map-list").await;

    // The map on demand, from the keyboard: Enter on the button opens it,
    // framed on the results, with the offline base layer under the markers.
    c.set_window_size(390, 844).await.expect("resize");
    let toggle = c.find(Locator::Id("map-toggle")).await.unwrap();
    assert_eq!(
        toggle.attr("aria-expanded").await.unwrap().as_deref(),
        Some("false")
    );
    toggle.send_keys(&Key::Enter.to_string()).await.unwrap();
    wait_js(c, &format!("{map_height} > 250")).await;
    assert_eq!(
        toggle.attr("aria-expanded").await.unwrap().as_deref(),
        Some("true")
    );
    wait_js(c, "document.body.dataset.basemap === 'ready'").await;
    let outlines = c
        .execute(
            "return document.querySelectorAll('.leaflet-base-pane path').length;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        outlines.as_u64().unwrap() > 100,
        "country outlines drawn: {outlines}"
    );
    let inside = wait_js(
        c,
        "(() => { const m = document.getElementById('map').getBoundingClientRect();\
           const k = [...document.querySelectorAll('.result-marker')].filter(e => {\
             const r = e.getBoundingClientRect();\
             return r.left >= m.left && r.right <= m.right && r.top >= m.top && r.bottom <= m.bottom; });\
           return k.length === 5 && k.length; })()",
    )
    .await;
    assert_eq!(inside, json!(5), "every result framed on the opened map");
    assert_accessible(c, "the map page on a phone, map open").await;
    screenshot(c, "map-open", 390, 844).await;

    // Enter again folds it away.
    c.set_window_size(390, 844).await.expect("resize");
    let toggle = c.find(Locator::Id("map-toggle")).await.unwrap();
    toggle.send_keys(&Key::Enter.to_string()).await.unwrap();
    wait_js(c, &format!("{map_height} === 0")).await;

    // On a desk screen the map is simply there, beside the list.
    c.set_window_size(1280, 800).await.expect("resize");
    wait_js(c, &format!("{map_height} > 400")).await;
    assert!(
        !toggle.is_displayed().await.unwrap(),
        "no map button on a desk screen"
    );
}

#[tokio::test]
async fn a_customer_tracks_a_repair_on_the_tracking_page() {
    let app = spawn_app().await;
    let agent = token(&app.db, repairnet::auth::Role::Agent).await;
    let dispatcher = token(&app.db, repairnet::auth::Role::Dispatcher).await;
    let (status, job) = call(
        &app,
        Method::POST,
        "/api/v1/jobs",
        &agent,
        Some(
            json!({"kind": "carry_in", "customer": {"name": "张伟", "phone": "13912345678"},
                    "address": "泸州江阳", "product": "notebook", "purchase_date": "2026-10-01"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{job}");
    let code = job["code"].as_str().expect("a job code").to_owned();
    // Repaired, picked up, closed, then rated: the follow-up leaves the
    // status at closed, which the page must not show twice.
    let events = format!("/api/v1/jobs/{}/events", job["id"]);
    for e in [
        json!({"event": "repairing"}),
        json!({"event": "ready_for_pickup"}),
        json!({"event": "picked_up"}),
        json!({"event": "closed"}),
        json!({"event": "follow_up", "satisfaction": 5}),
    ] {
        let (status, body) = call(&app, Method::POST, &events, &dispatcher, Some(e.clone())).await;
        assert_eq!(status, 200, "{e}: {body}");
    }
    let Some((_driver, c)) = browser().await else {
        return;
    };
    run(c.clone(), async {
        c.goto(&app.url(&format!("/track.html?code={code}"))).await.expect("page loads");
        // A half-typed number is caught before asking the server.
        c.find(Locator::Id("last4")).await.unwrap().send_keys("56").await.unwrap();
        c.find(Locator::Id("track")).await.unwrap().click().await.unwrap();
        let err = wait_js(&c, "!document.getElementById('track-error').hidden && document.getElementById('track-error').textContent").await;
        assert_eq!(err, json!("请填写手机号的后四位数字。"));

        c.find(Locator::Id("last4")).await.unwrap().send_keys("78").await.unwrap();
        c.find(Locator::Id("track")).await.unwrap().click().await.unwrap();
        let status = wait_js(&c, "!document.getElementById('track-result').hidden && document.getElementById('track-status').dataset.status").await;
        assert_eq!(status, json!("closed"));
        assert_eq!(c.find(Locator::Id("track-status")).await.unwrap().text().await.unwrap(), "已完成");
        assert!(!c.find(Locator::Id("track-error")).await.unwrap().is_displayed().await.unwrap());
        let entries = texts(&c, "#track-history li .what").await;
        assert_eq!(
            entries,
            ["网点已收件", "开始维修", "可取件", "已取件", "服务完成", "已收到您的评价"],
            "one line per event, in Chinese"
        );
        let shown = c.find(Locator::Id("track-result")).await.unwrap().text().await.unwrap();
        assert_eq!(shown.matches("已完成").count(), 1, "the status shows once: {shown}");
        assert!(!shown.to_lowercase().contains("closed"), "{shown}");
        assert_eq!(c.find(Locator::Id("track-rating")).await.unwrap().text().await.unwrap(), "5 分");
        assert_accessible(&c, "the tracking page with a job").await;
        screenshots(&c, "track").await;
        let page = c.source().await.unwrap();
        assert!(!page.contains("张伟") && !page.contains("13912345678"), "the page shows personal data");

        // A wrong pair answers in Chinese and shows no status.
        c.find(Locator::Id("last4")).await.unwrap().clear().await.unwrap();
        c.find(Locator::Id("last4")).await.unwrap().send_keys("0000").await.unwrap();
        c.find(Locator::Id("track")).await.unwrap().click().await.unwrap();
        let err = wait_js(&c, "!document.getElementById('track-error').hidden && document.getElementById('track-error').textContent").await;
        assert!(err.as_str().unwrap().starts_with("没有找到这张维修单"), "{err}");
        let hidden = c.execute("return document.getElementById('track-result').hidden;", vec![]).await.unwrap();
        assert_eq!(hidden, Value::Bool(true));
        assert_accessible(&c, "the tracking page with a refusal").await;
        screenshots(&c, "track-refused").await;
    }).await;
}
