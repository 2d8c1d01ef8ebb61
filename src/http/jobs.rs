//! Dispatch routes: job intake with warranty, SLA and (auto-)assignment,
//! job reads, assignment and transfer, state events, recommendations,
//! bookable slots, the stand-alone warranty check and customer tracking.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::auth::Role;
use crate::dispatch::intake::{JobDraft, JobInput, Slot, WarrantyDraft};
use crate::dispatch::model::{JobCode, JobKind, Technician, TechnicianDraft, TechnicianId};
use crate::dispatch::recommend::{recommend_with, NearbyStation, RecommendRequest, Recommendation};
use crate::dispatch::sla::{self, SlaClock};
use crate::dispatch::state::{self, FlowRules, JobEvent, JobState, JobStatus, TransitionError};
use crate::dispatch::warranty::{self, WarrantyDecision};
use crate::network::model::{FieldError, LatLon, Problems, Product, Service, Station, StationId};
use crate::places::{Gazetteer, Region};
use crate::store::jobs::{
    self as store_jobs, AssignmentUpdate, Booked, Booking, EventRow, JobFilter, JobRow, JobUpdate,
};
use crate::store::{technicians as store_techs, StoreError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_job)
        .service(list_jobs)
        .service(get_job)
        .service(assign_job)
        .service(post_event)
        .service(job_recommendation)
        .service(slots)
        .service(warranty_check)
        .service(track);
}

const READERS: &[Role] = &[Role::Agent, Role::Dispatcher, Role::Manager];
const INTAKE: &[Role] = &[Role::Agent, Role::Dispatcher];
const DISPATCH: &[Role] = &[Role::Dispatcher];

/// Stations within this distance are considered for an on-site visit (the
/// largest on-site radius in the network is smaller).
const SEARCH_RADIUS_M: f64 = 300_000.0;

pub(crate) fn today(state: &AppState, now: DateTime<Utc>) -> NaiveDate {
    state.dispatch.calendar.local_date(now)
}

pub(crate) fn technician(row: store_techs::TechnicianRow) -> Result<Technician, ApiError> {
    let id = row.id;
    TechnicianDraft {
        id: Some(row.id),
        station_id: row.station_id,
        name: row.name,
        skills: row
            .skills
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        daily_capacity: i64::from(row.daily_capacity),
        on_duty: row.on_duty,
    }
    .try_into()
    .map_err(|e: Vec<FieldError>| {
        ApiError::Internal(anyhow::anyhow!("stored technician {id} is invalid: {e:?}"))
    })
}

/// Ranked technicians (with reasons for the rest) for an on-site visit at
/// `point` on `day`.
pub(crate) async fn recommendation(
    state: &AppState,
    point: LatLon,
    product: Product,
    day: NaiveDate,
) -> Result<Recommendation, ApiError> {
    let index = state.index.load();
    // The nearest stations of any kind give the agent reasons ("the closest
    // one does not come on site"); the nearest on-site ones give candidates.
    let mut seen = HashSet::new();
    let mut near: Vec<(Arc<Station>, f64)> = Vec::new();
    for h in index
        .nearest_by(point, 5, Some(SEARCH_RADIUS_M), |_| true)
        .into_iter()
        .chain(index.nearest_by(point, 8, Some(SEARCH_RADIUS_M), |s| {
            s.offers(Service::Onsite)
        }))
    {
        if seen.insert(h.station.id.clone()) {
            near.push((h.station.clone(), h.distance_m));
        }
    }
    near.sort_by(|a, b| a.1.total_cmp(&b.1));
    let ids: Vec<&str> = near.iter().map(|(s, _)| s.id.as_str()).collect();
    let techs = store_techs::for_stations(&state.db, &ids)
        .await?
        .into_iter()
        .map(technician)
        .collect::<Result<Vec<_>, _>>()?;
    let booked: HashMap<i64, u32> = store_techs::booked_on(&state.db, day)
        .await?
        .into_iter()
        .map(|(t, n)| (t, n.max(0) as u32))
        .collect();
    let stations: Vec<NearbyStation> = near
        .iter()
        .map(|(s, d)| NearbyStation {
            station: s,
            distance_m: *d,
        })
        .collect();
    let req = RecommendRequest {
        point,
        product,
        day,
        stations: &stations,
        technicians: &techs,
    };
    Ok(
        recommend_with(&state.dispatch.travel, &req, |t: TechnicianId, _| {
            booked.get(&t.value()).copied().unwrap_or(0)
        })
        .await,
    )
}

