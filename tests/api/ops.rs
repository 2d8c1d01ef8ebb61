use crate::helpers::*;

#[tokio::test]
async fn health_ready_metrics_and_docs_answer() {
    let app = spawn_app().await;
    let (s, body) = app.get_json("/healthz").await;
    assert_eq!(s, 200);
    assert_eq!(body["status"], "ok");
    let (s, body) = app.get_json("/readyz").await;
    assert_eq!(s, 200, "{body}");
    assert!(body["stations_indexed"].as_u64().unwrap() >= 1);

    app.get("/api/v1/stations/nearest?lat=30&lon=104").await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("repairnet_http_requests_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains("/api/v1/stations/nearest"),
        "route label missing"
    );
    // Latency as buckets (they add up across processes), with HELP text.
    assert!(
        metrics.contains("repairnet_http_request_seconds_bucket{")
            && metrics.contains("le=\"0.005\"")
            && metrics.contains("# HELP repairnet_http_request_seconds"),
        "{metrics}"
    );

    let (s, doc) = app.get_json("/api/openapi.json").await;
    assert_eq!(s, 200);
    assert!(doc["paths"]["/api/v1/stations/nearest"]["get"].is_object());
    // The contract as published: a change to it shows up here as a diff to
    // review (`cargo insta review`), never by accident.
    insta::assert_json_snapshot!("openapi", doc);
    // Every operation says what its errors look like.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for status in ["400", "429", "503"] {
                assert_eq!(
                    responses[status]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
            if op.get("security").is_some() {
                assert!(
                    responses.contains_key("401") && responses.contains_key("403"),
                    "{method} {path}"
                );
            }
        }
    }
    let regions = &doc["paths"]["/api/v1/regions"]["get"]["responses"]["200"];
    assert_eq!(
        regions["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/RegionList"
    );
    let res = app.get("/docs/").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text().await.unwrap().contains("swagger"),
        "docs page is not Swagger UI"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = spawn_app().await;
    let (s, body) = app.get_json("/api/v1/nope").await;
    assert_eq!(s, 404);
    assert_eq!(error_code(&body), "not_found");
    let res = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert!(res.status().is_client_error());
    let body: serde_json::Value = res.json().await.expect("JSON error body");
    error_code(&body);
}

#[tokio::test]
async fn the_web_page_is_served() {
    let app = spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

/// `--log-format json`: every line the real binary logs is one JSON object,
/// and a request's lines carry its path and request id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_can_be_json_for_a_collector() {
    let url = fresh_database(Backend::Sqlite).await.unwrap();
    let log = std::env::temp_dir().join(format!("repairnet-json-log-{}.txt", std::process::id()));
    let (mut server, base) = serve_binary(
        &url,
        &["--log-format", "json"],
        &[("RUST_LOG", "info")],
        std::fs::File::create(&log).unwrap().into(),
    )
    .await;
    let http = reqwest::Client::new();
    let res = http
        .get(format!("{base}/api/v1/regions"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 2, "{text}");
    assert!(lines
        .iter()
        .all(|l| l["level"].is_string() && l["timestamp"].is_string()));
    let request = lines
        .iter()
        .find(|l| l["span"]["path"] == "/api/v1/regions")
        .unwrap_or_else(|| panic!("no line of the request: {text}"));
    assert!(request["span"]["request_id"].is_string(), "{request}");
}

/// SIGTERM: `/readyz` turns 503 first (a load balancer stops sending),
/// a request in flight still gets its answer, and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_requests_in_flight_and_exits_cleanly() {
    let url = fresh_database(Backend::Sqlite).await.unwrap();
    let token = cli_token(&url, "dispatcher");
    let (mut server, base) = serve_binary(
        &url,
        &[],
        &[("REPAIRNET_DRAIN_MS", "1500")],
        std::process::Stdio::null(),
    )
    .await;
    let http = reqwest::Client::new();
    // A long poll that answers after 3 s with nothing new.
    let in_flight = tokio::spawn({
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            http.get(format!("{base}/api/v1/jobs/changes?after=latest&wait=3"))
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let res = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503, "readiness goes false first");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "draining");
    assert_eq!(
        in_flight.await.unwrap().unwrap(),
        200,
        "the request in flight is answered"
    );
    let mut code = None;
    for _ in 0..100 {
        if let Some(s) = server.try_wait().unwrap() {
            code = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let code = code.unwrap_or_else(|| {
        server.kill().unwrap();
        panic!("the server did not stop");
    });
    assert!(code.success(), "exit status {code}");
}
