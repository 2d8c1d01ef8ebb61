//! Dispatch routes: job intake, job reads, assignment and transfer, state
//! events, recommendations, bookable slots, the stand-alone warranty check
//! and customer tracking. Each handler parses its input, calls one
//! [`DispatchService`](crate::dispatch::DispatchService) use case and shapes
//! the answer.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::ApiError;
use super::intake::station_options;
use super::{feed, intake, AppState};
use crate::auth::Role;
use crate::basic::{FieldError, Fields};
use crate::dispatch::intake::JobDraft;
use crate::dispatch::intake::{parse_date, Period};
use crate::dispatch::model::{JobId, JobKind, Phone, TechnicianId};
use crate::dispatch::recommend::Recommendation;
use crate::dispatch::service::{Correction, Coverage, JobQuery, Opened};
use crate::dispatch::state::{JobEvent, JobStatus};
use crate::dispatch::view::JobView;
use crate::network::query::parse_bool;
use crate::network::StationId;
use crate::places::Region;
use crate::store::jobs::JobFilter;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // `changes` before `{id}`, which would match it too.
    cfg.service(create_job)
        .service(list_jobs)
        .configure(feed::routes)
        .service(get_job)
        .service(assign_job)
        .service(reschedule_job)
        .service(correct_job)
        .service(post_event)
        .service(recontact)
        .service(notifications)
        .service(job_recommendation)
        .configure(intake::routes)
        .service(track)
        .service(survey);
}

/// Who may read jobs; a technician reads only their own (the scope).
pub(super) const READERS: &[Role] = &[
    Role::Agent,
    Role::Dispatcher,
    Role::Manager,
    Role::Technician,
];
pub(super) const INTAKE: &[Role] = &[Role::Agent, Role::Dispatcher];
const DISPATCH: &[Role] = &[Role::Dispatcher];
/// Who may post events; a technician only the visit's own, an agent only a
/// cancellation with a reason (the use case decides).
const EVENTS: &[Role] = &[Role::Dispatcher, Role::Technician, Role::Agent];

#[derive(Serialize, ToSchema)]
pub struct CreatedJob {
    #[serde(flatten)]
    pub job: JobView,
    /// On-site jobs: the ranked candidates and the reasons the other nearby
    /// stations and technicians could not take the job.
    pub recommendation: Option<Recommendation>,
    /// `covered`, `no_free_technician`, `no_onsite_station` or `carry_in`.
    #[schema(value_type = Option<String>)]
    pub coverage: Option<Coverage>,
    /// Where the item can be brought when no technician can come.
    #[schema(value_type = Vec<Object>)]
    pub carry_in_stations: Vec<Value>,
}

/// Opens an on-site or carry-in job (agent, dispatcher). A retried request
/// with the same `Idempotency-Key` returns the first job instead of a second.
#[utoipa::path(tag = "dispatch", request_body = JobDraft, params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = CreatedJob), (status = 200, description = "replay of an earlier request"), (status = 400), (status = 422)),
    security(("bearer" = [])))]