/// The job as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: i64,
    pub code: String,
    pub kind: String,
    pub status: String,
    pub customer: Value,
    pub address: Option<String>,
    pub lat: f64,
    pub lon: f64,
    pub division_adcode: Option<String>,
    pub region: Option<String>,
    pub product: String,
    pub purchase_date: String,
    pub request: String,
    pub damage: String,
    pub item: Value,
    pub problem: String,
    pub warranty: Value,
    pub due_at: DateTime<Utc>,
    pub first_visit_due_at: Option<DateTime<Utc>>,
    pub sla: Value,
    pub tasks: Vec<Value>,
    pub assignment: Option<Value>,
    pub station_id: Option<String>,
    pub satisfaction: Option<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub events: Vec<EventRow>,
}

fn job_state(row: &JobRow) -> Result<JobState, ApiError> {
    serde_json::from_str(&row.state)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("job {} state: {e}", row.id)))
}

fn sla_view(
    state: &AppState,
    row: &JobRow,
    js: &JobState,
    events: &[EventRow],
    now: DateTime<Utc>,
) -> (Value, Vec<Value>) {
    let policy = &state.dispatch.policy;
    let tier = row
        .tier
        .parse()
        .unwrap_or(crate::dispatch::model::Tier::Standard);
    let kind: JobKind = row.kind.parse().unwrap_or(JobKind::Onsite);
    let targets = sla::targets(policy, tier, kind);
    let history: Vec<(DateTime<Utc>, JobStatus)> = events
        .iter()
        .filter_map(|e| e.to_status.parse().ok().map(|s| (e.at, s)))
        .collect();
    let pauses = sla::pauses_from_history(&history);
    let completion = SlaClock {
        calendar: &state.dispatch.calendar,
        target: targets.completion,
        started_at: row.created_at,
        pauses: &pauses,
        stopped_at: js.completed_at.or(if js.status == JobStatus::Cancelled {
            Some(row.updated_at)
        } else {
            None
        }),
    };
    let share = policy.sla.warning_share;
    let mut out = json!({"completion": completion.status(now, share)});
    if let Some(t) = targets.first_visit {
        let visited = events
            .iter()
            .find(|e| e.to_status == "on_site")
            .map(|e| e.at)
            .or(if js.status.is_final() {
                Some(row.updated_at)
            } else {
                None
            });
        let fv = SlaClock {
            calendar: &state.dispatch.calendar,
            target: t,
            started_at: row.created_at,
            pauses: &pauses,
            stopped_at: visited,
        };
        out["first_visit"] = json!(fv.status(now, share));
    }
    let mut tasks = Vec::new();
    if js.status.is_open() && !js.status.repair_done() {
        if let Some(t) =
            sla::notify_customer_task(&completion, policy.sla.notify_customer_share, now)
        {
            if t.raised {
                tasks.push(json!({"task": "notify_customer_of_delay", "raise_at": t.raise_at, "deadline": t.deadline}));
            }
        }
    }
    (out, tasks)
}

/// Whether a job's SLA is at risk (warning or breached on any clock).
fn at_risk(sla: &Value) -> bool {
    ["completion", "first_visit"]
        .iter()
        .any(|k| matches!(sla[k]["state"].as_str(), Some("warning") | Some("breached")))
}

async fn view(state: &AppState, row: JobRow) -> Result<JobView, ApiError> {
    let events = store_jobs::events(&state.db, row.id).await?;
    view_with(state, row, events, Utc::now())
}

