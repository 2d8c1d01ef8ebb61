//! The web pages and their assets, embedded in the binary from `web/`.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/{path:.*}", web::get().to(asset));
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
