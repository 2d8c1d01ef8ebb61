//! Technician routes: list a station's technicians, add one, change one.

use actix_web::{get, patch, post, web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::IntoParams;

use super::auth::Caller;
use super::error::ApiError;
use super::jobs::technician;
use super::AppState;
use crate::auth::Role;
use crate::dispatch::model::{Technician, TechnicianDraft};
use crate::network::model::{FieldError, StationId};
use crate::store::technicians::{self as store_techs, TechnicianRow};
use crate::store::StoreError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(create).service(patch_one);
}

fn row(t: &Technician) -> TechnicianRow {
    TechnicianRow {
        id: t.id.value(),
        station_id: t.station_id.to_string(),
        name: t.name.clone(),
        skills: t
            .skills
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(";"),
        daily_capacity: t.daily_capacity as i32,
        on_duty: t.on_duty,
    }
}

fn show(t: &Technician) -> Value {
    json!({
        "id": t.id, "station_id": t.station_id, "name": t.name,
        "skills": t.skills, "daily_capacity": t.daily_capacity, "on_duty": t.on_duty,
    })
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    station_id: Option<String>,
}

/// Technicians, of one station or all (agent, dispatcher, manager).
#[utoipa::path(tag = "dispatch", params(ListParams), responses((status = 200, description = "{items}")), security(("bearer" = [])))]
#[get("/technicians")]
async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Agent, Role::Dispatcher, Role::Manager])?;
    let station = p.station_id.as_deref().map(StationId::parse).transpose()?;
    let rows = store_techs::list(&state.db, station.as_ref().map(|s| s.as_str())).await?;
    let items = rows
        .into_iter()
        .map(|r| technician(r).map(|t| show(&t)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": null})))
}

fn check_station(state: &AppState, t: &Technician) -> Result<(), ApiError> {
    match state.index.load().get(&t.station_id) {
        None => Err(ApiError::invalid_fields(&[FieldError::new(
            "station_id",
            format!("no station {}", t.station_id),
        )])),
        Some(s) if !s.offers(crate::network::Service::Onsite) => {
            Err(ApiError::invalid_fields(&[FieldError::new(
                "station_id",
                format!("station {} does not offer on-site repair", t.station_id),
            )]))
        }
        Some(_) => Ok(()),
    }
}

/// Adds a technician to an on-site station (dispatcher); the id is assigned.
#[utoipa::path(tag = "dispatch", request_body = TechnicianDraft, responses((status = 201, description = "the technician")), security(("bearer" = [])))]
#[post("/technicians")]
async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<TechnicianDraft>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Dispatcher])?;
    let mut draft = body.into_inner();
    if draft.id.is_some() {
        return Err(ApiError::invalid_fields(&[FieldError::new(
            "id",
            "the server assigns technician ids",
        )]));
    }
    // Validate with a placeholder id; the database assigns the real one.
    draft.id = Some(1);
    let t = Technician::try_from(draft).map_err(|e| ApiError::invalid_fields(&e))?;
    check_station(&state, &t)?;
    let id = store_techs::insert(&state.db, &row(&t)).await?;
    let t = technician(store_techs::get(&state.db, id).await?)?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/technicians/{id}")))
        .json(show(&t)))
}

/// Changes a technician (dispatcher): a JSON merge patch, e.g. `{"on_duty": false}`.
#[utoipa::path(tag = "dispatch", params(("id" = i64, Path)), request_body = Object, responses((status = 200, description = "the technician"), (status = 404)), security(("bearer" = [])))]
#[patch("/technicians/{id}")]
async fn patch_one(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: web::Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Dispatcher])?;
    let id = id.into_inner();
    let current = match store_techs::get(&state.db, id).await {
        Ok(r) => technician(r)?,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound(format!("no technician {id}"))),
        Err(e) => return Err(e.into()),
    };
    let mut merged = match serde_json::to_value(TechnicianDraft::from(&current)) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "technician draft is not an object"
            )))
        }
    };
    for (k, v) in body.into_inner() {
        if k == "id" && v.as_i64() != Some(id) {
            return Err(ApiError::bad_request(
                "id_mismatch",
                "a technician's id cannot be changed",
            ));
        }
        merged.insert(k, v);
    }
    let draft: TechnicianDraft = serde_json::from_value(Value::Object(merged))
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    let t = Technician::try_from(draft).map_err(|e| ApiError::invalid_fields(&e))?;
    check_station(&state, &t)?;
    store_techs::update(&state.db, &row(&t)).await?;
    tracing::info!(technician = id, token = %caller.token_id, "technician changed");
    Ok(HttpResponse::Ok().json(show(&t)))
}
