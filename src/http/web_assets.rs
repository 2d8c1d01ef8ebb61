//! The web pages and their assets, embedded in the binary from `web/`.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route(
            "/agent",
            web::get().to(|| async { staff_page("agent.html") }),
        )
        .route(
            "/dispatch",
            web::get().to(|| async { staff_page("dispatch.html") }),
        )
        .route("/tech", web::get().to(|| async { staff_page("tech.html") }))
        .route("/kpi", web::get().to(|| async { staff_page("kpi.html") }))
        .route(
            "/survey",
            web::get().to(|| async { public_page("survey.html") }),
        )
        .route(
            "/track",
            web::get().to(|| async { public_page("track.html") }),
        )
        .route("/{path:.*}", web::get().to(asset));
}

/// The staff pages hold a token: scripts only from this server, no
/// framing, no referrer. Map tiles may come from anywhere the deployment
/// configures, hence images from any HTTPS host.
const STAFF_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";

fn staff_page(file: &str) -> HttpResponse {
    match serve(file) {
        Some(mut res) => {
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                header::HeaderValue::from_static(STAFF_CSP),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                header::HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::REFERRER_POLICY,
                header::HeaderValue::from_static("no-referrer"),
            );
            h.insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-cache"),
            );
            res
        }
        None => HttpResponse::NotFound().finish(),
    }
}

/// A customer page: no token to protect, but still no framing.
fn public_page(file: &str) -> HttpResponse {
    match serve(file) {
        Some(mut res) => {
            res.headers_mut().insert(
                header::X_FRAME_OPTIONS,
                header::HeaderValue::from_static("DENY"),
            );
            res
        }
        None => HttpResponse::NotFound().finish(),
    }
}

async fn index() -> HttpResponse {
    serve("index.html").unwrap_or_else(|| HttpResponse::NotFound().finish())
}

async fn asset(req: HttpRequest) -> HttpResponse {
    let path = req.match_info().query("path");
    serve(path).unwrap_or_else(|| {
        HttpResponse::NotFound().json(serde_json::json!({"error": {
            "code": "not_found", "message": format!("no page /{path}"), "details": null}}))
    })
}

fn serve(path: &str) -> Option<HttpResponse> {
    let file = Assets::get(path)?;
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    Some(
        HttpResponse::Ok()
            .content_type(mime.as_ref())
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .body(file.data.into_owned()),
    )
}
