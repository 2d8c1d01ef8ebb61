//! The dispatch use cases: open a job, assign or transfer it, post an event,
//! recommend technicians, offer slots, apply an optimisation, track a job,
//! keep technicians. HTTP handlers parse input, call one function here and
//! shape the answer; this is the one file of `dispatch` that touches the
//! store and the station index.
//!
//! Every use case acts for a [`Principal`]: what lies outside its token's
//! scope answers as if it did not exist (404), checked here and nowhere else.
//!
//! Every change to a job goes through [`DispatchService::commit`], which
//! writes the job, its audit entries (and capacity) in one transaction and
//! returns the committed [`Change`]s: the single hook for the change feed,
//! customer notifications and KPIs.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::intake::{JobDraft, JobInput, Period};
use super::job::{complaint_open, Change, EventName, EventRecord, Job};
use super::model::{JobCode, JobId, JobKind, Technician, TechnicianDraft, TechnicianId};
use super::optimize::{optimize, OptJob, OptResult, OptTech, Unassigned, UnassignedReason};
use super::recommend::{
    recommend_with, NearbyStation, RecommendRequest, Recommendation, RejectReason,
};
use super::sla::{self, SlaClock};
use super::state::{self, FlowRules, JobEvent, JobState, JobStatus, TransitionError};
use super::view::{job_view, JobView};
use super::warranty::{self, WarrantyDecision, WarrantyInput};
use super::DispatchContext;
use crate::auth::{Principal, Role, Scope};
use crate::basic::{merge_patch, Clock, FieldError, LatLon};
use crate::network::{Product, Service, SharedIndex, Station, StationId};
use crate::notify;
use crate::places::{Gazetteer, GeoMatch, Region};
use crate::store::jobs::{self as store_jobs, Booked, Booking, JobFilter, JobWrite, Written};
use crate::store::technicians as store_techs;
use crate::store::{Db, StoreError};

/// Stations within this distance are considered for an on-site visit (the
/// largest on-site radius in the network is smaller).
const SEARCH_RADIUS_M: f64 = 300_000.0;

/// Errors of the dispatch use cases; the HTTP layer maps them once.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// Input fields that fail validation (all of them).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// Malformed input that is not about one field.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The role may not do this to an object it can see.
    #[error("{0}")]
    Forbidden(String),
    /// The job's state or a concurrent change refuses the request.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Well-formed input that cannot be served (no station, unsuitable technician).
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = DispatchError> = std::result::Result<T, E>;

impl From<FieldError> for DispatchError {
    fn from(e: FieldError) -> Self {
        DispatchError::Invalid(vec![e])
    }
}

impl From<Vec<FieldError>> for DispatchError {
    fn from(e: Vec<FieldError>) -> Self {
        DispatchError::Invalid(e)
    }
}

impl From<TransitionError> for DispatchError {
    fn from(e: TransitionError) -> Self {
        match e {
            // A transfer without a reason is missing input; every other unmet
            // condition is about the job's state.
            TransitionError::NeedsMore {
                event: "assign", ..
            } => DispatchError::BadRequest {
                code: e.code(),
                message: e.to_string(),
            },
            other => DispatchError::Conflict {
                code: other.code(),
                message: other.to_string(),
            },
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> DispatchError {
    DispatchError::Invalid(vec![FieldError::new(field, message)])
}

/// What opening a job did.
#[derive(Debug)]
pub enum Opened {
    Created {
        job: JobView,
        /// On-site jobs: the ranked candidates and the reasons the other
        /// nearby stations and technicians could not take the job.
        recommendation: Option<Recommendation>,
        /// Whether a technician can come (carry-in jobs: `carry_in`).
        coverage: Coverage,
        /// When no technician can come, or for carry-in: where the item
        /// can be brought instead.
        carry_in: Vec<StationOption>,
    },
    /// A retry with an `Idempotency-Key` already used for this request.
    Replayed(JobView),
}

/// A bookable half-day visit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlotOffer {
    pub date: NaiveDate,
    pub period: &'static str,
    pub station_id: StationId,
    pub technician_id: TechnicianId,
    pub technician_name: String,
    pub distance_m: f64,
    pub eta_minutes: u32,
    pub remaining: u32,
}

/// Whether an on-site visit can be served at a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// A technician can come.
    Covered,
    /// Stations cover the point but none of their technicians is free (or
    /// skilled, or on duty) that day.
    NoFreeTechnician,
    /// No on-site station repairing the product reaches the point: the
    /// customer brings the item to a station instead.
    NoOnsiteStation,
    /// A carry-in job: the customer brings the item in.
    CarryIn,
}

/// A nearby station as the console shows it: why it cannot take the job,
/// if it cannot.
#[derive(Debug, Clone)]
pub struct StationOption {
    pub station: Arc<Station>,
    pub distance_m: f64,
    /// `None` when the station can take the job.
    pub reason: Option<&'static str>,
}

/// Everything the console shows for a caller's address before the job is
/// made: the stations around, the technicians who could come and why the
/// others cannot, the earliest visits, or where to bring the item.
#[derive(Debug, Clone)]
pub struct IntakeOptions {
    /// The first day with a bookable window.
    pub day: NaiveDate,
    pub coverage: Coverage,
    pub stations: Vec<StationOption>,
    pub recommendation: Recommendation,
    /// The nearest stations that take the item in (carry-in, or when no
    /// technician can come).
    pub carry_in: Vec<StationOption>,
    pub slots: Vec<SlotOffer>,
}

/// What a caller corrects on an open job; absent fields stay.
#[derive(Debug, Clone, Default, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// The address text as the technician should read it (the job's point
    /// does not move).
    pub address: Option<String>,
    pub problem: Option<String>,
}

/// A customer's view of their own job.
#[derive(Debug)]
pub struct Tracked {
    pub job: Job,
    pub station: Option<Arc<Station>>,
    pub events: Vec<EventRecord>,
}

/// The outcome of a batch optimisation.
#[derive(Debug)]
pub struct Optimised {
    pub day: NaiveDate,
    pub jobs_considered: usize,
    pub result: OptResult,
    pub applied: usize,
    /// The code of every job considered, to name them to people.
    pub codes: HashMap<JobId, JobCode>,
    /// Each technician's station and its point, to draw the plan.
    pub stations: HashMap<TechnicianId, (StationId, LatLon)>,
}

/// A page of jobs.
#[derive(Debug)]
pub struct JobPage {
    pub items: Vec<JobView>,
    pub next_cursor: Option<JobId>,
}

/// What to list (see [`DispatchService::list_jobs`]).
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    pub filter: JobFilter,
    /// Only jobs whose SLA is in warning or breached.
    pub at_risk_only: bool,
    /// Only jobs carrying this task (e.g. `recontact_customer`).
    pub task: Option<String>,
}

/// A page of the change feed: the changes in order and where to go on.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    /// The last sequence number returned (`after` when none): ask for
    /// changes after this one next.
    pub next: i64,
}

/// Changes per feed answer at most.
pub const CHANGE_PAGE: i64 = 500;

/// How often a waiting feed reader looks at the database when no commit of
/// this process wakes it (changes made by other processes on SQLite).
const FEED_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// The dispatch use cases over one database and station index.
#[derive(Debug)]
pub struct DispatchService {
    db: Db,
    index: Arc<SharedIndex>,
    ctx: DispatchContext,
    auto_assign: bool,
    clock: Arc<dyn Clock>,
    /// Woken by every committed job change of this process, and by the
    /// PostgreSQL listener for other processes' changes.
    changed: tokio::sync::Notify,
    /// Where links in customer messages point.
    public_url: String,
    /// Told when a commit wrote customer messages (the delivery worker).
    outbox_ready: Arc<tokio::sync::Notify>,
    /// Whether job changes write customer messages (not for a demo history).
    messages: bool,
    /// Whether each write keeps the daily KPI tallies (a bulk load may
    /// rebuild them once at its end instead).
    kpi_per_write: bool,
}