#[post("/jobs")]
async fn create_job(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let who = caller.principal(INTAKE)?;
    let key = idempotency_key(&req)?;
    match state
        .dispatch
        .open_job(&who, body.into_inner(), key)
        .await?
    {
        Opened::Created {
            job,
            recommendation,
            coverage,
            carry_in,
        } => {
            let now = state.dispatch.now();
            Ok(HttpResponse::Created()
                .insert_header(("Location", format!("/api/v1/jobs/{}", job.id)))
                .json(CreatedJob {
                    job,
                    recommendation,
                    coverage: Some(coverage),
                    carry_in_stations: station_options(&carry_in, now),
                }))
        }
        Opened::Replayed(job) => Ok(HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .json(CreatedJob {
                job,
                recommendation: None,
                coverage: None,
                carry_in_stations: Vec::new(),
            })),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct JobListParams {
    /// Comma-separated statuses, e.g. `new,assigned`; `open` for all open ones.
    status: Option<String>,
    region: Option<String>,
    station_id: Option<String>,
    technician_id: Option<String>,
    kind: Option<String>,
    /// `true`: only jobs without a technician.
    unassigned: Option<String>,
    /// `at_risk`: only jobs whose SLA is in warning or breached.
    sla: Option<String>,
    /// The customer's phone number (exact; spaces and dashes ignored).
    phone: Option<String>,
    /// `true`: leave each job's history out (lighter pages for boards).
    summary: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
    /// Only jobs carrying this task: `notify_customer_of_delay`,
    /// `mail_back` or `recontact_customer` (a complaint not yet called back).
    task: Option<String>,
}

fn statuses(f: &mut Fields, list: Option<&str>) -> Vec<JobStatus> {
    let mut out = Vec::new();
    for s in list
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if s == "open" {
            out.extend(JobStatus::ALL.iter().copied().filter(|s| s.is_open()));
        } else if let Some(v) = f.take_as("status", s.parse::<JobStatus>()) {
            out.push(v);
        }
    }
    out
}

/// Jobs, filtered and paged by id (agent, dispatcher, manager).
#[utoipa::path(tag = "dispatch", params(JobListParams), responses((status = 200, description = "{items, next_cursor}")), security(("bearer" = [])))]
#[get("/jobs")]
async fn list_jobs(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<JobListParams>,
) -> Result<HttpResponse, ApiError> {
    let who = caller.principal(READERS)?;
    let mut f = Fields::new();
    let statuses = statuses(&mut f, p.status.as_deref());
    let region = f.opt("region", p.region.as_deref(), str::parse::<Region>);
    let station_id = f.opt("station_id", p.station_id.as_deref(), StationId::parse);
    let technician_id = f.opt(
        "technician_id",
        p.technician_id.as_deref(),
        str::parse::<TechnicianId>,
    );
    let kind = f.opt("kind", p.kind.as_deref(), str::parse::<JobKind>);
    let unassigned = f
        .opt("unassigned", p.unassigned.as_deref(), |v| {
            parse_bool("unassigned", v)
        })
        .unwrap_or(false);
    let at_risk_only = f
        .opt("sla", p.sla.as_deref(), |v| match v {
            "at_risk" => Ok(true),
            o => Err(FieldError::new(
                "sla",
                format!("sla must be at_risk, got {o:?}"),
            )),
        })
        .unwrap_or(false);
    let task = f.opt("task", p.task.as_deref(), |v| {
        const TASKS: [&str; 3] = [
            "notify_customer_of_delay",
            "mail_back",
            "recontact_customer",
        ];
        if TASKS.contains(&v) {
            Ok(v.to_owned())
        } else {
            Err(FieldError::new(
                "task",
                format!("task must be one of {}, got {v:?}", TASKS.join(", ")),
            ))
        }
    });
    let phone = f.opt("phone", p.phone.as_deref(), Phone::parse);
    let summary = f
        .opt("summary", p.summary.as_deref(), |v| {
            parse_bool("summary", v)
        })
        .unwrap_or(false);
    let limit = f.int_in("limit", p.limit.as_deref(), 1..=500, 50);
    let after_id = f.opt("cursor", p.cursor.as_deref(), |v| {
        crate::basic::read_cursor("jobs", v)?
            .parse::<i64>()
            .map(JobId)
            .map_err(|_| {
                FieldError::new("cursor", "cursor must be a next_cursor value of this list")
            })
    });
    f.finish()?;
    let q = JobQuery {
        filter: JobFilter {
            statuses,
            region,
            station_id,
            technician_id,
            kind,
            phone,
            unassigned,
            after_id,
            limit,
        },
        at_risk_only,
        task,
    };
    let mut page = state.dispatch.list_jobs(&who, &q).await?;
    if summary {
        for j in &mut page.items {
            j.events.clear();
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "items": page.items,
        "next_cursor": page.next_cursor.map(|c| crate::basic::page_cursor("jobs", &c.to_string())),
    })))
}

