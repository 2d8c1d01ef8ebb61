//! Dispatch routes: job intake, job reads, assignment and transfer, state
//! events, recommendations, bookable slots, the stand-alone warranty check
//! and customer tracking. Each handler parses its input, calls one
//! [`DispatchService`](crate::dispatch::DispatchService) use case and shapes
//! the answer.

use std::fmt::Write as _;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::auth::Role;
use crate::basic::{FieldError, Fields};
use crate::dispatch::intake::{parse_date, Period};
use crate::dispatch::intake::{JobDraft, WarrantyDraft};
use crate::dispatch::model::{JobId, JobKind, Phone, TechnicianId};
use crate::dispatch::recommend::Recommendation;
use crate::dispatch::service::{ChangePage, Correction, Coverage, JobQuery, Opened, StationOption};
use crate::dispatch::state::{JobEvent, JobStatus};
use crate::dispatch::view::JobView;
use crate::dispatch::warranty::WarrantyDecision;
use crate::network::query::{parse_bool, NearestParams, NearestQuery, StationView};
use crate::network::{Product, StationId};
use crate::places::{Crs, Gazetteer, Region};
use crate::store::jobs::JobFilter;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // `changes` before `{id}`, which would match it too.
    cfg.service(create_job)
        .service(list_jobs)
        .service(job_changes)
        .service(get_job)
        .service(assign_job)
        .service(reschedule_job)
        .service(correct_job)
        .service(post_event)
        .service(job_recommendation)
        .service(slots)
        .service(intake_options)
        .service(warranty_check)
        .service(track);
}

/// Who may read jobs; a technician reads only their own (the scope).
const READERS: &[Role] = &[
    Role::Agent,
    Role::Dispatcher,
    Role::Manager,
    Role::Technician,
];
const INTAKE: &[Role] = &[Role::Agent, Role::Dispatcher];
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
    let key = match req.headers().get("Idempotency-Key") {
        None => None,
        Some(v) => match v.to_str().map(str::trim) {
            Ok(k) if !k.is_empty() && k.len() <= 200 => Some(k.to_owned()),
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_header",
                    "Idempotency-Key must be 1-200 visible characters",
                ))
            }
        },
    };
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
    let phone = f.opt("phone", p.phone.as_deref(), Phone::parse);
    let summary = f
        .opt("summary", p.summary.as_deref(), |v| {
            parse_bool("summary", v)
        })
        .unwrap_or(false);
    let limit = f.int_in("limit", p.limit.as_deref(), 1..=500, 50);
    let after_id = f.opt("cursor", p.cursor.as_deref(), |v| {
        v.parse::<i64>()
            .map(JobId)
            .map_err(|_| FieldError::new("cursor", "cursor must be a next_cursor value"))
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
    };
    let mut page = state.dispatch.list_jobs(&who, &q).await?;
    if summary {
        for j in &mut page.items {
            j.events.clear();
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "items": page.items,
        "next_cursor": page.next_cursor.map(|c| c.to_string()),
    })))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ChangeParams {
    /// A sequence number from an earlier answer's `next` (or an event's
    /// `id:`); `latest` starts from now; default 0, the beginning.
    after: Option<String>,
    /// Seconds to wait when nothing is new, 0-25 (default 25).
    wait: Option<String>,
}

/// The change feed: every committed job change after `after`, in order,
/// within the caller's scope (agent, dispatcher, manager, technician). With
/// nothing new it waits (long poll); with `Accept: text/event-stream` it
/// streams server-sent events (`id:` the sequence number, `data:` the
/// change), resuming from `Last-Event-ID`.
#[utoipa::path(tag = "dispatch", params(ChangeParams), responses((status = 200, body = ChangePage, description = "or a text/event-stream of changes"), (status = 400), (status = 401), (status = 403)), security(("bearer" = [])))]
#[get("/jobs/changes")]
async fn job_changes(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<ChangeParams>,
) -> Result<HttpResponse, ApiError> {
    let who = caller.principal(READERS)?;
    let mut f = Fields::new();
    let resume = req
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let after = match resume.as_deref().or(p.after.as_deref()).map(str::trim) {
        None => 0,
        Some("latest") => state.dispatch.last_change().await?,
        Some(v) => f
            .take(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                FieldError::new(
                    "after",
                    "after must be a sequence number from `next`, or latest",
                )
            }))
            .unwrap_or(0),
    };
    let wait = f.int_in("wait", p.wait.as_deref(), 0..=25, 25);
    f.finish()?;
    let sse = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !sse {
        let page = state
            .dispatch
            .changes(&who, after, Duration::from_secs(wait))
            .await?;
        return Ok(HttpResponse::Ok().json(page));
    }
    let events = futures_util::stream::unfold(
        (state.into_inner(), who, after),
        |(state, who, after)| async move {
            match state.dispatch.changes(&who, after, SSE_KEEPALIVE).await {
                Ok(page) => {
                    let mut out = String::new();
                    if page.changes.is_empty() {
                        // A comment keeps proxies from closing an idle stream.
                        out.push_str(": keep-alive\n\n");
                    }
                    for c in &page.changes {
                        let data = serde_json::to_string(c).unwrap_or_default();
                        // Writing to a String cannot fail.
                        let _ = write!(out, "id: {}\ndata: {data}\n\n", c.seq);
                    }
                    let next = (state, who, page.next);
                    Some((Ok::<_, actix_web::Error>(web::Bytes::from(out)), next))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "change stream ended");
                    None
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Compression would hold events back until a buffer fills.
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .streaming(events))
}

/// How long an event stream stays quiet before it sends a keep-alive.
const SSE_KEEPALIVE: Duration = Duration::from_secs(15);

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
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<web::Json<JobView>, ApiError> {
    let who = caller.principal(EVENTS)?;
    Ok(web::Json(
        state
            .dispatch
            .post_event(&who, &id, body.into_inner())
            .await?,
    ))
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
fn station_options(list: &[StationOption], now: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
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
#[utoipa::path(tag = "dispatch", params(OptionsParams), responses((status = 200, description = "{query: {lat, lon, division, candidates, ambiguous}, day, coverage, stations: [{station, distance_m, reason}], candidates, rejected, carry_in_stations, slots}"), (status = 400)), security(("bearer" = [])))]
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
        "history": t.events.iter().map(|e| json!({"status": e.to_status, "at": e.at})).collect::<Vec<_>>(),
    })))
}
