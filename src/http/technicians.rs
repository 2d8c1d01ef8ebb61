//! Technician routes: list a station's technicians, add one, change one,
//! and one technician's day of visits in driving order.

use actix_web::{get, patch, post, web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::IntoParams;

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::auth::Role;
use std::collections::HashMap;

use chrono::NaiveDate;

use crate::basic::Fields;
use crate::dispatch::intake::parse_date;
use crate::dispatch::model::{Technician, TechnicianDraft, TechnicianId};
use crate::network::StationId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(patch_one)
        .service(technician_day);
}

fn show(t: &Technician) -> Value {
    json!({
        "id": t.id, "station_id": t.station_id, "name": t.name,
        "skills": t.skills, "daily_capacity": t.daily_capacity, "on_duty": t.on_duty,
    })
}

/// A technician with the jobs booked on them on `day`.
fn show_on(t: &Technician, day: NaiveDate, booked: &HashMap<TechnicianId, u32>) -> Value {
    let mut v = show(t);
    v["day"] = json!(day);
    v["booked"] = json!(booked.get(&t.id).copied().unwrap_or(0));
    v
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    station_id: Option<String>,
    /// `YYYY-MM-DD` (Asia/Shanghai; default today): adds `booked`, the jobs
    /// booked on each technician that day, beside `daily_capacity`.
    day: Option<String>,
}

/// Technicians, of one station or all, with their bookings on a day
/// (agent, dispatcher, manager).
#[utoipa::path(tag = "dispatch", params(ListParams), responses((status = 200, description = "{items}")), security(("bearer" = [])))]
#[get("/technicians")]
async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let who = caller.principal(&[Role::Agent, Role::Dispatcher, Role::Manager])?;
    let mut f = Fields::new();
    let station = f.opt("station_id", p.station_id.as_deref(), StationId::parse);
    let day = f.opt("day", p.day.as_deref(), |v| parse_date("day", v));
    f.finish()?;
    let day = day.unwrap_or_else(|| state.dispatch.today());
    let booked = state.dispatch.booked_on(day).await?;
    let items: Vec<Value> = state
        .dispatch
        .technicians(&who, station.as_ref())
        .await?
        .iter()
        .map(|t| show_on(t, day, &booked))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": null})))
}

/// Adds a technician to an on-site station (dispatcher); the id is assigned.
#[utoipa::path(tag = "dispatch", request_body = TechnicianDraft, responses((status = 201, description = "the technician")), security(("bearer" = [])))]
#[post("/technicians")]
async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<TechnicianDraft>,
) -> Result<HttpResponse, ApiError> {
    let who = caller.principal(&[Role::Dispatcher])?;
    let t = state
        .dispatch
        .add_technician(&who, body.into_inner())
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/technicians/{}", t.id)))
        .json(show(&t)))
}

/// Changes a technician (dispatcher): a JSON merge patch (RFC 7396), e.g.
/// `{"on_duty": false}`.
#[utoipa::path(tag = "dispatch", params(("id" = i64, Path)), request_body = Object, responses((status = 200, description = "the technician"), (status = 404)), security(("bearer" = [])))]
#[patch("/technicians/{id}")]
async fn patch_one(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: web::Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    let who = caller.principal(&[Role::Dispatcher])?;
    let patch = Value::Object(body.into_inner());
    let t = state
        .dispatch
        .patch_technician(&who, id.into_inner(), &patch)
        .await?;
    Ok(HttpResponse::Ok().json(show(&t)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DayParams {
    /// `YYYY-MM-DD` (Asia/Shanghai; default today).
    date: Option<String>,
}

/// A technician's open visits booked on a day, in driving order from their
/// station: per visit the job, the drive from the previous stop and map-app
/// links (`geo:`, AMap in GCJ-02, Baidu in BD-09). Windows keep their order
/// (morning, afternoon); within one the path is exact up to 12 visits,
/// nearest neighbour with 2-opt above. A technician reads only their own
/// day; dispatchers and managers within their scope.
#[utoipa::path(tag = "dispatch", params(("id" = i64, Path), DayParams), responses((status = 200, description = "{technician_id, technician_name, date, start, route_method, travel_source, total_travel_minutes, total_travel_km, visits: [{job, travel_minutes, travel_km, navigation}]}"), (status = 404)), security(("bearer" = [])))]
#[get("/technicians/{id}/day")]
async fn technician_day(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    p: web::Query<DayParams>,
) -> Result<HttpResponse, ApiError> {
    let who = caller.principal(&[Role::Technician, Role::Dispatcher, Role::Manager])?;
    let mut f = Fields::new();
    let date = f.opt("date", p.date.as_deref(), |v| parse_date("date", v));
    f.finish()?;
    let date = date.unwrap_or_else(|| state.dispatch.today());
    let d = state
        .dispatch
        .technician_day(&who, id.into_inner(), date)
        .await?;
    Ok(HttpResponse::Ok().json(d))
}
