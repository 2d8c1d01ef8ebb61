//! What an attacker or a careless client meets: request limits with 429
//! and `Retry-After`, page security headers and a script in the page's
//! address that stays text, cursors that are checked, whole-set downloads
//! that open in Excel, and methods that do not fall through to another
//! endpoint.

use std::time::Duration;

use fantoccini::Client;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;
use crate::web::*;
use repairnet::auth::Role;

/// The `Retry-After` of a 429, in seconds, after checking its error JSON.
async fn retry_after(res: reqwest::Response) -> u64 {
    assert_eq!(res.status(), 429);
    let secs: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = res.json().await.expect("error JSON");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(body["error"]["details"]["retry_after_s"], secs);
    assert!(secs >= 1);
    secs
}

/// Four phone digits guard `/track`: a flood from one client is stopped
/// with 429s, and the client gets through again after `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_tracking_requests_is_stopped_and_let_through_after_retry_after() {
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            tweak: Some(|s| s.limit_track_per_min = 60),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let path = "/api/v1/track?code=RN-AAAAAAAA&phone_last4=1234";
    let started = std::time::Instant::now();
    let mut limited = None;
    for i in 0..100 {
        let res = app.get(path).await;
        if res.status() == 429 {
            limited = Some((i, res));
            break;
        }
        assert_ne!(res.status(), 500);
    }
    let (first_429, res) = limited.expect("a flood is limited");
    // A burst of one minute's allowance (plus one a second since), then no more.
    let refilled = usize::try_from(started.elapsed().as_secs()).unwrap() + 1;
    assert!(
        (60..=60 + refilled).contains(&first_429),
        "first 429 after {first_429}"
    );
    // Encoding the path does not get around the limit.
    assert_eq!(
        app.get("/api/v1/%74rack?code=RN-AAAAAAAA&phone_last4=1234")
            .await
            .status(),
        429
    );
    let wait = retry_after(res).await;
    assert_eq!(app.get(path).await.status(), 429, "still limited");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_ne!(
        app.get(path).await.status(),
        429,
        "let through after Retry-After"
    );
    // Public search has its own, generous allowance.
    assert_eq!(app.get("/api/v1/regions").await.status(), 200);
}

/// Guessing tokens: after the allowance of failed log-ins the client waits,
/// and while it waits even a right token gets 429, so a right guess looks
/// like a wrong one. Another client is not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_tokens_is_stopped_even_for_a_right_guess() {
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            tweak: Some(|s| s.limit_failed_auth_per_min = 5),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let agent = token(&app.db, Role::Agent).await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let (st, _) = call(
            &app,
            Method::GET,
            "/api/v1/jobs",
            &format!("rn_wrong{i}"),
            None,
        )
        .await;
        statuses.push(st);
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let res = app
        .client
        .get(app.url("/api/v1/jobs"))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    retry_after(res).await;
    // Requests without a token are not log-ins: public pages still answer.
    assert_eq!(app.get("/api/v1/regions").await.status(), 200);
}

/// Every page carries a Content-Security-Policy that allows scripts only
/// from this server and images from the configured tile host, and the
/// other security headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers() {
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            tweak: Some(|s| s.tile_hosts = vec!["https://tiles.example.cn".into()]),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    for page in [
        "/",
        "/track",
        "/survey",
        "/agent",
        "/dispatch",
        "/tech",
        "/kpi",
    ] {
        let res = app.get(page).await;
        assert_eq!(res.status(), 200, "{page}");
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in [
            "default-src 'self'",
            "script-src 'self'",
            "img-src 'self' data: https://tiles.example.cn;",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(part), "{page}: {csp}");
        }
        assert_eq!(h["x-content-type-options"], "nosniff", "{page}");
        assert_eq!(h["x-frame-options"], "DENY", "{page}");
        assert!(h.contains_key("referrer-policy"), "{page}");
    }
    let api = app.get("/api/v1/regions").await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    // A tile host that is not an origin would be written into the header:
    // the server refuses to start with it.
    let bad = repairnet::config::Settings {
        tile_hosts: vec!["https://x.cn; script-src *".into()],
        ..repairnet::config::Settings::default()
    };
    assert!(bad.check().is_err());
}

