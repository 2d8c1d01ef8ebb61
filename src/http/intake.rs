//! Routes a caller on the line needs before a job exists: the console's
//! options for an address, the earliest slots and the warranty decision.

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

use super::auth::Caller;
use super::error::ApiError;
use super::jobs::INTAKE;
use super::AppState;
use crate::basic::Fields;
use crate::dispatch::intake::WarrantyDraft;
use crate::dispatch::model::JobKind;
use crate::dispatch::service::StationOption;
use crate::dispatch::warranty::WarrantyDecision;
use crate::network::query::{NearestParams, NearestQuery, StationView};
use crate::network::Product;
use crate::places::{Crs, Gazetteer};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(slots)
        .service(intake_options)
        .service(warranty_check);
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SlotParams {
    lat: Option<String>,
    lon: Option<String>,
    address: Option<String>,
    crs: Option<String>,
    product: String,
    /// Days to look ahead, 1-14 (default 3).
    days: Option<String>,
}

/// The earliest bookable on-site visit days at the nearest capable
/// stations, while the caller is on the phone (agent, dispatcher).
#[utoipa::path(tag = "dispatch", params(SlotParams), responses((status = 200, description = "{query, slots: [{date, period, station_id, technician_id, eta_minutes, remaining}]}")), security(("bearer" = [])))]
#[get("/slots")]
async fn slots(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<SlotParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(INTAKE)?;
    let mut f = Fields::new();
    let place = locate(
        &mut f,
        &place(
            p.lat.as_ref(),
            p.lon.as_ref(),
            p.address.as_ref(),
            p.crs.as_ref(),
        ),
        &p.product,
        state.dispatch.now(),
    );
    let days = f.int_in("days", p.days.as_deref(), 1..=14, 3);
    let Some((q, product)) = place else {
        return Err(f.into_errors().into());
    };
    f.finish()?;
    let slots = state.dispatch.slots(q.point, product, days).await?;
    Ok(HttpResponse::Ok().json(json!({
        "query": {"lat": q.point.lat, "lon": q.point.lon, "division": q.division, "product": product},
        "slots": slots,
    })))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct OptionsParams {
    /// The address as the caller says it (or give lat and lon).
    address: Option<String>,
    lat: Option<String>,
    lon: Option<String>,
    crs: Option<String>,
    product: String,
    /// `onsite` (default) or `carry_in`.
    kind: Option<String>,
    /// Days of slots to offer, 1-14 (default 3).
    days: Option<String>,
}

/// Stations in the console's answers: the directory's fields, open-now,
/// next opening, the distance and why each cannot take the job (null when
/// it can).
pub(super) fn station_options(
    list: &[StationOption],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Value> {
    list.iter()
        .map(|o| {
            json!({
                "station": StationView::new(&o.station, Crs::default(), now),
                "distance_m": o.distance_m.round(),
                "reason": o.reason,
            })
        })
        .collect()
}

/// A caller's point (an address, or lat/lon in a coordinate system) and
/// the product, with every problem recorded in `f`.
fn locate(
    f: &mut Fields,
    place: &NearestParams,
    product: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<(NearestQuery, Product)> {
    let q = place
        .resolve(Gazetteer::embedded(), now)
        .map_err(|e| f.extend(e))
        .ok();
    let product = f.take_as("product", product.parse::<Product>());
    q.zip(product)
}

/// A place given the way `/nearest` takes it.
fn place(
    lat: Option<&String>,
    lon: Option<&String>,
    address: Option<&String>,
    crs: Option<&String>,
) -> NearestParams {
    NearestParams {
        lat: lat.cloned(),
        lon: lon.cloned(),
        address: address.cloned(),
        crs: crs.cloned(),
        ..Default::default()
    }
}

/// Everything the call-centre console shows for a caller's address before
/// the job is made, in one answer: the resolved division and the other
/// candidates (when the address is ambiguous), the nearby stations with the
/// reason each cannot take the job, the technicians who could come (ranked)
/// and why the others cannot, the earliest slots, and — for carry-in, or
/// when no technician can come (`coverage`) — the stations to bring the
/// item to (agent, dispatcher).
#[utoipa::path(tag = "dispatch", params(OptionsParams), responses((status = 200, description = "{query: {lat, lon, division, candidates, ambiguous, conflicts, remainder}, day, coverage, stations: [{station, distance_m, reason}], candidates, rejected, carry_in_stations, slots}"), (status = 400)), security(("bearer" = [])))]
#[get("/intake/options")]
async fn intake_options(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<OptionsParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(INTAKE)?;
    let now = state.dispatch.now();
    let mut f = Fields::new();
    let place = locate(
        &mut f,
        &place(
            p.lat.as_ref(),
            p.lon.as_ref(),
            p.address.as_ref(),
            p.crs.as_ref(),
        ),
        &p.product,
        now,
    );
    let kind = f
        .opt("kind", p.kind.as_deref(), str::parse::<JobKind>)
        .unwrap_or(JobKind::Onsite);
    let days = f.int_in("days", p.days.as_deref(), 1..=14, 3);
    let Some((q, product)) = place else {
        return Err(f.into_errors().into());
    };
    f.finish()?;
    let geocoded = p
        .address
        .as_deref()
        .map(|a| Gazetteer::embedded().geocode(a));
    let o = state
        .dispatch
        .intake_options(q.point, product, kind, days, None)
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "query": {
            "lat": q.point.lat, "lon": q.point.lon, "division": q.division,
            "candidates": geocoded.as_ref().map(|g| &g.matches),
            "ambiguous": geocoded.as_ref().is_some_and(|g| g.ambiguous),
            "conflicts": geocoded.as_ref().map(|g| &g.conflicts),
            "remainder": q.remainder,
        },
        "kind": kind,
        "product": product,
        "day": o.day,
        "coverage": o.coverage,
        "stations": station_options(&o.stations, now),
        "candidates": o.recommendation.candidates,
        "rejected": o.recommendation.rejected,
        "carry_in_stations": station_options(&o.carry_in, now),
        "slots": o.slots,
    })))
}

/// The warranty decision alone, for a caller on the phone (agent, dispatcher).
#[utoipa::path(tag = "dispatch", request_body = WarrantyDraft, responses((status = 200, body = WarrantyDecision), (status = 400)), security(("bearer" = [])))]
#[post("/warranty/check")]
async fn warranty_check(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<WarrantyDraft>,
) -> Result<web::Json<WarrantyDecision>, ApiError> {
    caller.require(INTAKE)?;
    let input = body.into_inner().validate()?;
    Ok(web::Json(state.dispatch.warranty(&input)?))
}
