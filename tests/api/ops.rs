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

    let (s, doc) = app.get_json("/api/openapi.json").await;
    assert_eq!(s, 200);
    assert!(doc["paths"]["/api/v1/stations/nearest"]["get"].is_object());
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
