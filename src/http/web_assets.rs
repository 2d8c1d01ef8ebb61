//! The web pages and their assets, embedded in the binary from `web/`.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/",
        web::get().to(|s: State| async move { page(&s, "index.html", false) }),
    )
    .route(
        "/agent",
        web::get().to(|s: State| async move { page(&s, "agent.html", true) }),
    )
    .route(
        "/dispatch",
        web::get().to(|s: State| async move { page(&s, "dispatch.html", true) }),
    )
    .route(
        "/tech",
        web::get().to(|s: State| async move { page(&s, "tech.html", true) }),
    )
    .route(
        "/kpi",
        web::get().to(|s: State| async move { page(&s, "kpi.html", true) }),
    )
    .route(
        "/survey",
        web::get().to(|s: State| async move { page(&s, "survey.html", false) }),
    )
    .route(
        "/track",
        web::get().to(|s: State| async move { page(&s, "track.html", false) }),
    )
    .route("/{path:.*}", web::get().to(asset));
}

type State = web::Data<super::AppState>;

/// Every page: scripts, styles, fonts and API calls only from this server,
/// images from it and from the configured tile hosts (a `?tiles=` address
/// elsewhere shows no tiles), no framing, no plugins, no `<base>`.
pub fn page_csp(tile_hosts: &[String]) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; font-src 'self'; \
         img-src 'self' data: {}; connect-src 'self'; object-src 'none'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        tile_hosts.join(" ")
    )
}

/// A page with its security headers. Staff pages hold a token: they send
/// no referrer at all and are never cached; customer pages send only this
/// server's origin (tile servers ask for one).
fn page(state: &State, file: &str, staff: bool) -> HttpResponse {
    let Some(mut res) = serve(file) else {
        return HttpResponse::NotFound().finish();
    };
    let h = res.headers_mut();
    if let Ok(csp) = header::HeaderValue::from_str(&page_csp(&state.settings.tile_hosts)) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static(if staff {
            "no-referrer"
        } else {
            "strict-origin-when-cross-origin"
        }),
    );
    if staff {
        h.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-cache"),
        );
    }
    res
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