fn view_with(
    state: &AppState,
    row: JobRow,
    events: Vec<EventRow>,
    now: DateTime<Utc>,
) -> Result<JobView, ApiError> {
    let js = job_state(&row)?;
    let (sla, tasks) = sla_view(state, &row, &js, &events, now);
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    Ok(JobView {
        id: row.id,
        code: row.code,
        kind: row.kind,
        status: row.status,
        customer: json!({"name": row.customer_name, "phone": row.customer_phone, "tier": row.tier}),
        address: row.address,
        lat: row.lat,
        lon: row.lon,
        division_adcode: row.division_adcode,
        region: row.region,
        product: row.product,
        purchase_date: row.purchase_date,
        request: row.request,
        damage: row.damage,
        item: parse(&row.item),
        problem: row.problem,
        warranty: parse(&row.warranty),
        due_at: row.due_at,
        first_visit_due_at: row.first_visit_due_at,
        sla,
        tasks,
        assignment: row.technician_id.map(|t| {
            json!({
                "station_id": row.station_id, "technician_id": t, "distance_m": row.distance_m,
                "eta_minutes": row.eta_minutes, "day": row.booked_day, "period": row.slot_period,
            })
        }),
        station_id: row.station_id,
        satisfaction: js.satisfaction.map(|s| s.value()),
        created_at: row.created_at,
        updated_at: row.updated_at,
        events,
    })
}

async fn find_job(state: &AppState, key: &str) -> Result<JobRow, ApiError> {
    let not_found = || ApiError::NotFound(format!("no job {key}"));
    if let Ok(id) = key.parse::<i64>() {
        return store_jobs::get(&state.db, id).await.map_err(|e| match e {
            StoreError::NotFound => not_found(),
            other => other.into(),
        });
    }
    let code = JobCode::parse(key).map_err(|_| not_found())?;
    store_jobs::by_code(&state.db, code.as_str())
        .await?
        .ok_or_else(not_found)
}

fn warranty_decision(
    state: &AppState,
    input: &crate::dispatch::warranty::WarrantyInput,
    today: NaiveDate,
) -> Result<WarrantyDecision, ApiError> {
    warranty::decide(&state.dispatch.policy.warranty, input, today)
        .map_err(|e| ApiError::invalid_fields(&[FieldError::new("purchase_date", e.to_string())]))
}

fn event_row(
    actor: &str,
    event: &str,
    from: Option<JobStatus>,
    to: JobStatus,
    reason: Option<String>,
    data: Option<Value>,
    at: DateTime<Utc>,
) -> EventRow {
    EventRow {
        job_id: 0,
        at,
        actor: actor.to_owned(),
        event: event.to_owned(),
        from_status: from.map(|s| s.to_string()),
        to_status: to.to_string(),
        reason,
        data: data.map(|d| d.to_string()),
    }
}

