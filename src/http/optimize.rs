//! Batch optimisation of open on-site jobs (dispatcher): the exact
//! minimum-total-distance assignment, as a dry run or applied.

use actix_web::{post, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::auth::Role;
use crate::basic::FieldError;
use crate::places::Region;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(run);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizeBody {
    /// Only jobs in this region (code or Chinese name).
    #[serde(default)]
    pub region: Option<String>,
    /// Write the assignments; otherwise a dry run.
    #[serde(default)]
    pub apply: bool,
}

/// Assigns every open, unassigned on-site job it can: the most jobs first,
/// then the least total distance, within skills, duty, daily capacity and
/// each station's on-site radius. Every job left out has a reason.
#[utoipa::path(tag = "dispatch", request_body = OptimizeBody,
    responses((status = 200, description = "{assignments, unassigned, total_distance_m, applied}")), security(("bearer" = [])))]
#[post("/dispatch/optimize")]
async fn run(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<OptimizeBody>,
) -> Result<HttpResponse, ApiError> {
    let who = caller.principal(&[Role::Dispatcher])?;
    let region = body
        .region
        .as_deref()
        .map(str::parse::<Region>)
        .transpose()
        .map_err(|e: FieldError| e.under("region"))?;
    let o = state.dispatch.optimise(&who, region, body.apply).await?;
    // Jobs by code and station as well as by id: people read these.
    let assignments: Vec<_> = o
        .result
        .assignments
        .iter()
        .map(|a| {
            let station = o.stations.get(&a.technician_id);
            json!({
                "job_id": a.job_id, "code": o.codes.get(&a.job_id),
                "technician_id": a.technician_id, "distance_m": a.distance_m,
                "station_id": station.map(|s| &s.0),
                "station_lat": station.map(|s| s.1.lat), "station_lon": station.map(|s| s.1.lon),
            })
        })
        .collect();
    let unassigned: Vec<_> = o
        .result
        .unassigned
        .iter()
        .map(|u| json!({"job_id": u.job_id, "code": o.codes.get(&u.job_id), "reason": u.reason}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "day": o.day,
        "jobs_considered": o.jobs_considered,
        "assignments": assignments,
        "unassigned": unassigned,
        "total_distance_m": o.result.total_distance_m,
        "applied": body.apply,
        "applied_count": o.applied,
    })))
}