/// A cursor is what a list gave: garbage, or one from another list, is a
/// 400; following the cursors visits every station once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_are_checked() {
    let app = spawn_app().await;
    for bad in ["zzz", "", "6a6f62733a31"] {
        let (st, body) = app
            .get_json(&format!("/api/v1/stations?cursor={bad}"))
            .await;
        assert_eq!(st, 400, "cursor {bad:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid_input", "{body}");
    }
    let admin = app.admin_token.clone();
    let (st, _) = call(&app, Method::GET, "/api/v1/jobs?cursor=zzz", &admin, None).await;
    assert_eq!(st, 400);
    let (_, first) = app.get_json("/api/v1/stations?limit=7").await;
    let c = first["next_cursor"].as_str().unwrap().to_owned();
    let (st, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/jobs?cursor={c}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(st, 400, "a stations cursor on the jobs list");
    let (st, second) = app
        .get_json(&format!("/api/v1/stations?limit=7&cursor={c}"))
        .await;
    assert_eq!(st, 200);
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
}

/// A CSV or GeoJSON download is the whole directory (unless the caller
/// pages on purpose), and the CSV opens in Excel: a byte-order mark and a
/// file name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_are_the_whole_set_and_open_in_excel() {
    let app = spawn_app().await;
    let (_, regions) = app.get_json("/api/v1/regions").await;
    let total: u64 = regions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["station_count"].as_u64().unwrap())
        .sum();
    assert!(total > 500);
    let res = app.get("/api/v1/stations?format=csv").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("filename=\"stations.csv\""));
    assert!(!res.headers().contains_key("x-next-cursor"));
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "a UTF-8 byte-order mark");
    let mut rows = csv::Reader::from_reader(&bytes[3..]);
    assert_eq!(rows.records().count() as u64, total);
    let (_, all) = app.get_json("/api/v1/stations?format=geojson").await;
    assert_eq!(all["features"].as_array().unwrap().len() as u64, total);
    // Paging on purpose still pages.
    let res = app.get("/api/v1/stations?format=csv&limit=10").await;
    assert!(res.headers().contains_key("x-next-cursor"));
    let bytes = res.bytes().await.unwrap();
    assert_eq!(csv::Reader::from_reader(&bytes[3..]).records().count(), 10);
}

/// Another method on `/stations/nearest` is a 405 with the error JSON, not
/// an edit of a station called "nearest".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_on_nearest_are_405() {
    let app = spawn_app().await;
    for m in [Method::PUT, Method::PATCH, Method::DELETE, Method::POST] {
        let res = app
            .client
            .request(m.clone(), app.url("/api/v1/stations/nearest"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{m}");
        assert_eq!(res.headers()["allow"], "GET");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }
}

/// A script in the map page's address (`?attribution=`) is shown as text
/// and never runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_in_the_map_pages_address_stays_text() {
    let app = spawn_app().await;
    let Some((_driver, c)) = browser().await else {
        return;
    };
    run(c.clone(), check_injection(&app, &c)).await;
}