/// Picks the receiving station of a carry-in job.
fn carry_in_station(state: &AppState, input: &JobInput) -> Result<(Arc<Station>, f64), ApiError> {
    let index = state.index.load();
    let ok = |s: &Station| s.offers(Service::CarryIn) && s.repairs(input.product);
    match &input.station_id {
        Some(id) => {
            let s = index.get(id).ok_or_else(|| {
                ApiError::invalid_fields(&[FieldError::new(
                    "station_id",
                    format!("no station {id}"),
                )])
            })?;
            if !ok(s) {
                return Err(ApiError::invalid_fields(&[FieldError::new(
                    "station_id",
                    format!("station {id} does not take in {} repairs", input.product),
                )]));
            }
            Ok((s.clone(), s.location.haversine_m(input.point)))
        }
        None => index
            .nearest_by(input.point, 1, None, ok)
            .into_iter()
            .next()
            .map(|h| (h.station.clone(), h.distance_m))
            .ok_or_else(|| ApiError::Unprocessable {
                code: "no_station",
                message: format!("no station takes in {} repairs", input.product),
                details: None,
            }),
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedJob {
    #[serde(flatten)]
    pub job: JobView,
    /// On-site jobs: the ranked candidates and the reasons the other nearby
    /// stations and technicians could not take the job.
    pub recommendation: Option<Recommendation>,
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
    caller.require(INTAKE)?;
    let body = body.into_inner();
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
    let hash = hex::encode(Sha256::digest(body.to_string().as_bytes()));
    if let Some(k) = &key {
        if let Some(row) = store_jobs::by_idempotency_key(&state.db, k).await? {
            return replay(&state, row, &hash).await;
        }
    }
    let draft: JobDraft = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    let now = Utc::now();
    let today = today(&state, now);
    let input = draft
        .validate(Gazetteer::embedded(), today)
        .map_err(|e| ApiError::invalid_fields(&e))?;
    let decision = warranty_decision(&state, &input.warranty, today)?;

    let policy = &state.dispatch.policy;
    let targets = sla::targets(policy, input.customer.tier, input.kind);
    let clock = |t| SlaClock {
        calendar: &state.dispatch.calendar,
        target: t,
        started_at: now,
        pauses: &[],
        stopped_at: None,
    };
    let due_at = clock(targets.completion).status(now, 1.0).due_at;
    let first_visit_due_at = targets
        .first_visit
        .map(|t| clock(t).status(now, 1.0).due_at);

    let js = JobState::initial(input.kind);
    let created_status = js.status;
    let events = vec![event_row(
        &caller.token_id,
        "created",
        None,
        created_status,
        None,
        None,
        now,
    )];
    let mut row = JobRow {
        id: 0,
        code: String::new(),
        kind: input.kind.to_string(),
        status: String::new(),
        state: String::new(),
        version: 1,
        region: None,
        division_adcode: input.division.as_ref().map(|d| d.adcode.to_string()),
        station_id: None,
        technician_id: None,
        booked_day: None,
        slot_period: input.slot.map(|s| s.period.as_str().to_owned()),
        distance_m: None,
        eta_minutes: None,
        customer_name: input.customer.name.clone(),
        customer_phone: input.customer.phone.as_str().to_owned(),
        phone_last4: input.customer.phone_last4().to_owned(),
        tier: input.customer.tier.to_string(),
        address: input.address.clone(),
        lat: input.point.lat,
        lon: input.point.lon,
        product: input.product.to_string(),
        purchase_date: input.warranty.purchase_date.to_string(),
        request: input.warranty.request.to_string(),
        damage: input.warranty.damage.to_string(),
        item: json!(input.warranty.item).to_string(),
        problem: input.problem.clone(),
        warranty: json!(decision).to_string(),
        due_at,
        first_visit_due_at,
        created_at: now,
        updated_at: now,
        idempotency_key: key.clone(),
        request_hash: Some(hash.clone()),
    };
    row.region = input
        .division
        .as_ref()
        .and_then(|d| Region::of_adcode(d.adcode))
        .map(|r| r.code().to_owned());

    let mut recommendation = None;
    let mut candidates = Vec::new();
    let day = input.slot.map(|s: Slot| s.date).unwrap_or(today);
    match input.kind {
        JobKind::CarryIn => {
            let (s, d) = carry_in_station(&state, &input)?;
            row.station_id = Some(s.id.to_string());
            row.distance_m = Some(d.round());
            row.region.get_or_insert_with(|| s.region.code().to_owned());
        }
        JobKind::Onsite => {
            let rec = self::recommendation(&state, input.point, input.product, day).await?;
            if row.region.is_none() {
                let index = state.index.load();
                row.region = index
                    .nearest_by(input.point, 1, None, |_| true)
                    .first()
                    .map(|h| h.station.region.code().to_owned());
            }
            if input.auto_assign.unwrap_or(state.settings.auto_assign) {
                candidates = rec.candidates.clone();
            }
            recommendation = Some(rec);
        }
    }

    // Try the best candidate first; a day that filled up since the ranking
    // (another intake won the race) moves on to the next.
    let mut assigned = false;
    let mut attempts = candidates.iter().map(Some).collect::<Vec<_>>();
    attempts.push(None);
    for cand in attempts {
        let mut r = row.clone();
        let mut st = js.clone();
        let mut evs = events.clone();
        let booking = cand.map(|c| {
            let t = state::apply_with(&FlowRules::from_policy(policy), &st, &JobEvent::Assign { reason: None }, now)
                .expect("a new onsite job can be assigned");
            evs.push(event_row(&caller.token_id, "assign", Some(t.from), t.state.status, None,
                Some(json!({"technician_id": c.technician_id, "station_id": c.station_id, "auto": true})), now));
            st = t.state;
            r.station_id = Some(c.station_id.to_string());
            r.technician_id = Some(c.technician_id.value());
            r.booked_day = Some(day.to_string());
            r.distance_m = Some(c.distance_m.round());
            r.eta_minutes = Some(i64::from(c.eta_minutes));
            Booking { technician_id: c.technician_id.value(), day }
        });
        r.status = st.status.to_string();
        r.state = serde_json::to_string(&st).map_err(|e| ApiError::Internal(e.into()))?;
        // A fresh random code; a clash (one in billions) is retried.
        let mut outcome = None;
        for _ in 0..3 {
            r.code = JobCode::from_random(rand::random()).to_string();
            match store_jobs::insert(&state.db, &r, booking, &evs).await {
                Err(StoreError::Conflict(_)) => {
                    if let Some(k) = &key {
                        if let Some(existing) = store_jobs::by_idempotency_key(&state.db, k).await?
                        {
                            return replay(&state, existing, &hash).await;
                        }
                    }
                    continue;
                }
                other => {
                    outcome = Some(other?);
                    break;
                }
            }
        }
        match outcome {
            Some(Booked::Done(id)) => {
                r.id = id;
                row = r;
                assigned = booking.is_some();
                break;
            }
            Some(Booked::Full) => continue,
            None => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "could not draw a unique job code"
                )))
            }
        }
    }
    metrics::counter!("repairnet_jobs_created_total", "kind" => row.kind.clone(), "assigned" => assigned.to_string()).increment(1);
    tracing::info!(job = row.id, code = %row.code, assigned, token = %caller.token_id, "job created");
    let job = view(&state, row).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/jobs/{}", job.id)))
        .json(CreatedJob {
            job,
            recommendation,
        }))
}

