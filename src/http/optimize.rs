//! Batch optimisation of open on-site jobs (dispatcher): the exact
//! minimum-total-distance assignment, as a dry run or applied.

use std::collections::HashMap;

use actix_web::{post, web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::ApiError;
use super::jobs::{apply_assignment, technician, today};
use super::AppState;
use crate::auth::Role;
use crate::dispatch::model::JobId;
use crate::dispatch::optimize::{optimize, OptJob, OptTech, Unassigned, UnassignedReason};
use crate::network::model::{FieldError, LatLon};
use crate::places::Region;
use crate::store::jobs::{self as store_jobs, Booked, JobFilter};
use crate::store::technicians as store_techs;

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
    caller.require(&[Role::Dispatcher])?;
    let region = body
        .region
        .as_deref()
        .map(str::parse::<Region>)
        .transpose()
        .map_err(|e: FieldError| ApiError::invalid_fields(&[e]))?;
    let now = Utc::now();
    let day = today(&state, now);
    let rows = store_jobs::list(
        &state.db,
        &JobFilter {
            statuses: vec!["new".into()],
            region: region.map(|r| r.code().to_owned()),
            kind: Some("onsite".into()),
            unassigned: true,
            limit: 10_000,
            ..Default::default()
        },
    )
    .await?;
    let jobs: Vec<OptJob> = rows
        .iter()
        .map(|r| {
            Ok(OptJob {
                id: JobId(r.id),
                point: LatLon::new(r.lat, r.lon)?,
                product: r.product.parse()?,
            })
        })
        .collect::<Result<_, FieldError>>()?;
    let booked: HashMap<i64, i32> = store_techs::booked_on(&state.db, day)
        .await?
        .into_iter()
        .collect();
    let index = state.index.load();
    let mut techs = Vec::new();
    let mut by_id = HashMap::new();
    for r in store_techs::list(&state.db, None).await? {
        let t = technician(r)?;
        let Some(station) = index.get(&t.station_id) else {
            continue;
        };
        let Some(radius_km) = station.onsite_radius_km else {
            continue;
        };
        let used = booked.get(&t.id.value()).copied().unwrap_or(0).max(0) as u32;
        techs.push(OptTech {
            id: t.id,
            point: station.location,
            radius_m: radius_km * 1000.0,
            skills: t.skills.clone(),
            on_duty: t.on_duty,
            capacity: t.daily_capacity.saturating_sub(used),
        });
        by_id.insert(t.id, (t, station.clone()));
    }
    let mut result = optimize(&jobs, &techs);
    let mut applied = 0;
    if body.apply {
        let rows_by_id: HashMap<i64, &store_jobs::JobRow> =
            rows.iter().map(|r| (r.id, r)).collect();
        let mut kept = Vec::new();
        for a in result.assignments {
            let (t, station) = &by_id[&a.technician_id];
            let row = rows_by_id[&a.job_id.0];
            // A job changed or a day filled since the plan was made: report
            // it unassigned rather than fail the whole batch.
            match apply_assignment(&state, row, t, station, None, &caller.token_id).await {
                Ok(Booked::Done(())) => {
                    applied += 1;
                    kept.push(a);
                }
                Ok(Booked::Full) => result.unassigned.push(Unassigned {
                    job_id: a.job_id,
                    reason: UnassignedReason::CapacityExhausted,
                }),
                Err(ApiError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        result.total_distance_m = kept.iter().map(|a| a.distance_m).sum();
        result.assignments = kept;
        tracing::info!(applied, unassigned = result.unassigned.len(), token = %caller.token_id, "optimisation applied");
    }
    Ok(HttpResponse::Ok().json(json!({
        "day": day,
        "jobs_considered": jobs.len(),
        "assignments": result.assignments,
        "unassigned": result.unassigned,
        "total_distance_m": result.total_distance_m,
        "applied": body.apply,
        "applied_count": applied,
    })))
}
