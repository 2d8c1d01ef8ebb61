//! Operations endpoints: liveness, readiness, Prometheus metrics, the
//! OpenAPI document and its browsable UI.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{get, web, HttpResponse};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use super::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz)
        .service(readyz)
        .service(metrics_text)
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .url("/api/openapi.json", super::openapi::ApiDoc::openapi()),
        )
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::Found()
                    .insert_header(("Location", "/docs/"))
                    .finish()
            }),
        );
}

/// The process-wide Prometheus recorder (a process has one, however many
/// apps it runs).
#[allow(
    clippy::expect_used,
    reason = "only this function installs a recorder, once per process"
)]
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            // Buckets, not summaries: buckets add up across processes.
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ])
            .expect("the bucket list is not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed");
        describe();
        handle
    })
}

/// HELP lines for the metrics this server records.
fn describe() {
    metrics::describe_counter!(
        "repairnet_http_requests_total",
        "HTTP requests by method, route pattern and status"
    );
    metrics::describe_histogram!(
        "repairnet_http_request_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency by method and route pattern"
    );
    metrics::describe_gauge!(
        "repairnet_stations_indexed",
        "stations in the live nearest-search index"
    );
}

/// Counts requests and their latency by route pattern (not raw path, so
/// station ids do not explode the label set).
pub async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("repairnet_http_requests_total", &labels).increment(1);
    metrics::histogram!("repairnet_http_request_seconds", &labels[..2])
        .record(start.elapsed().as_secs_f64());
    Ok(res)
}

/// Liveness: the process answers.
#[utoipa::path(tag = "ops", responses((status = 200, description = "alive")))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: the database answers and the index is loaded.
#[utoipa::path(tag = "ops", responses((status = 200, description = "ready"), (status = 503, description = "not ready")))]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.ping().await;
    let stations = state.index.load().len();
    let calendar = &state.dispatch.context().calendar;
    let draining = state.draining.load(std::sync::atomic::Ordering::SeqCst);
    let body = json!({
        "status": if draining { "draining" } else if db.is_ok() { "ready" } else { "unavailable" },
        "database": state.db.backend(),
        "database_ok": db.is_ok(),
        "stations_indexed": stations,
        "calendar": {
            "covered_until": calendar.covered_until(),
            "warning": calendar_warning(calendar, state.dispatch.now()),
        },
    });
    if db.is_ok() && !draining {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Days before the holiday list runs out from which the server warns.
const CALENDAR_WARN_DAYS: i64 = 60;

/// A warning when the holiday list ends within 60 days of `now` (or has
/// ended): SLA clocks would then count public holidays as working days.
pub fn calendar_warning(
    calendar: &crate::dispatch::BusinessCalendar,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    let today = calendar.local_date(now);
    match calendar.covered_until() {
        None => Some("no holiday list: SLA clocks count every working weekday".into()),
        Some(end) if (end - today).num_days() < CALENDAR_WARN_DAYS => Some(format!(
            "the holiday calendar covers days up to {end} only; after that public holidays count as \
             working days in SLA clocks: give the next year's list with --holidays FILE \
             (REPAIRNET_HOLIDAYS)"
        )),
        Some(_) => None,
    }
}

#[get("/metrics")]
async fn metrics_text(state: web::Data<AppState>) -> HttpResponse {
    metrics::gauge!("repairnet_stations_indexed").set(state.index.load().len() as f64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(prometheus().render())
}