async fn replay(state: &AppState, row: JobRow, hash: &str) -> Result<HttpResponse, ApiError> {
    if row.request_hash.as_deref() != Some(hash) {
        return Err(ApiError::Unprocessable {
            code: "idempotency_key_reused",
            message: "this Idempotency-Key was used for a different request".into(),
            details: None,
        });
    }
    let job = view(state, row).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Idempotent-Replayed", "true"))
        .json(CreatedJob {
            job,
            recommendation: None,
        }))
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
    limit: Option<String>,
    cursor: Option<String>,
}

const OPEN_STATUSES: &[&str] = &[
    "new",
    "assigned",
    "en_route",
    "on_site",
    "received",
    "repairing",
    "ready_for_pickup",
    "notified",
    "on_hold",
];

/// Jobs, filtered and paged by id (agent, dispatcher, manager).
#[utoipa::path(tag = "dispatch", params(JobListParams), responses((status = 200, description = "{items, next_cursor}")), security(("bearer" = [])))]
#[get("/jobs")]
async fn list_jobs(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<JobListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(READERS)?;
    let mut errs = Vec::new();
    let mut statuses = Vec::new();
    for s in p
        .status
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if s == "open" {
            statuses.extend(OPEN_STATUSES.iter().map(|s| s.to_string()));
        } else {
            match s.parse::<JobStatus>() {
                Ok(v) => statuses.push(v.to_string()),
                Err(e) => errs.push(FieldError::new("status", e.message)),
            }
        }
    }
    let mut problems = Problems::default();
    let region = problems.opt("region", p.region.as_deref(), str::parse::<Region>);
    let station_id = problems.opt("station_id", p.station_id.as_deref(), StationId::parse);
    let technician_id = problems.opt(
        "technician_id",
        p.technician_id.as_deref(),
        str::parse::<TechnicianId>,
    );
    let kind = problems.opt("kind", p.kind.as_deref(), str::parse::<JobKind>);
    let unassigned = problems
        .opt("unassigned", p.unassigned.as_deref(), |v| {
            crate::network::query::parse_bool("unassigned", v)
        })
        .unwrap_or(false);
    errs.extend(problems.0);
    let at_risk_only = match p.sla.as_deref() {
        None => false,
        Some("at_risk") => true,
        Some(o) => {
            errs.push(FieldError::new(
                "sla",
                format!("sla must be at_risk, got {o:?}"),
            ));
            false
        }
    };
    let limit = match p.limit.as_deref().map(str::parse::<i64>) {
        None => 50,
        Some(Ok(n)) if (1..=500).contains(&n) => n,
        _ => {
            errs.push(FieldError::new(
                "limit",
                "limit must be a whole number from 1 to 500",
            ));
            50
        }
    };
    let mut after_id = match p.cursor.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            errs.push(FieldError::new(
                "cursor",
                "cursor must be a next_cursor value",
            ));
            None
        }
    };
    if !errs.is_empty() {
        return Err(ApiError::invalid_fields(&errs));
    }
    let now = Utc::now();
    let mut items = Vec::new();
    let mut next_cursor = None;
    // SLA risk is computed, not stored: scan pages until enough match.
    loop {
        let f = JobFilter {
            statuses: statuses.clone(),
            region: region.map(|r| r.code().to_owned()),
            station_id: station_id.as_ref().map(|s| s.to_string()),
            technician_id: technician_id.map(|t| t.value()),
            kind: kind.map(|k| k.to_string()),
            unassigned,
            after_id,
            limit: if at_risk_only { 500 } else { limit + 1 },
        };
        let rows = store_jobs::list(&state.db, &f).await?;
        let exhausted = (rows.len() as i64) < f.limit;
        for row in rows {
            let id = row.id;
            let events = store_jobs::events(&state.db, id).await?;
            let v = view_with(&state, row, events, now)?;
            if at_risk_only && !at_risk(&v.sla) {
                after_id = Some(id);
                continue;
            }
            if items.len() as i64 == limit {
                next_cursor = after_id.map(|a| a.to_string());
                break;
            }
            items.push(v);
            after_id = Some(id);
        }
        if next_cursor.is_some() || exhausted || !at_risk_only {
            break;
        }
    }
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next_cursor})))
}

