//! The HTTP layer: the app factory (middleware, extractor limits, routes),
//! one routes file per domain, the error type and auth. Handlers are thin:
//! parse and check input, call one use case, shape the answer.

pub mod auth;
pub mod calendar;
pub mod error;
pub mod feed;
pub mod intake;
pub mod jobs;
pub mod limits;
pub mod openapi;
pub mod ops;
pub mod optimize;
pub mod places;
pub mod reports;
pub mod stations;
pub mod technicians;
pub mod tokens;
pub mod web_assets;

use std::sync::Arc;

use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::{Compress, ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpResponse};
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::network::index::SharedIndex;
use crate::store::Db;
use error::ApiError;

/// What every handler can reach.
pub struct AppState {
    pub db: Db,
    pub index: Arc<SharedIndex>,
    pub settings: Settings,
    /// The dispatch use cases (jobs, technicians, optimisation).
    pub dispatch: crate::dispatch::DispatchService,
    /// Serialises this process's directory writes so the index is patched in
    /// the same order the database committed them.
    pub directory_writes: tokio::sync::Mutex<()>,
    /// Per-client request limits.
    pub limits: limits::Limits,
    /// Set when the process was told to stop: `/readyz` answers 503.
    pub draining: std::sync::atomic::AtomicBool,
}

/// Everything an app needs; called once per worker thread.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    let json_limit = state.settings.json_limit;
    cfg.app_data(state)
        .app_data(
            web::JsonConfig::default()
                .limit(json_limit)
                .error_handler(|e, _| json_error(e).into()),
        )
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| ApiError::bad_request("invalid_query", e.to_string()).into()),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::bad_request("invalid_path", e.to_string()).into()),
        )
        .configure(ops::routes)
        .service(
            web::scope("/api/v1")
                .configure(stations::routes)
                .configure(places::routes)
                .configure(technicians::routes)
                .configure(tokens::routes)
                .configure(jobs::routes)
                .configure(optimize::routes)
                .configure(reports::routes)
                .configure(calendar::routes)
                .default_service(web::to(not_found)),
        )
        .configure(web_assets::routes);
}

fn json_error(e: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as J;
    match e {
        J::ContentType => {
            ApiError::UnsupportedMediaType("expected Content-Type: application/json".into())
        }
        J::Overflow { limit } | J::OverflowKnownLength { limit, .. } => {
            ApiError::PayloadTooLarge(limit)
        }
        J::Deserialize(e) => ApiError::bad_request("invalid_json", e.to_string()),
        other => ApiError::bad_request("invalid_body", other.to_string()),
    }
}

async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no endpoint {} {}",
        req.method(),
        req.path()
    )))
}

/// Any error response that is not already our JSON shape (actix's own
/// rejections, e.g. a wrong method) is rewritten into it, so clients never
/// see an HTML or plain-text error.
#[allow(
    clippy::unnecessary_wraps,
    reason = "the signature `ErrorHandlers` expects"
)]
fn jsonify_errors<B: actix_web::body::MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = match status.as_u16() {
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        s if s >= 500 => "internal",
        _ => "bad_request",
    };
    let message = status
        .canonical_reason()
        .unwrap_or("request failed")
        .to_owned();
    let (req, _) = res.into_parts();
    let body = HttpResponse::build(status).json(serde_json::json!({
        "error": {"code": code, "message": message, "details": null}
    }));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, body).map_into_right_body(),
    ))
}

/// Cross-origin reads for the configured origins only (`actix-cors`). A
/// request from any other origin, this server's own pages included, passes
/// through without CORS headers: the browser then keeps a foreign page
/// from reading the answer, and our pages need none.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .block_on_origin_mismatch(false)
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            header::CONTENT_DISPOSITION,
            header::HeaderName::from_static("x-next-cursor"),
        ])
        .max_age(3600);
    for o in origins {
        cors = cors.allowed_origin(o);
    }
    cors
}

/// The HTTP server on an already-bound listener (port 0 in tests).
pub fn server(
    listener: std::net::TcpListener,
    state: web::Data<AppState>,
) -> std::io::Result<actix_web::dev::Server> {
    let workers = state.settings.workers;
    let mut server = actix_web::HttpServer::new(move || {
        let cors = cors(&state.settings.cors_origins);
        let state = state.clone();
        App::new()
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")),
            )
            .wrap(ErrorHandlers::new().default_handler(jsonify_errors))
            .wrap(actix_web::middleware::from_fn(limits::timeout))
            .wrap(Compress::default())
            .wrap(actix_web::middleware::from_fn(limits::limit))
            .wrap(cors)
            .wrap(actix_web::middleware::from_fn(ops::record_metrics))
            .wrap(TracingLogger::<crate::telemetry::PathOnlySpan>::new())
            .configure(move |cfg| configure(cfg, state))
            .default_service(web::to(not_found))
    })
    .listen(listener)?
    // Signals are ours (`Application::run_until_stopped`): readiness goes
    // false before the server stops taking connections.
    .disable_signals()
    .shutdown_timeout(30);
    if let Some(n) = workers {
        server = server.workers(n.max(1));
    }
    Ok(server.run())
}