/// One job by id or code (agent, dispatcher, manager).
#[utoipa::path(tag = "dispatch", params(("id" = String, Path, description = "id or code")), responses((status = 200, body = JobView), (status = 404)), security(("bearer" = [])))]
#[get("/jobs/{id}")]
async fn get_job(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<JobView>, ApiError> {
    let who = caller.principal(READERS)?;
    Ok(web::Json(state.dispatch.get_job(&who, &id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    pub technician_id: i64,
    /// Required for a transfer (the job already has a technician).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Assigns an on-site job to a technician, or transfers it (dispatcher).
#[utoipa::path(tag = "dispatch", params(("id" = String, Path)), request_body = AssignBody,
    responses((status = 200, body = JobView), (status = 400), (status = 409)), security(("bearer" = [])))]
#[post("/jobs/{id}/assign")]
async fn assign_job(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<AssignBody>,
) -> Result<web::Json<JobView>, ApiError> {
    let who = caller.principal(DISPATCH)?;
    let body = body.into_inner();
    Ok(web::Json(
        state
            .dispatch
            .assign(&who, &id, body.technician_id, body.reason)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleBody {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `am` or `pm`.
    pub period: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Moves an on-site visit to another window before the technician sets out
/// (agent, dispatcher): the old day's booking is given back and the new
/// one taken together; a full day is a 409.
#[utoipa::path(tag = "dispatch", params(("id" = String, Path)), request_body = RescheduleBody,
    responses((status = 200, body = JobView), (status = 400), (status = 404), (status = 409)), security(("bearer" = [])))]
#[post("/jobs/{id}/reschedule")]
async fn reschedule_job(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<RescheduleBody>,
) -> Result<web::Json<JobView>, ApiError> {
    let who = caller.principal(INTAKE)?;
    let body = body.into_inner();
    let mut f = Fields::new();
    let date = f.take(parse_date("date", &body.date));
    let period = f.take_as("period", body.period.parse::<Period>());
    let (Some(date), Some(period)) = (date, period) else {
        return Err(f.into_errors().into());
    };
    Ok(web::Json(
        state
            .dispatch
            .reschedule(&who, &id, date, period, body.reason)
            .await?,
    ))
}

/// Corrects what the caller said — name, phone, address text, problem —
/// while the job is open (agent, dispatcher); recorded as a `corrected`
/// event naming the fields.
#[utoipa::path(tag = "dispatch", params(("id" = String, Path)), request_body = Correction,
    responses((status = 200, body = JobView), (status = 400), (status = 404), (status = 409)), security(("bearer" = [])))]
#[patch("/jobs/{id}")]
async fn correct_job(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<Correction>,
) -> Result<web::Json<JobView>, ApiError> {
    let who = caller.principal(INTAKE)?;
    Ok(web::Json(
        state.dispatch.correct(&who, &id, body.into_inner()).await?,
    ))
}

/// Posts a state change to a job (dispatcher); impossible transitions get 409.
#[utoipa::path(tag = "dispatch", params(("id" = String, Path)), request_body = JobEvent,
    responses((status = 200, body = JobView), (status = 409)), security(("bearer" = [])))]
#[post("/jobs/{id}/events")]
async fn post_event(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<web::Json<JobView>, ApiError> {
    let who = caller.principal(EVENTS)?;
    let key = idempotency_key(&req)?;
    Ok(web::Json(
        state
            .dispatch
            .post_event(&who, &id, body.into_inner(), key.as_deref())
            .await?,
    ))
}

/// The request's `Idempotency-Key`, if it sent a usable one.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get("Idempotency-Key") {
        None => Ok(None),
        Some(v) => match v.to_str().map(str::trim) {
            Ok(k) if !k.is_empty() && k.len() <= 200 => Ok(Some(k.to_owned())),
            _ => Err(ApiError::bad_request(
                "invalid_header",
                "Idempotency-Key must be 1-200 visible characters",
            )),
        },
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RecontactBody {
    /// What the customer was told (1-500 characters).
    note: String,
}

/// Records the call back to a customer who complained (a survey score of
/// 1 or 2): clears the job's `recontact_customer` task (agent, dispatcher).
#[utoipa::path(tag = "dispatch", params(("id" = String, Path)), request_body = RecontactBody, responses((status = 200, description = "the job"), (status = 404), (status = 409, description = "no_open_complaint")), security(("bearer" = [])))]
#[post("/jobs/{id}/recontact")]
async fn recontact(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<RecontactBody>,
) -> Result<web::Json<JobView>, ApiError> {
    let who = caller.principal(INTAKE)?;
    Ok(web::Json(
        state.dispatch.recontact(&who, &id, &body.note).await?,
    ))
}

/// A job's customer messages and their delivery state: `pending`,
/// `sending`, `delivered`, `failed` (agent and up, within scope).
#[utoipa::path(tag = "dispatch", params(("id" = String, Path)), responses((status = 200, description = "{items: [{id, template, to, text, params, state, attempts, next_attempt_at, last_error, created_at, delivered_at}]}"), (status = 404)), security(("bearer" = [])))]
#[get("/jobs/{id}/notifications")]
async fn notifications(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = caller.principal(&[Role::Agent, Role::Dispatcher, Role::Manager])?;
    let items = state.dispatch.notifications(&who, &id).await?;
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

/// For an on-site job, the technicians who could come now, ranked, with
/// the reasons the nearby stations and technicians cannot (and, when none
/// can, the stations to bring the item to); for a carry-in job, the
/// stations to bring it to (agent, dispatcher).
#[utoipa::path(tag = "dispatch", params(("id" = String, Path)), responses((status = 200, description = "{day, coverage, candidates, rejected, stations: [{station, distance_m, reason}], carry_in_stations}"), (status = 404)), security(("bearer" = [])))]
#[get("/jobs/{id}/recommendation")]
async fn job_recommendation(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = caller.principal(INTAKE)?;
    let o = state.dispatch.job_recommendation(&who, &id).await?;
    let now = state.dispatch.now();
    Ok(HttpResponse::Ok().json(json!({
        "day": o.day,
        "coverage": o.coverage,
        "candidates": o.recommendation.candidates,
        "rejected": o.recommendation.rejected,
        "stations": station_options(&o.stations, now),
        "carry_in_stations": station_options(&o.carry_in, now),
    })))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TrackParams {
    code: Option<String>,
    phone_last4: Option<String>,
}

/// A customer's own job: status, station, visit day and due time; never
/// name, phone or address. A wrong pair answers exactly like an unknown code.
#[utoipa::path(tag = "dispatch", params(TrackParams), responses((status = 200, description = "the job's public status"), (status = 404)))]
#[get("/track")]
async fn track(
    state: web::Data<AppState>,
    p: web::Query<TrackParams>,
) -> Result<HttpResponse, ApiError> {
    let (Some(code), Some(last4)) = (p.code.as_deref(), p.phone_last4.as_deref()) else {
        return Err(ApiError::bad_request(
            "invalid_input",
            "give code and phone_last4",
        ));
    };
    let t = state.dispatch.track(code, last4).await?;
    let job = &t.job;
    Ok(HttpResponse::Ok().json(json!({
        "code": job.code,
        "kind": job.kind,
        "status": job.status(),
        "product": job.product,
        "station": t.station.map(|s| json!({"id": s.id, "name": s.name, "phone": s.phone, "address": s.address, "opening_hours": s.opening_hours.as_str()})),
        "visit": job.booked_day.map(|d| json!({"day": d, "period": job.slot_period, "eta_minutes": job.eta_minutes})),
        "due_at": job.due_at,
        "updated_at": job.updated_at,
        "history": t.events.iter().map(|e| json!({"event": e.event, "status": e.to_status, "at": e.at})).collect::<Vec<_>>(),
        "satisfaction": job.state.satisfaction.map(crate::dispatch::state::Satisfaction::value),
    })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SurveyBody {
    code: String,
    /// The last four digits of the phone the job was opened with.
    phone_last4: String,
    /// 1 (very unhappy) to 5 (very happy).
    score: i64,
    /// At most 500 characters.
    comment: Option<String>,
}

/// The customer's satisfaction survey (public): records the job's
/// follow-up once, within the policy's window after the work is complete.
/// A score of 1 or 2 opens a complaint (`complaint: true`). A wrong code or
/// phone answers like an unknown code.
#[utoipa::path(tag = "dispatch", request_body = SurveyBody, responses((status = 201, description = "{code, score, recorded_at, complaint}"), (status = 404), (status = 409, description = "already_recorded, not_complete or window_closed")))]
#[post("/survey")]
async fn survey(
    state: web::Data<AppState>,
    body: web::Json<SurveyBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let (job, complaint) = state
        .dispatch
        .survey(&b.code, &b.phone_last4, b.score, b.comment)
        .await?;
    Ok(HttpResponse::Created().json(json!({
        "code": job.code, "score": b.score, "recorded_at": job.updated_at, "complaint": complaint,
    })))
}