/// One job by id or code (agent, dispatcher, manager).
#[utoipa::path(tag = "dispatch", params(("id" = String, Path, description = "id or code")), responses((status = 200, body = JobView), (status = 404)), security(("bearer" = [])))]
#[get("/jobs/{id}")]
async fn get_job(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<JobView>, ApiError> {
    caller.require(READERS)?;
    let row = find_job(&state, &id).await?;
    Ok(web::Json(view(&state, row).await?))
}

fn transition_error(e: TransitionError) -> ApiError {
    match e {
        // A transfer without a reason is missing input; every other unmet
        // condition is about the job's state.
        TransitionError::NeedsMore {
            event: "assign", ..
        } => ApiError::bad_request(e.code(), e.to_string()),
        other => ApiError::Conflict {
            code: other.code(),
            message: other.to_string(),
        },
    }
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
    caller.require(DISPATCH)?;
    let row = find_job(&state, &id).await?;
    let body = body.into_inner();
    let tech_id = TechnicianId::new(body.technician_id)?;
    let tech = match store_techs::get(&state.db, tech_id.value()).await {
        Ok(t) => technician(t)?,
        Err(StoreError::NotFound) => {
            return Err(ApiError::invalid_fields(&[FieldError::new(
                "technician_id",
                format!("no technician {tech_id}"),
            )]))
        }
        Err(e) => return Err(e.into()),
    };
    if row.technician_id == Some(tech_id.value()) {
        return Err(ApiError::Conflict {
            code: "already_assigned",
            message: format!(
                "job {} is already assigned to technician {tech_id}",
                row.code
            ),
        });
    }
    let point = LatLon::new(row.lat, row.lon)?;
    let product: Product = row.product.parse()?;
    let index = state.index.load();
    let station = index
        .get(&tech.station_id)
        .ok_or_else(|| ApiError::Conflict {
            code: "no_station",
            message: format!("technician {tech_id}'s station is gone"),
        })?;
    let distance_m = station.location.haversine_m(point);
    let mut problems = Vec::new();
    if !tech.on_duty {
        problems.push("off_duty");
    }
    if !tech.can_repair(product) {
        problems.push("no_skill");
    }
    if station
        .onsite_radius_km
        .is_none_or(|r| distance_m > r * 1000.0)
    {
        problems.push("out_of_radius");
    }
    if !problems.is_empty() {
        return Err(ApiError::Unprocessable {
            code: "technician_unsuitable",
            message: format!(
                "technician {tech_id} cannot take this job: {}",
                problems.join(", ")
            ),
            details: Some(json!(problems)),
        });
    }
    match apply_assignment(
        &state,
        &row,
        &tech,
        station,
        body.reason.clone(),
        &caller.token_id,
    )
    .await?
    {
        Booked::Full => Err(ApiError::Conflict {
            code: "full",
            message: format!("technician {tech_id} has no capacity left on that day"),
        }),
        Booked::Done(()) => {
            tracing::info!(job = row.id, technician = %tech_id, token = %caller.token_id, "job assigned");
            let row = store_jobs::get(&state.db, row.id).await?;
            Ok(web::Json(view(&state, row).await?))
        }
    }
}

/// Writes an assignment or transfer: the state machine's `assign`, the new
/// technician's capacity taken and the old one's given back, in one
/// transaction guarded by the job's version.
pub(crate) async fn apply_assignment(
    state: &AppState,
    row: &JobRow,
    tech: &Technician,
    station: &Station,
    reason: Option<String>,
    actor: &str,
) -> Result<Booked<()>, ApiError> {
    let now = Utc::now();
    let point = LatLon::new(row.lat, row.lon)?;
    let distance_m = station.location.haversine_m(point);
    let js = job_state(row)?;
    let event = JobEvent::Assign {
        reason: reason.clone(),
    };
    let t = state::apply_with(
        &FlowRules::from_policy(&state.dispatch.policy),
        &js,
        &event,
        now,
    )
    .map_err(transition_error)?;
    let day = row
        .booked_day
        .as_deref()
        .and_then(|d| d.parse::<NaiveDate>().ok())
        .unwrap_or_else(|| today(state, now));
    let eta = state
        .dispatch
        .travel
        .durations(&[station.location], &[point])
        .await
        .duration_s(0, 0);
    let give_back = match (
        row.technician_id,
        row.booked_day.as_deref().and_then(|d| d.parse().ok()),
    ) {
        (Some(old), Some(d)) => Some(Booking {
            technician_id: old,
            day: d,
        }),
        _ => None,
    };
    let u = JobUpdate {
        id: row.id,
        expected_version: row.version,
        status: t.state.status.to_string(),
        state: serde_json::to_string(&t.state).map_err(|e| ApiError::Internal(e.into()))?,
        assignment: Some(AssignmentUpdate {
            station_id: tech.station_id.to_string(),
            technician_id: tech.id.value(),
            booked_day: day.to_string(),
            distance_m: distance_m.round(),
            eta_minutes: (eta / 60.0).ceil() as i64,
        }),
        event: event_row(
            actor,
            if row.technician_id.is_some() {
                "transfer"
            } else {
                "assign"
            },
            Some(t.from),
            t.state.status,
            reason,
            Some(json!({"technician_id": tech.id, "from_technician_id": row.technician_id})),
            now,
        ),
        take: Some(Booking {
            technician_id: tech.id.value(),
            day,
        }),
        give_back,
    };
    Ok(store_jobs::update(&state.db, &u).await?)
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
    caller.require(DISPATCH)?;
    let event: JobEvent = serde_json::from_value(body.into_inner())
        .map_err(|e| ApiError::bad_request("invalid_event", e.to_string()))?;
    if let JobEvent::Assign { .. } = event {
        return Err(ApiError::bad_request(
            "invalid_event",
            "assign through POST /api/v1/jobs/{id}/assign",
        ));
    }
    let row = find_job(&state, &id).await?;
    let now = Utc::now();
    let js = job_state(&row)?;
    let t = state::apply_with(
        &FlowRules::from_policy(&state.dispatch.policy),
        &js,
        &event,
        now,
    )
    .map_err(transition_error)?;
    let reason = match &event {
        JobEvent::Hold { reason } | JobEvent::Cancelled { reason } => reason.clone(),
        _ => None,
    };
    let data = match &event {
        JobEvent::FollowUp { satisfaction } => Some(json!({"satisfaction": satisfaction.value()})),
        _ => None,
    };
    // A cancelled visit gives its technician's day back.
    let give_back = match (
        &event,
        row.technician_id,
        row.booked_day.as_deref().and_then(|d| d.parse().ok()),
    ) {
        (JobEvent::Cancelled { .. }, Some(tid), Some(day)) => Some(Booking {
            technician_id: tid,
            day,
        }),
        _ => None,
    };
    let u = JobUpdate {
        id: row.id,
        expected_version: row.version,
        status: t.state.status.to_string(),
        state: serde_json::to_string(&t.state).map_err(|e| ApiError::Internal(e.into()))?,
        assignment: None,
        event: event_row(
            &caller.token_id,
            event.name(),
            Some(t.from),
            t.state.status,
            reason,
            data,
            now,
        ),
        take: None,
        give_back,
    };
    store_jobs::update(&state.db, &u).await?;
    tracing::info!(job = row.id, event = event.name(), to = %t.state.status, token = %caller.token_id, "job event");
    let row = store_jobs::get(&state.db, row.id).await?;
    Ok(web::Json(view(&state, row).await?))
}

/// The ranked technicians for an on-site job now, with reasons for the
/// nearby ones that cannot take it (agent, dispatcher).
#[utoipa::path(tag = "dispatch", params(("id" = String, Path)), responses((status = 200, body = Recommendation)), security(("bearer" = [])))]
#[get("/jobs/{id}/recommendation")]
async fn job_recommendation(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<Recommendation>, ApiError> {
    caller.require(INTAKE)?;
    let row = find_job(&state, &id).await?;
    let day = row
        .booked_day
        .as_deref()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| today(&state, Utc::now()));
    Ok(web::Json(
        recommendation(
            &state,
            LatLon::new(row.lat, row.lon)?,
            row.product.parse()?,
            day,
        )
        .await?,
    ))
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
    let params = crate::network::query::NearestParams {
        lat: p.lat.clone(),
        lon: p.lon.clone(),
        address: p.address.clone(),
        crs: p.crs.clone(),
        ..Default::default()
    };
    let now = Utc::now();
    let mut errs = Vec::new();
    let q = params
        .resolve(Gazetteer::embedded(), now)
        .map_err(|e| errs.extend(e))
        .ok();
    let product = p
        .product
        .parse::<Product>()
        .map_err(|e| errs.push(FieldError::new("product", e.message)))
        .ok();
    let days = match p.days.as_deref().map(str::parse::<i64>) {
        None => 3,
        Some(Ok(n)) if (1..=14).contains(&n) => n,
        _ => {
            errs.push(FieldError::new(
                "days",
                "days must be a whole number from 1 to 14",
            ));
            3
        }
    };
    let (Some(q), Some(product)) = (q, product) else {
        return Err(ApiError::invalid_fields(&errs));
    };
    if !errs.is_empty() {
        return Err(ApiError::invalid_fields(&errs));
    }
    let first = today(&state, now);
    let mut out = Vec::new();
    for d in 0..days {
        let day = first + Duration::days(d);
        let rec = recommendation(&state, q.point, product, day).await?;
        for c in rec.candidates.iter().take(5) {
            for period in ["am", "pm"] {
                out.push(json!({
                    "date": day, "period": period, "station_id": c.station_id, "technician_id": c.technician_id,
                    "distance_m": c.distance_m.round(), "eta_minutes": c.eta_minutes,
                    "remaining": c.daily_capacity.saturating_sub(c.booked),
                }));
            }
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "query": {"lat": q.point.lat, "lon": q.point.lon, "division": q.division, "product": product},
        "slots": out,
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
    let input = body
        .into_inner()
        .validate()
        .map_err(|e| ApiError::invalid_fields(&e))?;
    Ok(web::Json(warranty_decision(
        &state,
        &input,
        today(&state, Utc::now()),
    )?))
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
    let not_found = || ApiError::NotFound("no job matches this code and phone number".into());
    let code = JobCode::parse(code).map_err(|_| not_found())?;
    let row = store_jobs::by_code(&state.db, code.as_str())
        .await?
        .ok_or_else(not_found)?;
    // Compare in constant time so timing does not tell which half was wrong.
    let a = Sha256::digest(row.phone_last4.as_bytes());
    let b = Sha256::digest(last4.trim().as_bytes());
    if a != b {
        return Err(not_found());
    }
    let index = state.index.load();
    let station = row
        .station_id
        .as_deref()
        .and_then(|s| StationId::parse(s).ok())
        .and_then(|id| index.get(&id).cloned());
    let events = store_jobs::events(&state.db, row.id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "code": row.code,
        "kind": row.kind,
        "status": row.status,
        "product": row.product,
        "station": station.map(|s| json!({"id": s.id, "name": s.name, "phone": s.phone, "address": s.address, "opening_hours": s.opening_hours.as_str()})),
        "visit": row.booked_day.as_ref().map(|d| json!({"day": d, "period": row.slot_period, "eta_minutes": row.eta_minutes})),
        "due_at": row.due_at,
        "updated_at": row.updated_at,
        "history": events.iter().map(|e| json!({"status": e.to_status, "at": e.at})).collect::<Vec<_>>(),
    })))
}