impl DispatchService {
    pub fn new(
        db: Db,
        index: Arc<SharedIndex>,
        ctx: DispatchContext,
        auto_assign: bool,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            db,
            index,
            ctx,
            auto_assign,
            clock,
            changed: tokio::sync::Notify::new(),
            public_url: "http://127.0.0.1:8080".into(),
            outbox_ready: Arc::new(tokio::sync::Notify::new()),
            messages: true,
            kpi_per_write: true,
        }
    }

    /// Writes leave the daily KPI tallies alone: the caller rebuilds them
    /// ([`crate::store::kpi::rebuild`]) before anyone reads them.
    #[must_use]
    pub fn without_kpi_upkeep(mut self) -> Self {
        self.kpi_per_write = false;
        self
    }

    /// Job changes write no customer messages (a made-up history).
    #[must_use]
    pub fn without_messages(mut self) -> Self {
        self.messages = false;
        self
    }

    /// Links in customer messages start with `url`.
    #[must_use]
    pub fn with_public_url(mut self, url: &str) -> Self {
        url.trim_end_matches('/').clone_into(&mut self.public_url);
        self
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// Notified whenever a commit wrote customer messages.
    pub fn outbox_ready(&self) -> Arc<tokio::sync::Notify> {
        self.outbox_ready.clone()
    }

    /// Wakes change-feed readers: a job changed (here or in another process).
    pub fn wake(&self) {
        self.changed.notify_waiters();
    }

    /// Changes after `after` that `who` may see, oldest first; with none,
    /// waits up to `wait` for one.
    pub async fn changes(
        &self,
        who: &Principal,
        after: i64,
        wait: std::time::Duration,
    ) -> Result<ChangePage> {
        let filter = match &who.scope {
            Scope::All => store_jobs::ChangeFilter::default(),
            Scope::Region(r) => store_jobs::ChangeFilter {
                region: Some(*r),
                ..Default::default()
            },
            Scope::Station(s) => store_jobs::ChangeFilter {
                station_id: Some(s.clone()),
                ..Default::default()
            },
            Scope::Technician(t) => store_jobs::ChangeFilter {
                technician_id: Some(*t),
                ..Default::default()
            },
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registered before the read, so a commit between the read and
            // the wait still wakes this reader.
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let changes = store_jobs::changes_after(&self.db, after, &filter, CHANGE_PAGE).await?;
            let now = tokio::time::Instant::now();
            if !changes.is_empty() || now >= deadline {
                let next = changes.last().map_or(after, |c| c.seq);
                return Ok(ChangePage { changes, next });
            }
            let nap = FEED_POLL.min(deadline - now);
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(nap) => {}
            }
        }
    }

    /// The newest change's sequence number: where a new reader starts.
    pub async fn last_change(&self) -> Result<i64> {
        Ok(store_jobs::last_seq(&self.db).await?)
    }

    pub fn context(&self) -> &DispatchContext {
        &self.ctx
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Today's date on the business calendar (Asia/Shanghai).
    pub fn today(&self) -> NaiveDate {
        self.ctx.calendar.local_date(self.now())
    }

    /// Whether a visit window can still be booked at `now`: it has not
    /// started (a slot that has begun or passed is never offered).
    pub fn slot_open(&self, day: NaiveDate, period: Period, now: DateTime<Utc>) -> bool {
        self.ctx
            .calendar
            .timezone()
            .from_local_datetime(&day.and_time(period.starts()))
            .earliest()
            .is_some_and(|start| now < start)
    }

    /// The first day with a window still bookable at `now`: today until the
    /// afternoon window starts, tomorrow after.
    pub fn service_day(&self, now: DateTime<Utc>) -> NaiveDate {
        let today = self.ctx.calendar.local_date(now);
        if self.slot_open(today, Period::Pm, now) {
            today
        } else {
            today + Duration::days(1)
        }
    }

    fn rules(&self) -> FlowRules {
        FlowRules::from_policy(&self.ctx.policy)
    }

    /// The single hook every job change goes through: one transaction for
    /// the job, its audit entries and its capacity; the committed changes
    /// come back for whatever reacts to them.
    async fn commit(&self, w: JobWrite<'_>) -> Result<Booked<Written>> {
        self.commit_keyed(w, None).await
    }

    /// [`Self::commit`] with the request key of the change's audit entry;
    /// the customer messages the change causes are written with it.
    async fn commit_keyed(
        &self,
        w: JobWrite<'_>,
        request_key: Option<&str>,
    ) -> Result<Booked<Written>> {
        let messages = self.messages_for(&w).await?;
        let extras = store_jobs::WriteExtras {
            messages: &messages,
            request_key,
            kpi: self.kpi_per_write.then(|| self.ctx.kpi_rules()),
        };
        let out = store_jobs::write_with(&self.db, &w, extras).await?;
        if let Booked::Done(written) = &out {
            for c in &written.changes {
                on_change(c);
            }
            self.wake();
            if !messages.is_empty() {
                self.outbox_ready.notify_one();
            }
        }
        Ok(out)
    }

    /// The customer messages a write causes (see [`notify::messages_for`]).
    async fn messages_for(&self, w: &JobWrite<'_>) -> Result<Vec<notify::MessageDraft>> {
        if !self.messages {
            return Ok(Vec::new());
        }
        let (job, events): (&Job, &[EventRecord]) = match w {
            JobWrite::Insert { job, events, .. } => (job, events),
            JobWrite::Update { job, event, .. } => (job, std::slice::from_ref(*event)),
        };
        let station = job
            .station_id
            .as_ref()
            .and_then(|id| self.index.load().get(id).cloned());
        let technician = match job.technician_id {
            Some(t) if events.iter().any(|e| e.event == EventName::EnRoute) => {
                store_techs::names(&self.db, &[t]).await?.remove(&t)
            }
            _ => None,
        };
        let due = job.due_at.with_timezone(&self.ctx.calendar.timezone());
        let cx = notify::Context {
            public_url: &self.public_url,
            station_name: station.as_ref().map(|s| s.name.as_str()),
            station_address: station.as_ref().map(|s| s.address.as_str()),
            station_phone: station.as_ref().map(|s| s.phone.as_str()),
            technician_name: technician.as_deref(),
            due_local: due.format("%-m月%-d日 %H:%M").to_string(),
        };
        Ok(events
            .iter()
            .flat_map(|e| notify::messages_for(job, e, &cx))
            .collect())
    }

    /// A job by its id or its code within `who`'s scope; 404 otherwise.
    pub async fn find_job(&self, who: &Principal, key: &str) -> Result<Job> {
        let not_found = || DispatchError::NotFound(format!("no job {key}"));
        let job = if let Ok(id) = key.parse::<i64>() {
            store_jobs::get(&self.db, JobId(id))
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => not_found(),
                    other => other.into(),
                })?
        } else {
            let code = JobCode::parse(key).map_err(|_| not_found())?;
            store_jobs::by_code(&self.db, &code)
                .await?
                .ok_or_else(not_found)?
        };
        if sees_job(&who.scope, &job) {
            Ok(job)
        } else {
            Err(not_found())
        }
    }

    /// The region of a station in the index (None when it is gone).
    fn station_region(&self, id: &StationId) -> Option<Region> {
        self.index.load().get(id).map(|s| s.region)
    }

    fn sees_technician(&self, scope: &Scope, t: &Technician) -> bool {
        match scope {
            Scope::All => true,
            Scope::Technician(id) => *id == t.id,
            other => self
                .station_region(&t.station_id)
                .is_some_and(|r| other.sees_technician(t.id, &t.station_id, r)),
        }
    }

    /// The read model of a job as it is now.
    pub async fn view(&self, job: Job) -> Result<JobView> {
        let events = store_jobs::events(&self.db, job.id).await?;
        let names = match job.technician_id {
            Some(t) => store_techs::names(&self.db, &[t]).await?,
            None => HashMap::new(),
        };
        let name = job
            .technician_id
            .and_then(|t| names.get(&t))
            .map(String::as_str);
        Ok(job_view(&self.ctx, job, events, name, self.now()))
    }

    async fn reload(&self, id: JobId) -> Result<JobView> {
        let job = store_jobs::get(&self.db, id).await?;
        self.view(job).await
    }

    /// One job's read model by id or code.
    pub async fn get_job(&self, who: &Principal, key: &str) -> Result<JobView> {
        let job = self.find_job(who, key).await?;
        self.view(job).await
    }

    /// Jobs matching `q`, one page; SLA risk is computed, not stored, so an
    /// at-risk listing scans pages until it has enough.
    pub async fn list_jobs(&self, who: &Principal, q: &JobQuery) -> Result<JobPage> {
        let limit = q.filter.limit.max(1);
        let Some(scoped) = within_scope(&who.scope, &q.filter) else {
            return Ok(JobPage {
                items: Vec::new(),
                next_cursor: None,
            });
        };
        let now = self.now();
        // Risk and tasks are computed, not stored: such a listing reads
        // pages until it has enough.
        let scanning = q.at_risk_only || q.task.is_some();
        let mut items = Vec::new();
        let mut after_id = q.filter.after_id;
        let mut next_cursor = None;
        loop {
            let f = JobFilter {
                after_id,
                limit: if scanning { 500 } else { limit + 1 },
                ..scoped.clone()
            };
            let jobs = store_jobs::list(&self.db, &f).await?;
            let exhausted = (jobs.len() as i64) < f.limit;
            let ids: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
            let mut events = store_jobs::events_of(&self.db, &ids).await?;
            let techs: Vec<TechnicianId> = jobs.iter().filter_map(|j| j.technician_id).collect();
            let names = store_techs::names(&self.db, &techs).await?;
            for job in jobs {
                let id = job.id;
                let name = job
                    .technician_id
                    .and_then(|t| names.get(&t))
                    .map(String::as_str);
                let v = job_view(
                    &self.ctx,
                    job,
                    events.remove(&id).unwrap_or_default(),
                    name,
                    now,
                );
                let has_task = |t: &str| v.tasks.iter().any(|x| x["task"] == t);
                if (q.at_risk_only && !v.at_risk())
                    || q.task.as_deref().is_some_and(|t| !has_task(t))
                {
                    after_id = Some(id);
                    continue;
                }
                if items.len() as i64 == limit {
                    next_cursor = after_id;
                    break;
                }
                items.push(v);
                after_id = Some(id);
            }
            if next_cursor.is_some() || exhausted || !scanning {
                break;
            }
        }
        Ok(JobPage { items, next_cursor })
    }

    /// Ranked technicians (with reasons for the rest) for an on-site visit
    /// at `point` on `day`.
    pub async fn recommendation(
        &self,
        point: LatLon,
        product: Product,
        day: NaiveDate,
    ) -> Result<Recommendation> {
        let index = self.index.load();
        // The nearest stations of any kind give the agent reasons ("the
        // closest one does not come on site"); the nearest on-site ones give
        // candidates.
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
        let ids: Vec<&StationId> = near.iter().map(|(s, _)| &s.id).collect();
        let techs = store_techs::for_stations(&self.db, &ids).await?;
        let booked = store_techs::booked_on(&self.db, day).await?;
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
            recommend_with(&self.ctx.travel, &req, |t: TechnicianId, _| {
                booked.get(&t).copied().unwrap_or(0)
            })
            .await,
        )
    }

    /// What the console shows for an address before a job is made (see
    /// [`IntakeOptions`]).
    pub async fn intake_options(
        &self,
        point: LatLon,
        product: Product,
        kind: JobKind,
        days: i64,
        day: Option<NaiveDate>,
    ) -> Result<IntakeOptions> {
        let day = day.unwrap_or_else(|| self.service_day(self.now()));
        let index = self.index.load();
        let near: Vec<(Arc<Station>, f64)> = index
            .nearest_by(point, 8, Some(SEARCH_RADIUS_M), |_| true)
            .into_iter()
            .map(|h| (h.station.clone(), h.distance_m))
            .collect();
        drop(index);
        let carry_in = self.carry_in_near(point, product);
        if kind == JobKind::CarryIn {
            let stations = near
                .into_iter()
                .map(|(s, d)| {
                    let reason = if !s.offers(Service::CarryIn) {
                        Some("no_carry_in")
                    } else if !s.repairs(product) {
                        Some("no_product")
                    } else {
                        None
                    };
                    StationOption {
                        station: s,
                        distance_m: d,
                        reason,
                    }
                })
                .collect();
            return Ok(IntakeOptions {
                day,
                coverage: Coverage::CarryIn,
                stations,
                recommendation: Recommendation::default(),
                carry_in,
                slots: Vec::new(),
            });
        }
        let recommendation = self.recommendation(point, product, day).await?;
        let stations: Vec<StationOption> = near
            .into_iter()
            .map(|(s, d)| {
                let reason = station_reason(&recommendation, &s, d, product);
                StationOption {
                    station: s,
                    distance_m: d,
                    reason,
                }
            })
            .collect();
        let coverage = coverage(&recommendation);
        let slots = if coverage == Coverage::Covered {
            self.slots(point, product, days).await?
        } else {
            Vec::new()
        };
        Ok(IntakeOptions {
            day,
            coverage,
            stations,
            recommendation,
            carry_in: if coverage == Coverage::Covered {
                Vec::new()
            } else {
                carry_in
            },
            slots,
        })
    }

    /// The recommendation for an existing job, on its booked day or today.
    /// For an on-site job the technicians who could come (and why the
    /// others cannot); for a carry-in job the stations to bring it to.
    pub async fn job_recommendation(&self, who: &Principal, key: &str) -> Result<IntakeOptions> {
        let job = self.find_job(who, key).await?;
        self.intake_options(job.point, job.product, job.kind, 0, job.booked_day)
            .await
    }

    /// The earliest bookable visits over the next `days` days, best
    /// candidates first each day.
    pub async fn slots(
        &self,
        point: LatLon,
        product: Product,
        days: i64,
    ) -> Result<Vec<SlotOffer>> {
        let now = self.now();
        let first = self.service_day(now);
        let mut out = Vec::new();
        for d in 0..days {
            let day = first + Duration::days(d);
            let rec = self.recommendation(point, product, day).await?;
            let periods: Vec<Period> = Period::ALL
                .iter()
                .copied()
                .filter(|p| self.slot_open(day, *p, now))
                .collect();
            for c in rec.candidates.iter().take(5) {
                for period in &periods {
                    out.push(SlotOffer {
                        date: day,
                        period: period.as_str(),
                        station_id: c.station_id.clone(),
                        technician_id: c.technician_id,
                        technician_name: c.technician_name.clone(),
                        distance_m: c.distance_m.round(),
                        eta_minutes: c.eta_minutes,
                        remaining: c.daily_capacity.saturating_sub(c.booked),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The warranty decision for a request today.
    pub fn warranty(&self, input: &WarrantyInput) -> Result<WarrantyDecision> {
        warranty::decide(&self.ctx.policy.warranty, input, self.today())
            .map_err(|e| invalid("purchase_date", e.to_string()))
    }

    /// Opens an on-site or carry-in job from a request body. With an
    /// idempotency key, a retry of the same body returns the first job and
    /// a different body under the same key is refused.
    pub async fn open_job(
        &self,
        who: &Principal,
        body: Value,
        key: Option<String>,
    ) -> Result<Opened> {
        let actor = who.token_id.as_str();
        let hash = hex::encode(Sha256::digest(body.to_string().as_bytes()));
        if let Some(k) = &key {
            if let Some(job) = store_jobs::by_idempotency_key(&self.db, k).await? {
                return self.replay(job, &hash).await;
            }
        }
        let draft: JobDraft =
            serde_json::from_value(body).map_err(|e| DispatchError::BadRequest {
                code: "invalid_json",
                message: e.to_string(),
            })?;
        let now = self.now();
        let today = self.ctx.calendar.local_date(now);
        let input = draft.validate(Gazetteer::embedded(), today)?;
        let decision = self.warranty(&input.warranty)?;
        let targets = sla::targets(&self.ctx.policy, input.customer.tier, input.kind);
        let clock = |t| SlaClock {
            calendar: &self.ctx.calendar,
            target: t,
            started_at: now,
            pauses: &[],
            stopped_at: None,
        };
        let state = JobState::initial(input.kind);
        let mut job = Job {
            id: JobId(0),
            code: JobCode::from_random(0),
            kind: input.kind,
            state: state.clone(),
            version: 1,
            region: input
                .division
                .as_ref()
                .and_then(|d: &GeoMatch| Region::of_adcode(d.adcode)),
            division_adcode: input.division.as_ref().map(|d| d.adcode),
            station_id: None,
            technician_id: None,
            // The visit day the caller chose; assignment books it later
            // when no technician is taken now.
            booked_day: input.slot.map(|s| s.date),
            slot_period: input.slot.map(|s| s.period),
            distance_m: None,
            eta_minutes: None,
            customer: input.customer.clone(),
            address: input.address.clone(),
            point: input.point,
            product: input.product,
            warranty_input: input.warranty,
            problem: input.problem.clone(),
            warranty: decision,
            due_at: clock(targets.completion).status(now, 1.0).due_at,
            first_visit_due_at: targets
                .first_visit
                .map(|t| clock(t).status(now, 1.0).due_at),
            created_at: now,
            updated_at: now,
            idempotency_key: key.clone(),
            request_hash: Some(hash.clone()),
        };
        let created = EventRecord::new(actor, EventName::Created, None, state.status, now);

        let mut recommendation = None;
        let mut candidates = Vec::new();
        if let Some(s) = input.slot {
            if !self.slot_open(s.date, s.period, now) {
                return Err(invalid(
                    "slot",
                    format!(
                        "the {} slot of {} has started or passed; choose a later one",
                        s.period, s.date
                    ),
                ));
            }
        }
        let day = input.slot.map_or_else(|| self.service_day(now), |s| s.date);
        match input.kind {
            JobKind::CarryIn => {
                let (s, d) = self.carry_in_station(&input)?;
                job.station_id = Some(s.id.clone());
                job.distance_m = Some(d.round());
                job.region.get_or_insert(s.region);
            }
            JobKind::Onsite => {
                let rec = self.recommendation(input.point, input.product, day).await?;
                if job.region.is_none() {
                    job.region = self
                        .index
                        .load()
                        .nearest_by(input.point, 1, None, |_| true)
                        .first()
                        .map(|h| h.station.region);
                }
                if input.auto_assign.unwrap_or(self.auto_assign) {
                    candidates.clone_from(&rec.candidates);
                }
                recommendation = Some(rec);
            }
        }

        // Try the best candidate first; a day that filled up since the
        // ranking (another intake won the race) moves on to the next.
        let mut attempts: Vec<_> = candidates.iter().map(Some).collect();
        attempts.push(None);
        for cand in attempts {
            let mut j = job.clone();
            let mut events = vec![created.clone()];
            let take = match cand {
                Some(c) => {
                    let t = state::apply_with(
                        &self.rules(),
                        &j.state,
                        &JobEvent::Assign { reason: None },
                        now,
                    )?;
                    events.push(
                        EventRecord::new(actor, EventName::Assign, Some(t.from), t.state.status, now)
                            .with_data(json!({"technician_id": c.technician_id, "station_id": c.station_id, "auto": true})),
                    );
                    j.state = t.state;
                    j.station_id = Some(c.station_id.clone());
                    j.technician_id = Some(c.technician_id);
                    j.booked_day = Some(day);
                    j.distance_m = Some(c.distance_m.round());
                    j.eta_minutes = Some(i64::from(c.eta_minutes));
                    Some(Booking {
                        technician_id: c.technician_id,
                        day,
                    })
                }
                None => None,
            };
            // A fresh random code; a clash (one in billions) is retried.
            for _ in 0..3 {
                j.code = JobCode::from_random(rand::random());
                let w = JobWrite::Insert {
                    job: &j,
                    events: &events,
                    take,
                };
                match self.commit(w).await {
                    Err(DispatchError::Store(StoreError::Duplicate(_))) => {
                        if let Some(k) = &key {
                            if let Some(existing) =
                                store_jobs::by_idempotency_key(&self.db, k).await?
                            {
                                return self.replay(existing, &hash).await;
                            }
                        }
                    }
                    Err(e) => return Err(e),
                    Ok(Booked::Full) => break,
                    Ok(Booked::Done(written)) => {
                        let assigned = take.is_some();
                        metrics::counter!("repairnet_jobs_created_total", "kind" => j.kind.as_str(), "assigned" => assigned.to_string()).increment(1);
                        tracing::info!(job = %written.job_id, code = %j.code, assigned, token = %actor, "job created");
                        let job = self.reload(written.job_id).await?;
                        let coverage = recommendation.as_ref().map_or(Coverage::CarryIn, coverage);
                        let carry_in = if coverage == Coverage::Covered {
                            Vec::new()
                        } else {
                            self.carry_in_near(input.point, input.product)
                        };
                        return Ok(Opened::Created {
                            job,
                            recommendation,
                            coverage,
                            carry_in,
                        });
                    }
                }
            }
            if take.is_none() {
                break;
            }
        }
        Err(DispatchError::Store(StoreError::Duplicate(
            "could not draw a unique job code".into(),
        )))
    }

    async fn replay(&self, job: Job, hash: &str) -> Result<Opened> {
        if job.request_hash.as_deref() != Some(hash) {
            return Err(DispatchError::Unprocessable {
                code: "idempotency_key_reused",
                message: "this Idempotency-Key was used for a different request".into(),
                details: None,
            });
        }
        Ok(Opened::Replayed(self.view(job).await?))
    }

    /// The nearest stations that take `product` in.
    fn carry_in_near(&self, point: LatLon, product: Product) -> Vec<StationOption> {
        self.index
            .load()
            .nearest_by(point, 5, None, |s| {
                s.offers(Service::CarryIn) && s.repairs(product)
            })
            .into_iter()
            .map(|h| StationOption {
                station: h.station.clone(),
                distance_m: h.distance_m,
                reason: None,
            })
            .collect()
    }

    /// Picks the receiving station of a carry-in job.
    fn carry_in_station(&self, input: &JobInput) -> Result<(Arc<Station>, f64)> {
        let index = self.index.load();
        let ok = |s: &Station| s.offers(Service::CarryIn) && s.repairs(input.product);
        if let Some(id) = &input.station_id {
            let s = index
                .get(id)
                .ok_or_else(|| invalid("station_id", format!("no station {id}")))?;
            if !ok(s) {
                return Err(invalid(
                    "station_id",
                    format!("station {id} does not take in {} repairs", input.product),
                ));
            }
            return Ok((s.clone(), s.location.haversine_m(input.point)));
        }
        index
            .nearest_by(input.point, 1, None, ok)
            .into_iter()
            .next()
            .map(|h| (h.station.clone(), h.distance_m))
            .ok_or_else(|| DispatchError::Unprocessable {
                code: "no_station",
                message: format!("no station takes in {} repairs", input.product),
                details: None,
            })
    }

    /// Assigns an on-site job to a technician, or transfers it (a reason is
    /// required then).
    pub async fn assign(
        &self,
        who: &Principal,
        key: &str,
        technician_id: i64,
        reason: Option<String>,
    ) -> Result<JobView> {
        let actor = who.token_id.as_str();
        let job = self.find_job(who, key).await?;
        let tech_id = TechnicianId::new(technician_id).map_err(|e| e.under("technician_id"))?;
        let no_tech = || invalid("technician_id", format!("no technician {tech_id}"));
        let tech = match store_techs::get(&self.db, tech_id).await {
            Ok(t) if self.sees_technician(&who.scope, &t) => t,
            Ok(_) | Err(StoreError::NotFound) => return Err(no_tech()),
            Err(e) => return Err(e.into()),
        };
        if job.technician_id == Some(tech_id) {
            return Err(DispatchError::Conflict {
                code: "already_assigned",
                message: format!(
                    "job {} is already assigned to technician {tech_id}",
                    job.code
                ),
            });
        }
        let index = self.index.load();
        let station = index
            .get(&tech.station_id)
            .ok_or_else(|| DispatchError::Conflict {
                code: "no_station",
                message: format!("technician {tech_id}'s station is gone"),
            })?;
        let distance_m = station.location.haversine_m(job.point);
        let mut problems = Vec::new();
        if !tech.on_duty {
            problems.push("off_duty");
        }
        if !tech.can_repair(job.product) {
            problems.push("no_skill");
        }
        if station
            .onsite_radius_km
            .is_none_or(|r| distance_m > r * 1000.0)
        {
            problems.push("out_of_radius");
        }
        if !problems.is_empty() {
            return Err(DispatchError::Unprocessable {
                code: "technician_unsuitable",
                message: format!(
                    "technician {tech_id} cannot take this job: {}",
                    problems.join(", ")
                ),
                details: Some(json!({ "problems": problems })),
            });
        }
        match self
            .apply_assignment(&job, &tech, station, reason, actor)
            .await?
        {
            Booked::Full => Err(DispatchError::Conflict {
                code: "full",
                message: format!("technician {tech_id} has no capacity left on that day"),
            }),
            Booked::Done(w) => {
                tracing::info!(job = %job.id, technician = %tech_id, token = %actor, "job assigned");
                self.reload(w.job_id).await
            }
        }
    }

    /// Writes an assignment or transfer: the state machine's `assign`, the
    /// new technician's capacity taken and the old one's given back, in one
    /// transaction guarded by the job's version.
    async fn apply_assignment(
        &self,
        job: &Job,
        tech: &Technician,
        station: &Station,
        reason: Option<String>,
        actor: &str,
    ) -> Result<Booked<Written>> {
        let now = self.now();
        let t = state::apply_with(
            &self.rules(),
            &job.state,
            &JobEvent::Assign {
                reason: reason.clone(),
            },
            now,
        )?;
        let day = job.booked_day.unwrap_or_else(|| self.service_day(now));
        let eta = self
            .ctx
            .travel
            .durations(&[station.location], &[job.point])
            .await
            .duration_s(0, 0);
        let give_back = job
            .technician_id
            .zip(job.booked_day)
            .map(|(old, d)| Booking {
                technician_id: old,
                day: d,
            });
        let name = if job.technician_id.is_some() {
            EventName::Transfer
        } else {
            EventName::Assign
        };
        let event = EventRecord::new(actor, name, Some(t.from), t.state.status, now)
            .with_reason(reason)
            .with_data(json!({"technician_id": tech.id, "from_technician_id": job.technician_id}));
        let mut next = job.clone();
        next.state = t.state;
        next.updated_at = now;
        next.station_id = Some(tech.station_id.clone());
        next.technician_id = Some(tech.id);
        next.booked_day = Some(day);
        next.distance_m = Some(station.location.haversine_m(job.point).round());
        next.eta_minutes = Some(minutes(eta));
        self.commit(JobWrite::Update {
            job: &next,
            event: &event,
            take: Some(Booking {
                technician_id: tech.id,
                day,
            }),
            give_back,
        })
        .await
    }

    /// Posts a state change to a job; impossible transitions are conflicts.
    pub async fn post_event(
        &self,
        who: &Principal,
        key: &str,
        mut body: Value,
        request_key: Option<&str>,
    ) -> Result<JobView> {
        let actor = who.token_id.as_str();
        // A free-text note (what was done, what is missing) rides beside
        // the event; the state machine does not read it.
        let note = match body.as_object_mut().and_then(|o| o.remove("note")) {
            None | Some(Value::Null) => None,
            Some(Value::String(n)) if n.chars().count() <= 500 => {
                Some(n.trim().to_owned()).filter(|n| !n.is_empty())
            }
            Some(_) => {
                return Err(invalid(
                    "note",
                    "note must be text of at most 500 characters",
                ))
            }
        };
        let event: JobEvent =
            serde_json::from_value(body).map_err(|e| DispatchError::BadRequest {
                code: "invalid_event",
                message: e.to_string(),
            })?;
        if let JobEvent::Assign { .. } = event {
            return Err(DispatchError::BadRequest {
                code: "invalid_event",
                message: "assign through POST /api/v1/jobs/{id}/assign".into(),
            });
        }
        let job = self.find_job(who, key).await?;
        if let Some(k) = request_key {
            // A replay (a queued action sent again after a lost answer).
            if store_jobs::has_request_key(&self.db, job.id, k).await? {
                return self.reload(job.id).await;
            }
        }
        // A technician reports the visit and an agent may cancel for the
        // caller (saying why); everything else is the dispatcher's.
        match (who.role, &event) {
            (Role::Technician, JobEvent::EnRoute | JobEvent::OnSite | JobEvent::Repaired)
            | (Role::Dispatcher | Role::Admin, _) => {}
            (Role::Agent, JobEvent::Cancelled { reason }) => {
                if reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                    return Err(invalid("reason", "say why the caller cancels"));
                }
            }
            (role, e) => {
                return Err(DispatchError::Forbidden(format!(
                    "the {role} role does not post {}",
                    e.name()
                )))
            }
        }
        let now = self.now();
        let t = state::apply_with(&self.rules(), &job.state, &event, now)?;
        let reason = match &event {
            JobEvent::Hold { reason } | JobEvent::Cancelled { reason } => reason.clone(),
            _ => None,
        };
        let mut record =
            EventRecord::new(actor, event_name(&event), Some(t.from), t.state.status, now)
                .with_reason(reason);
        if let JobEvent::FollowUp { satisfaction } = &event {
            record = record.with_data(json!({"satisfaction": satisfaction.value()}));
        }
        if let Some(n) = note {
            let mut data = record.data.take().unwrap_or_default();
            data.insert("note".into(), json!(n));
            record = record.with_data(Value::Object(data));
        }
        // A cancelled visit gives its technician's day back.
        let give_back = match (&event, job.technician_id, job.booked_day) {
            (JobEvent::Cancelled { .. }, Some(technician_id), Some(day)) => {
                Some(Booking { technician_id, day })
            }
            _ => None,
        };
        let mut next = job.clone();
        next.state = t.state;
        next.updated_at = now;
        let written = self
            .commit_keyed(
                JobWrite::Update {
                    job: &next,
                    event: &record,
                    take: None,
                    give_back,
                },
                request_key,
            )
            .await;
        match written {
            // The same request raced itself: the first one's answer stands.
            Err(DispatchError::Store(StoreError::Duplicate(_))) if request_key.is_some() => {}
            other => {
                other?;
            }
        }
        tracing::info!(job = %job.id, event = event.name(), to = %next.status(), token = %actor, "job event");
        self.reload(job.id).await
    }

    /// Moves an on-site visit to another window before the technician sets
    /// out: the old day's booking is given back and the new one taken in the
    /// same transaction, with the same technician.
    pub async fn reschedule(
        &self,
        who: &Principal,
        key: &str,
        date: NaiveDate,
        period: Period,
        reason: Option<String>,
    ) -> Result<JobView> {
        let job = self.find_job(who, key).await?;
        let now = self.now();
        if job.kind != JobKind::Onsite
            || !matches!(job.status(), JobStatus::New | JobStatus::Assigned)
        {
            return Err(DispatchError::Conflict {
                code: "not_reschedulable",
                message: format!(
                    "job {} is a {} job in state {}: only an on-site visit not yet under way can be moved",
                    job.code,
                    job.kind,
                    job.status()
                ),
            });
        }
        let last = self.ctx.calendar.local_date(now) + Duration::days(super::intake::MAX_SLOT_DAYS);
        if !self.slot_open(date, period, now) || date > last {
            return Err(invalid(
                "date",
                format!("choose a window that has not started, up to {last}"),
            ));
        }
        let (take, give_back) = match (job.technician_id, job.booked_day) {
            (Some(t), Some(old)) if old != date => (
                Some(Booking {
                    technician_id: t,
                    day: date,
                }),
                Some(Booking {
                    technician_id: t,
                    day: old,
                }),
            ),
            _ => (None, None),
        };
        let event = EventRecord::new(
            &who.token_id,
            EventName::Rescheduled,
            Some(job.status()),
            job.status(),
            now,
        )
        .with_reason(reason)
        .with_data(json!({
            "from": {"day": job.booked_day, "period": job.slot_period},
            "to": {"day": date, "period": period},
        }));
        let mut next = job.clone();
        next.booked_day = Some(date);
        next.slot_period = Some(period);
        next.updated_at = now;
        let write = JobWrite::Update {
            job: &next,
            event: &event,
            take,
            give_back,
        };
        match self.commit(write).await? {
            Booked::Full => Err(DispatchError::Conflict {
                code: "full",
                message: format!(
                    "the technician has no capacity left on {date}; choose another day or transfer the job"
                ),
            }),
            Booked::Done(w) => self.reload(w.job_id).await,
        }
    }

    /// Corrects what the caller said (name, phone, address text, problem)
    /// while the job is open; the location and the booking stay.
    pub async fn correct(&self, who: &Principal, key: &str, c: Correction) -> Result<JobView> {
        let job = self.find_job(who, key).await?;
        if !job.status().is_open() {
            return Err(DispatchError::Conflict {
                code: "not_correctable",
                message: format!(
                    "job {} is {}: its details are final",
                    job.code,
                    job.status()
                ),
            });
        }
        let now = self.now();
        let mut next = job.clone();
        let mut changed = Vec::new();
        let mut f = crate::basic::Fields::new();
        if c.name.is_some() || c.phone.is_some() {
            let draft = super::model::CustomerDraft {
                name: c.name.clone().unwrap_or_else(|| job.customer.name.clone()),
                phone: c
                    .phone
                    .clone()
                    .unwrap_or_else(|| job.customer.phone.as_str().to_owned()),
                tier: Some(job.customer.tier.as_str().to_owned()),
            };
            match super::model::Customer::try_from(draft) {
                Ok(customer) => {
                    if customer.name != job.customer.name {
                        changed.push("customer.name");
                    }
                    if customer.phone != job.customer.phone {
                        changed.push("customer.phone");
                    }
                    next.customer = customer;
                }
                Err(e) => f.extend(e),
            }
        }
        if let Some(a) = &c.address {
            let a = a.trim();
            f.check(
                !a.is_empty()
                    && a.chars().count() <= crate::places::MAX_ADDRESS_CHARS
                    && !a.chars().any(char::is_control),
                "address",
                format!(
                    "address must be 1-{} characters",
                    crate::places::MAX_ADDRESS_CHARS
                ),
            );
            if next.address.as_deref() != Some(a) {
                changed.push("address");
                next.address = Some(a.to_owned());
            }
        }
        if let Some(p) = &c.problem {
            let p = p.trim();
            f.check(
                p.chars().count() <= 2000,
                "problem",
                "problem is longer than 2000 characters",
            );
            if next.problem != p {
                changed.push("problem");
                next.problem = p.to_owned();
            }
        }
        f.finish()?;
        if changed.is_empty() {
            return self.view(job).await;
        }
        let event = EventRecord::new(
            &who.token_id,
            EventName::Corrected,
            Some(job.status()),
            job.status(),
            now,
        )
        .with_data(json!({"fields": changed}));
        self.commit_entry(next, &event).await?;
        self.reload(job.id).await
    }

    /// A customer's own job by code and the last four digits of the phone;
    /// a wrong pair answers exactly like an unknown code.
    pub async fn track(&self, code: &str, phone_last4: &str) -> Result<Tracked> {
        let job = self.customer_job(code, phone_last4).await?;
        let station = job
            .station_id
            .as_ref()
            .and_then(|id| self.index.load().get(id).cloned());
        let events = store_jobs::events(&self.db, job.id).await?;
        Ok(Tracked {
            job,
            station,
            events,
        })
    }

    /// The job a customer names by its code and their phone's last four
    /// digits; 404 for any mismatch, without saying which half was wrong.
    async fn customer_job(&self, code: &str, phone_last4: &str) -> Result<Job> {
        let not_found =
            || DispatchError::NotFound("no job matches this code and phone number".into());
        let code = JobCode::parse(code).map_err(|_| not_found())?;
        let job = store_jobs::by_code(&self.db, &code)
            .await?
            .ok_or_else(not_found)?;
        // Compare in constant time so timing does not tell which half was wrong.
        let a = Sha256::digest(job.customer.phone_last4().as_bytes());
        let b = Sha256::digest(phone_last4.trim().as_bytes());
        if a != b {
            return Err(not_found());
        }
        Ok(job)
    }

    /// The customer's own score (1-5) and comment from the survey page:
    /// the job's `follow_up`, once, within the policy's window after the
    /// work was complete. A score of 1 or 2 is a complaint: the job then
    /// carries a `recontact_customer` task until someone calls back.
    pub async fn survey(
        &self,
        code: &str,
        phone_last4: &str,
        score: i64,
        comment: Option<String>,
    ) -> Result<(JobView, bool)> {
        let satisfaction = state::Satisfaction::new(score)
            .map_err(|_| invalid("score", format!("score must be 1-5, got {score}")))?;
        let comment = comment
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        if comment.as_ref().is_some_and(|c| c.chars().count() > 500) {
            return Err(invalid("comment", "comment must be at most 500 characters"));
        }
        let job = self.customer_job(code, phone_last4).await?;
        let now = self.now();
        let event = JobEvent::FollowUp { satisfaction };
        let t = state::apply_with(&self.rules(), &job.state, &event, now).map_err(|e| {
            let (code, message) = match e {
                TransitionError::FollowUpRecorded { .. } => {
                    ("already_recorded", "this repair has already been rated")
                }
                TransitionError::FollowUpWindowClosed { .. } => {
                    ("window_closed", "the survey for this repair has closed")
                }
                _ => ("not_complete", "the repair is not finished yet"),
            };
            DispatchError::Conflict {
                code,
                message: message.into(),
            }
        })?;
        let mut data = json!({"satisfaction": score, "via": "survey"});
        if let Some(c) = &comment {
            data["comment"] = json!(c);
        }
        let record = EventRecord::new(
            "customer",
            EventName::FollowUp,
            Some(t.from),
            t.state.status,
            now,
        )
        .with_data(data);
        let mut next = job.clone();
        next.state = t.state;
        self.commit_entry(next, &record)
            .await
            .map_err(|e| match e {
                DispatchError::Store(StoreError::StaleVersion) => DispatchError::Conflict {
                    code: "already_recorded",
                    message: "this repair has just been rated".into(),
                },
                other => other,
            })?;
        tracing::info!(job = %job.id, score, "survey answered");
        Ok((self.reload(job.id).await?, score <= 2))
    }

    /// Records that someone called back a customer who complained (agent,
    /// dispatcher): clears the job's `recontact_customer` task.
    pub async fn recontact(&self, who: &Principal, key: &str, note: &str) -> Result<JobView> {
        let note = note.trim();
        if note.is_empty() || note.chars().count() > 500 {
            return Err(invalid(
                "note",
                "say what the customer was told (1-500 characters)",
            ));
        }
        let job = self.find_job(who, key).await?;
        let events = store_jobs::events(&self.db, job.id).await?;
        if complaint_open(&job, &events).is_none() {
            return Err(DispatchError::Conflict {
                code: "no_open_complaint",
                message: "this job has no complaint waiting for a call back".into(),
            });
        }
        let now = self.now();
        let status = job.status();
        let record = EventRecord::new(
            who.token_id.as_str(),
            EventName::Recontacted,
            Some(status),
            status,
            now,
        )
        .with_data(json!({"note": note}));
        self.commit_entry(job.clone(), &record).await?;
        self.reload(job.id).await
    }

    /// A job's customer messages with their delivery state.
    pub async fn notifications(&self, who: &Principal, key: &str) -> Result<Vec<notify::Message>> {
        let job = self.find_job(who, key).await?;
        Ok(crate::store::outbox::of_job(&self.db, job.id.0).await?)
    }

    /// The scheduler's round at the clock's now: the pickup reminders due
    /// (notices 2 and 3, 3 and 6 days after the ready message, each a
    /// `notified` entry by `system`) and the late notices due (a
    /// `late_notice` entry when the SLA's notify-customer point passes
    /// before the repair is done). Each is a conditional write, so rounds
    /// of several processes at once write each one once.
    pub async fn run_due(&self) -> Result<DueDone> {
        let rules = self.rules();
        let mut done = DueDone::default();
        let mut after_id = None;
        loop {
            let f = JobFilter {
                statuses: JobStatus::ALL
                    .iter()
                    .copied()
                    .filter(|s| s.is_open())
                    .collect(),
                after_id,
                limit: 500,
                ..Default::default()
            };
            let jobs = store_jobs::list(&self.db, &f).await?;
            let Some(last) = jobs.last() else { break };
            after_id = Some(last.id);
            let ids: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
            let mut events = store_jobs::events_of(&self.db, &ids).await?;
            for job in jobs {
                let now = self.now();
                let evs = events.remove(&job.id).unwrap_or_default();
                let s = &job.state;
                let reminder_due =
                    matches!(s.status, JobStatus::ReadyForPickup | JobStatus::Notified)
                        && s.notices < rules.max_notices
                        && s.last_notice_at
                            .is_some_and(|t| now >= t + rules.notice_interval);
                let outcome = if reminder_due {
                    self.system_event(&job, &JobEvent::Notified, EventName::Notified, now)
                        .await
                        .map(|w| {
                            done.reminders += usize::from(w);
                        })
                } else if late_notice_due(&self.ctx, &job, &evs, now) {
                    self.system_event_same_status(&job, EventName::LateNotice, now)
                        .await
                        .map(|w| {
                            done.late_notices += usize::from(w);
                        })
                } else {
                    Ok(())
                };
                if let Err(e) = outcome {
                    tracing::warn!(job = %job.id, error = %e, "scheduler: job skipped");
                }
            }
        }
        Ok(done)
    }

    /// A state-machine event by `system`; false when another writer got
    /// there first (the job moved on).
    async fn system_event(
        &self,
        job: &Job,
        event: &JobEvent,
        name: EventName,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let t = state::apply_with(&self.rules(), &job.state, event, now)?;
        let record = EventRecord::new("system", name, Some(t.from), t.state.status, now);
        let mut next = job.clone();
        next.state = t.state;
        self.write_if_current(next, &record).await
    }

    /// An audit entry by `system` that leaves the status as it is.
    async fn system_event_same_status(
        &self,
        job: &Job,
        name: EventName,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let status = job.status();
        let record = EventRecord::new("system", name, Some(status), status, now);
        self.write_if_current(job.clone(), &record).await
    }

    /// `next` with one audit entry and no booking change, as of the entry's
    /// instant, conditional on the version `next` was read at.
    async fn commit_entry(&self, mut next: Job, entry: &EventRecord) -> Result<Booked<Written>> {
        next.updated_at = entry.at;
        self.commit(JobWrite::Update {
            job: &next,
            event: entry,
            take: None,
            give_back: None,
        })
        .await
    }

    /// [`Self::commit_entry`]; false when another writer got there first.
    async fn write_if_current(&self, next: Job, entry: &EventRecord) -> Result<bool> {
        match self.commit_entry(next, entry).await {
            Ok(_) => Ok(true),
            Err(DispatchError::Store(StoreError::StaleVersion)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Assigns every open, unassigned on-site job it can (the most jobs,
    /// then the least total distance); with `apply`, writes the plan, and a
    /// job that changed or a day that filled meanwhile is reported
    /// unassigned rather than failing the batch.
    pub async fn optimise(
        &self,
        who: &Principal,
        region: Option<Region>,
        apply: bool,
    ) -> Result<Optimised> {
        let actor = who.token_id.as_str();
        let day = self.service_day(self.now());
        let region = match (who.scope.region(), region) {
            (Some(own), Some(asked)) if own != asked => {
                return Err(DispatchError::NotFound(format!("no region {asked}")))
            }
            (Some(own), _) => Some(own),
            (None, asked) => asked,
        };
        // Unassigned jobs belong to no station: a station's token has none to plan.
        let plans_jobs = matches!(who.scope, Scope::All | Scope::Region(_));
        let open = store_jobs::list(
            &self.db,
            &JobFilter {
                statuses: vec![JobStatus::New],
                region,
                kind: Some(JobKind::Onsite),
                unassigned: true,
                limit: 10_000,
                ..Default::default()
            },
        )
        .await?;
        let open: Vec<Job> = if plans_jobs { open } else { Vec::new() };
        let jobs: Vec<OptJob> = open
            .iter()
            .map(|j| OptJob {
                id: j.id,
                point: j.point,
                product: j.product,
            })
            .collect();
        let booked = store_techs::booked_on(&self.db, day).await?;
        let index = self.index.load();
        let mut techs = Vec::new();
        let mut by_id = HashMap::new();
        for t in store_techs::list(&self.db, None).await? {
            let Some(station) = index.get(&t.station_id) else {
                continue;
            };
            if !who
                .scope
                .sees_technician(t.id, &t.station_id, station.region)
            {
                continue;
            }
            let Some(radius_km) = station.onsite_radius_km else {
                continue;
            };
            let used = booked.get(&t.id).copied().unwrap_or(0);
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
        if apply {
            let jobs_by_id: HashMap<JobId, &Job> = open.iter().map(|j| (j.id, j)).collect();
            let mut kept = Vec::new();
            for a in result.assignments {
                let (Some((t, station)), Some(job)) =
                    (by_id.get(&a.technician_id), jobs_by_id.get(&a.job_id))
                else {
                    continue;
                };
                match self.apply_assignment(job, t, station, None, actor).await {
                    Ok(Booked::Done(_)) => {
                        applied += 1;
                        kept.push(a);
                    }
                    Ok(Booked::Full) => result.unassigned.push(Unassigned {
                        job_id: a.job_id,
                        reason: UnassignedReason::CapacityExhausted,
                    }),
                    Err(
                        DispatchError::Conflict { .. }
                        | DispatchError::Store(StoreError::StaleVersion),
                    ) => {}
                    Err(e) => return Err(e),
                }
            }
            result.total_distance_m = kept.iter().map(|a| a.distance_m).sum();
            result.assignments = kept;
            tracing::info!(applied, unassigned = result.unassigned.len(), token = %actor, "optimisation applied");
        }
        Ok(Optimised {
            day,
            jobs_considered: jobs.len(),
            result,
            applied,
            codes: open.iter().map(|j| (j.id, j.code.clone())).collect(),
            stations: by_id
                .iter()
                .map(|(id, (_, s))| (*id, (s.id.clone(), s.location)))
                .collect(),
        })
    }

    /// Technicians of one station, or all, within `who`'s scope.
    pub async fn technicians(
        &self,
        who: &Principal,
        station: Option<&StationId>,
    ) -> Result<Vec<Technician>> {
        let all = store_techs::list(&self.db, station).await?;
        Ok(all
            .into_iter()
            .filter(|t| self.sees_technician(&who.scope, t))
            .collect())
    }

    /// Jobs booked on each technician on `day` (absent: none).
    pub async fn booked_on(&self, day: NaiveDate) -> Result<HashMap<TechnicianId, u32>> {
        Ok(store_techs::booked_on(&self.db, day).await?)
    }

    /// A technician's visits booked on `day` in driving order, from their
    /// station, with the travel between them (see [`super::day`]).
    pub async fn technician_day(
        &self,
        who: &Principal,
        id: i64,
        day: NaiveDate,
    ) -> Result<TechnicianDay> {
        let not_found = || DispatchError::NotFound(format!("no technician {id}"));
        let tid = TechnicianId::new(id).map_err(|_| not_found())?;
        let tech = match store_techs::get(&self.db, tid).await {
            Ok(t) if self.sees_technician(&who.scope, &t) => t,
            Ok(_) | Err(StoreError::NotFound) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        let station = self.index.load().get(&tech.station_id).cloned();
        let filter = JobFilter {
            technician_id: Some(tid),
            statuses: state::JobStatus::ALL
                .iter()
                .copied()
                .filter(|s| s.is_open())
                .collect(),
            limit: 1000,
            ..Default::default()
        };
        let jobs: Vec<Job> = store_jobs::list(&self.db, &filter)
            .await?
            .into_iter()
            .filter(|j| j.kind == JobKind::Onsite && j.booked_day == Some(day))
            .collect();
        let start = station.as_ref().map_or_else(
            || {
                jobs.first()
                    .map_or(LatLon { lat: 0.0, lon: 0.0 }, |j| j.point)
            },
            |s| s.location,
        );
        let mut points = vec![start];
        points.extend(jobs.iter().map(|j| j.point));
        let m = self.ctx.travel.durations(&points, &points).await;
        let cost = |a: usize, b: usize| m.duration_s(a, b);
        // Morning window, afternoon window, then visits without a window.
        let mut at = 0;
        let mut order = Vec::with_capacity(jobs.len());
        let mut method = super::day::Method::Exact;
        for window in [Some(Period::Am), Some(Period::Pm), None] {
            let stops: Vec<usize> = (1..points.len())
                .filter(|&i| jobs[i - 1].slot_period == window)
                .collect();
            let (o, _, used) = super::day::shortest_path(&cost, at, &stops);
            if used == super::day::Method::Heuristic {
                method = used;
            }
            if let Some(&last) = o.last() {
                at = last;
            }
            order.extend(o);
        }
        let ids: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
        let mut events = store_jobs::events_of(&self.db, &ids).await?;
        let now = self.now();
        let mut from = 0;
        let mut visits = Vec::with_capacity(order.len());
        for i in order {
            let job = jobs[i - 1].clone();
            let (travel_s, travel_m) = (m.duration_s(from, i), m.distance_m(from, i));
            from = i;
            let point = job.point;
            let view = job_view(
                &self.ctx,
                job,
                events.remove(&ids[i - 1]).unwrap_or_default(),
                Some(&tech.name),
                now,
            );
            visits.push(DayVisit {
                navigation: navigation_links(point, &view.code),
                job: view,
                travel_minutes: (travel_s / 60.0).round(),
                travel_km: (travel_m / 100.0).round() / 10.0,
            });
        }
        let total_minutes = visits.iter().map(|v| v.travel_minutes).sum();
        let total_km = (visits.iter().map(|v| v.travel_km).sum::<f64>() * 10.0).round() / 10.0;
        Ok(TechnicianDay {
            technician_id: tech.id.value(),
            technician_name: tech.name.clone(),
            date: day,
            start: json!({
                "station_id": tech.station_id,
                "name": station.as_ref().map(|s| s.name.clone()),
                "address": station.as_ref().map(|s| s.address.clone()),
                "phone": station.as_ref().map(|s| s.phone.clone()),
                "lat": start.lat, "lon": start.lon,
            }),
            route_method: method.as_str(),
            travel_source: travel_source_name(m.source),
            total_travel_minutes: total_minutes,
            total_travel_km: total_km,
            visits,
        })
    }

    /// Adds a technician to an on-site station; the id is assigned.
    pub async fn add_technician(
        &self,
        who: &Principal,
        mut draft: TechnicianDraft,
    ) -> Result<Technician> {
        if draft.id.is_some() {
            return Err(invalid("id", "the server assigns technician ids"));
        }
        // Validate with a placeholder id; the database assigns the real one.
        draft.id = Some(1);
        let t = Technician::try_from(draft)?;
        self.check_station(&who.scope, &t)?;
        let id = store_techs::insert(&self.db, &t).await?;
        Ok(store_techs::get(&self.db, id).await?)
    }

    /// Changes a technician by a JSON merge patch (RFC 7396).
    pub async fn patch_technician(
        &self,
        who: &Principal,
        id: i64,
        patch: &Value,
    ) -> Result<Technician> {
        let actor = who.token_id.as_str();
        let not_found = || DispatchError::NotFound(format!("no technician {id}"));
        let tid = TechnicianId::new(id).map_err(|_| not_found())?;
        let current = match store_techs::get(&self.db, tid).await {
            Ok(t) if self.sees_technician(&who.scope, &t) => t,
            Ok(_) | Err(StoreError::NotFound) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        if patch.get("id").is_some_and(|v| v.as_i64() != Some(id)) {
            return Err(DispatchError::BadRequest {
                code: "id_mismatch",
                message: "a technician's id cannot be changed".into(),
            });
        }
        let mut merged = json!(TechnicianDraft::from(&current));
        merge_patch(&mut merged, patch);
        let draft: TechnicianDraft =
            serde_json::from_value(merged).map_err(|e| DispatchError::BadRequest {
                code: "invalid_json",
                message: e.to_string(),
            })?;
        let t = Technician::try_from(draft)?;
        self.check_station(&who.scope, &t)?;
        store_techs::update(&self.db, &t).await?;
        tracing::info!(technician = id, token = %actor, "technician changed");
        Ok(t)
    }

    fn check_station(&self, scope: &Scope, t: &Technician) -> Result<()> {
        match self.index.load().get(&t.station_id) {
            Some(s) if !scope.sees_station(&s.id, s.region) => Err(invalid(
                "station_id",
                format!("no station {}", t.station_id),
            )),
            None => Err(invalid(
                "station_id",
                format!("no station {}", t.station_id),
            )),
            Some(s) if !s.offers(Service::Onsite) => Err(invalid(
                "station_id",
                format!("station {} does not offer on-site repair", t.station_id),
            )),
            Some(_) => Ok(()),
        }
    }
}

/// Why a station cannot take an on-site job, from a recommendation: its
/// own reason, or (when every technician was turned down) theirs; a
/// station the ranking did not reach is judged by what it offers.
fn station_reason(
    rec: &Recommendation,
    s: &Station,
    distance_m: f64,
    product: Product,
) -> Option<&'static str> {
    let id = &s.id;
    if rec.candidates.iter().any(|c| &c.station_id == id) {
        return None;
    }
    let mut reasons = rec.rejected.iter().filter(|r| &r.station_id == id);
    let Some(first) = reasons.next() else {
        let reason = if !s.offers(Service::Onsite) {
            RejectReason::NoOnsite
        } else if s.onsite_radius_km.is_none_or(|r| distance_m > r * 1000.0) {
            RejectReason::OutOfRadius
        } else if !s.repairs(product) {
            RejectReason::NoProduct
        } else {
            RejectReason::NoTechnicians
        };
        return Some(reason.as_str());
    };
    let own = std::iter::once(first)
        .chain(reasons)
        .find(|r| r.technician_id.is_none())
        .unwrap_or(first);
    Some(own.reason.as_str())
}

/// Whether a technician can come, from a recommendation.
fn coverage(rec: &Recommendation) -> Coverage {
    if !rec.candidates.is_empty() {
        Coverage::Covered
    } else if rec.rejected.iter().any(|r| r.technician_id.is_some())
        || rec
            .rejected
            .iter()
            .any(|r| r.reason == RejectReason::NoTechnicians)
    {
        // A station reaches the point; its people cannot come that day.
        Coverage::NoFreeTechnician
    } else {
        Coverage::NoOnsiteStation
    }
}

/// One visit of a technician's day: the job, the drive to it from the
/// previous stop (the station for the first) and links that open the
/// phone's map app at the job.
#[derive(Debug, Serialize)]
pub struct DayVisit {
    pub job: JobView,
    pub travel_minutes: f64,
    pub travel_km: f64,
    pub navigation: Value,
}

/// A technician's visits on one day in driving order.
#[derive(Debug, Serialize)]
pub struct TechnicianDay {
    pub technician_id: i64,
    pub technician_name: String,
    pub date: NaiveDate,
    pub start: Value,
    /// `exact` or `nearest_neighbour_2opt` (see [`super::day`]).
    pub route_method: &'static str,
    /// `haversine` (straight line with a detour factor), `osrm` or `fallback`.
    pub travel_source: &'static str,
    pub total_travel_minutes: f64,
    pub total_travel_km: f64,
    pub visits: Vec<DayVisit>,
}

fn travel_source_name(s: super::travel::TravelSource) -> &'static str {
    match s {
        super::travel::TravelSource::Haversine => "haversine",
        super::travel::TravelSource::Osrm => "osrm",
        super::travel::TravelSource::Fallback => "fallback",
    }
}

/// Map-app links for a point: the `geo:` URI (WGS-84, what Android's
/// intent expects) and AMap / Baidu web links, which open their apps
/// when installed and want GCJ-02 / BD-09 coordinates.
fn navigation_links(p: LatLon, label: &str) -> Value {
    use crate::places::crs::Crs;
    let g = Crs::Gcj02.from_wgs84(p);
    let b = Crs::Bd09.from_wgs84(p);
    json!({
        "geo": format!("geo:{:.6},{:.6}?q={:.6},{:.6}({label})", p.lat, p.lon, p.lat, p.lon),
        "amap": format!(
            "https://uri.amap.com/marker?position={:.6},{:.6}&name={label}&coordinate=gaode&callnative=1",
            g.lon, g.lat
        ),
        "baidu": format!(
            "https://api.map.baidu.com/marker?location={:.6},{:.6}&title={label}&content={label}&coord_type=bd09ll&output=html&src=repairnet",
            b.lat, b.lon
        ),
        "gcj02": {"lat": g.lat, "lon": g.lon},
        "bd09": {"lat": b.lat, "lon": b.lon},
    })
}

/// What one scheduler round wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DueDone {
    pub reminders: usize,
    pub late_notices: usize,
}

/// Whether the customer must now be told the repair will be late: the
/// view raises the task and no late notice was written yet.
fn late_notice_due(
    ctx: &DispatchContext,
    job: &Job,
    events: &[EventRecord],
    now: DateTime<Utc>,
) -> bool {
    if events.iter().any(|e| e.event == EventName::LateNotice) {
        return false;
    }
    super::view::tasks(ctx, job, events, now)
        .iter()
        .any(|t| t["task"] == "notify_customer_of_delay")
}

/// Whether a job is inside a scope.
fn sees_job(scope: &Scope, job: &Job) -> bool {
    scope.sees_job(job.region, job.station_id.as_ref(), job.technician_id)
}

/// A list filter narrowed to a scope, or `None` when the two cannot meet
/// (a region-scoped token asking for another region).
fn within_scope(scope: &Scope, f: &JobFilter) -> Option<JobFilter> {
    let mut out = f.clone();
    match scope {
        Scope::All => {}
        Scope::Region(r) => {
            if f.region.is_some_and(|asked| asked != *r) {
                return None;
            }
            out.region = Some(*r);
        }
        Scope::Station(s) => {
            if f.station_id.as_ref().is_some_and(|asked| asked != s) || f.unassigned {
                return None;
            }
            out.station_id = Some(s.clone());
        }
        Scope::Technician(t) => {
            if f.technician_id.is_some_and(|asked| asked != *t) || f.unassigned {
                return None;
            }
            out.technician_id = Some(*t);
        }
    }
    Some(out)
}

/// What reacts to a committed change today: a counter per event.
fn on_change(c: &Change) {
    metrics::counter!("repairnet_job_changes_total", "event" => c.event.as_str()).increment(1);
    tracing::debug!(seq = c.seq, job = %c.job_id, event = %c.event, status = %c.status, "job changed");
}

/// The audit-log name of a posted event.
fn event_name(e: &JobEvent) -> EventName {
    match e {
        JobEvent::Assign { .. } => EventName::Assign,
        JobEvent::EnRoute => EventName::EnRoute,
        JobEvent::OnSite => EventName::OnSite,
        JobEvent::Repaired => EventName::Repaired,
        JobEvent::Repairing => EventName::Repairing,
        JobEvent::ReadyForPickup => EventName::ReadyForPickup,
        JobEvent::Notified => EventName::Notified,
        JobEvent::PickedUp => EventName::PickedUp,
        JobEvent::MailedBack => EventName::MailedBack,
        JobEvent::Hold { .. } => EventName::Hold,
        JobEvent::Resume => EventName::Resume,
        JobEvent::Closed => EventName::Closed,
        JobEvent::Cancelled { .. } => EventName::Cancelled,
        JobEvent::FollowUp { .. } => EventName::FollowUp,
    }
}

/// Whole minutes, rounded up, of a travel time in seconds.
fn minutes(seconds: f64) -> i64 {
    let m = (seconds / 60.0).ceil();
    if m.is_finite() && m >= 0.0 {
        // Travel times are hours at most; the cast cannot truncate.
        m as i64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_posted_event_has_its_audit_name() {
        for e in state::tests::all_events() {
            assert_eq!(event_name(&e).as_str(), e.name());
        }
    }

    #[test]
    fn minutes_round_up_and_stay_finite() {
        assert_eq!(minutes(0.0), 0);
        assert_eq!(minutes(61.0), 2);
        assert_eq!(minutes(f64::NAN), 0);
    }
}
