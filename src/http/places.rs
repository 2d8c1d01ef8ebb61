//! Places routes: free-text geocoding over the offline divisions gazetteer.

use actix_web::{get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;
use crate::places::{Gazetteer, Geocoded, MAX_ADDRESS_CHARS};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(geocode);
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct GeocodeParams {
    /// A Chinese address as spoken or written (绵阳涪城临园路), or a pinyin
    /// city/district name (Zigong, luzhou jiangyang).
    q: Option<String>,
}

/// The division(s) of China a free-text address names, best first, with
/// `ambiguous` when several fit equally.
#[utoipa::path(tag = "places", params(GeocodeParams), responses((status = 200, body = Geocoded), (status = 400)))]
#[get("/geocode")]
async fn geocode(p: web::Query<GeocodeParams>) -> Result<web::Json<Geocoded>, ApiError> {
    let q = p.q.as_deref().map_or("", str::trim);
    if q.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_input",
            "q is required: an address or place name",
        ));
    }
    if q.chars().count() > MAX_ADDRESS_CHARS {
        return Err(ApiError::bad_request(
            "invalid_input",
            format!("q is longer than {MAX_ADDRESS_CHARS} characters"),
        ));
    }
    metrics::counter!("repairnet_geocode_queries_total").increment(1);
    Ok(web::Json(Gazetteer::embedded().geocode(q)))
}