async fn check_injection(app: &TestApp, c: &Client) {
    let evil = "<img src=x onerror=\"window.__pwned=1\">";
    let url = format!(
        "/?tiles={}&attribution={}",
        urlencode("https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
        urlencode(evil)
    );
    c.goto(&app.url(&url)).await.expect("page loads");
    wait_js(
        c,
        "document.querySelector('.leaflet-control-attribution') !== null",
    )
    .await;
    // Give an injected handler every chance to run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pwned = c
        .execute("return window.__pwned === undefined;", vec![])
        .await
        .unwrap();
    assert_eq!(pwned, Value::Bool(true), "the injected script ran");
    let shown = c
        .execute(
            "const a = document.querySelector('.leaflet-control-attribution'); \
             return [a.textContent, a.querySelectorAll('img').length];",
            vec![],
        )
        .await
        .unwrap();
    assert!(shown[0].as_str().unwrap().contains("<img src=x"), "{shown}");
    assert_eq!(shown[1], 0, "no element was made from the address");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An address or headers far beyond what any endpoint needs get 414 / 431
/// with the error JSON, before any handler parses them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_addresses_and_headers_are_refused() {
    let app = spawn_app().await;
    let long = "a".repeat(9 * 1024);
    let res = app.get(&format!("/api/v1/geocode?q={long}")).await;
    assert_eq!(res.status(), 414);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "uri_too_long");
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-big", "b".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 431);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "headers_too_large");
    assert_eq!(app.get("/healthz").await.status(), 200);
}

/// Another site's page may read the API only when its origin is
/// configured: a preflight from it is answered with the methods and the
/// headers our clients send, its reads carry `Access-Control-Allow-Origin`;
/// any other origin gets no CORS header (the browser keeps the answer
/// from it), and our own pages' requests still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_origin_reads_only_for_configured_origins() {
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            tweak: Some(|s| s.cors_origins = vec!["https://crm.example.com".into()]),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/jobs"))
        .header("Origin", "https://crm.example.com")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "https://crm.example.com");
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("idempotency-key"), "{allowed}");

    let read = |origin: &'static str| {
        app.client
            .get(app.url("/api/v1/regions"))
            .header("Origin", origin)
            .send()
    };
    let ok = read("https://crm.example.com").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://crm.example.com"
    );
    let foreign = read("https://evil.example.net").await.unwrap();
    assert_eq!(foreign.status(), 200);
    assert!(!foreign
        .headers()
        .contains_key("access-control-allow-origin"));
    let evil_preflight = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/jobs"))
        .header("Origin", "https://evil.example.net")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(!evil_preflight
        .headers()
        .contains_key("access-control-allow-origin"));
    // Our own page's request (same origin, which browsers also send).
    let own = app
        .admin(Method::GET, "/api/v1/technicians")
        .header("Origin", app.address.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    // Without configuration no origin is allowed.
    let plain = spawn_app().await;
    let res = plain
        .client
        .get(plain.url("/api/v1/regions"))
        .header("Origin", "https://crm.example.com")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    // A configured origin must be an origin.
    let bad = repairnet::config::Settings {
        cors_origins: vec!["*".into()],
        ..repairnet::config::Settings::default()
    };
    assert!(bad.check().is_err());
}

/// A request that waits longer than the configured time (here: for the
/// database, held by another writer) is answered 503 `timeout` with the
/// error JSON and `Retry-After`, and leaves nothing half written: once the
/// database is free the same request succeeds, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_and_write_nothing() {
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            tweak: Some(|s| s.request_timeout_ms = 400),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let repairnet::store::Db::Sqlite(pool) = &app.db else {
        unreachable!()
    };
    let mut holder = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let body = serde_json::json!({"station_id": "S110101A", "name": "超时测试", "skills": ["notebook"], "daily_capacity": 4});
    let create = || {
        app.admin(Method::POST, "/api/v1/technicians")
            .json(&body)
            .send()
    };
    let started = std::time::Instant::now();
    let res = create().await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(res.headers()["retry-after"], "5");
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "timeout", "{err}");
    // Reads that need no lock still answer meanwhile.
    assert_eq!(app.get("/healthz").await.status(), 200);
    sqlx::query("ROLLBACK").execute(&mut *holder).await.unwrap();
    drop(holder);
    let res = create().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let (status, list) = call(
        &app,
        Method::GET,
        "/api/v1/technicians?station_id=S110101A",
        &app.admin_token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let named = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "超时测试")
        .count();
    assert_eq!(named, 1, "{list}");
}
