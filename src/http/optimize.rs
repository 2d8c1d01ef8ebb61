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
    Ok(HttpResponse::Ok().json(json!({
        "day": o.day,
        "jobs_considered": o.jobs_considered,
        "assignments": o.result.assignments,
        "unassigned": o.result.unassigned,
        "total_distance_m": o.result.total_distance_m,
        "applied": body.apply,
        "applied_count": o.applied,
    })))
}
