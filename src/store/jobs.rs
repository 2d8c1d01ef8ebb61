//! Repair jobs and their audit log. Every job write goes through
//! [`write`]: the job row, its audit entries and any capacity it takes or
//! gives back are written in one transaction, or nothing is. Rows become
//! [`Job`]s here; an unknown status, kind or tier is `Corrupt`.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};
use sqlx::QueryBuilder;

use super::technicians::{RELEASE_SQL, RESERVE_SQL};
use super::{on_db, write_tx, Db, Result, StoreError};
use crate::basic::{Adcode, FieldError, Fields, LatLon};
use crate::dispatch::intake::Period;
use crate::dispatch::job::{Change, EventName, EventRecord, Job};
use crate::dispatch::model::{
    Customer, CustomerDraft, ItemCondition, JobCode, JobId, JobKind, Phone, TechnicianId,
};
use crate::dispatch::state::{JobState, JobStatus};
use crate::dispatch::warranty::WarrantyInput;
use crate::network::StationId;
use crate::notify::MessageDraft;
use crate::places::Region;
use crate::reports::kpi::{self, EntryLine, JobLine, Rules};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct JobRow {
    id: i64,
    code: String,
    kind: String,
    status: String,
    state: String,
    version: i64,
    region: Option<String>,
    division_adcode: Option<String>,
    station_id: Option<String>,
    technician_id: Option<i64>,
    booked_day: Option<String>,
    slot_period: Option<String>,
    distance_m: Option<f64>,
    eta_minutes: Option<i64>,
    customer_name: String,
    customer_phone: String,
    tier: String,
    address: Option<String>,
    lat: f64,
    lon: f64,
    product: String,
    purchase_date: String,
    request: String,
    damage: String,
    item: String,
    problem: String,
    warranty: String,
    due_at: DateTime<Utc>,
    first_visit_due_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    idempotency_key: Option<String>,
    request_hash: Option<String>,
}

const COLUMNS: &str = "id, code, kind, status, state, version, region, division_adcode, station_id, \
    technician_id, booked_day, slot_period, distance_m, eta_minutes, customer_name, customer_phone, \
    tier, address, lat, lon, product, purchase_date, request, damage, item, problem, \
    warranty, due_at, first_visit_due_at, created_at, updated_at, idempotency_key, request_hash";

fn json_field<T: serde::de::DeserializeOwned>(field: &str, s: &str) -> Result<T, FieldError> {
    serde_json::from_str(s).map_err(|e| FieldError::new(field, e.to_string()))
}

fn date(field: &str, s: &str) -> Result<NaiveDate, FieldError> {
    s.parse()
        .map_err(|_| FieldError::new(field, format!("not a date: {s:?}")))
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;
    fn try_from(r: JobRow) -> Result<Job> {
        let id = JobId(r.id);
        Fields::collect(|f| {
            let code = f.take(JobCode::parse(&r.code));
            let kind = f.take_as("kind", r.kind.parse::<JobKind>());
            let state = f.take(json_field::<JobState>("state", &r.state));
            if let (Some(st), Ok(status)) = (&state, r.status.parse::<JobStatus>()) {
                f.check(
                    st.status == status,
                    "status",
                    format!("status {} disagrees with the state", r.status),
                );
            } else {
                f.check(false, "status", format!("unknown status {:?}", r.status));
            }
            let region = r
                .region
                .as_deref()
                .and_then(|v| f.take_as("region", v.parse::<Region>()));
            let division_adcode = r
                .division_adcode
                .as_deref()
                .and_then(|v| f.take(Adcode::parse(v)));
            let station_id = r
                .station_id
                .as_deref()
                .and_then(|v| f.take_as("station_id", StationId::parse(v)));
            let technician_id = r
                .technician_id
                .and_then(|v| f.take_as("technician_id", TechnicianId::new(v)));
            let booked_day = r
                .booked_day
                .as_deref()
                .and_then(|v| f.take(date("booked_day", v)));
            let slot_period = r
                .slot_period
                .as_deref()
                .and_then(|v| f.take_as("slot_period", v.parse::<Period>()));
            let customer = Customer::try_from(CustomerDraft {
                name: r.customer_name,
                phone: r.customer_phone,
                tier: Some(r.tier),
            })
            .map_err(|errs| f.extend(errs))
            .ok();
            let point = f.take(LatLon::new(r.lat, r.lon));
            let product = f.take_as("product", r.product.parse());
            let purchase_date = f.take(date("purchase_date", &r.purchase_date));
            let request = f.take_as("request", r.request.parse());
            let damage = f.take_as("damage", r.damage.parse());
            let item = f.take(json_field::<ItemCondition>("item", &r.item));
            let warranty = f.take(json_field("warranty", &r.warranty));
            Some(Job {
                id,
                code: code?,
                kind: kind?,
                state: state?,
                version: r.version,
                region,
                division_adcode,
                station_id,
                technician_id,
                booked_day,
                slot_period,
                distance_m: r.distance_m,
                eta_minutes: r.eta_minutes,
                customer: customer?,
                address: r.address,
                point: point?,
                product: product?,
                warranty_input: WarrantyInput {
                    purchase_date: purchase_date?,
                    request: request?,
                    damage: damage?,
                    item: item?,
                },
                problem: r.problem,
                warranty: warranty?,
                due_at: r.due_at,
                first_visit_due_at: r.first_visit_due_at,
                created_at: r.created_at,
                updated_at: r.updated_at,
                idempotency_key: r.idempotency_key,
                request_hash: r.request_hash,
            })
        })
        .map_err(|errs| StoreError::corrupt(&format!("job {id}"), &errs))
    }
}

fn typed(rows: Vec<JobRow>) -> Result<Vec<Job>> {
    rows.into_iter().map(Job::try_from).collect()
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct EventRow {
    id: i64,
    job_id: i64,
    at: DateTime<Utc>,
    actor: String,
    event: String,
    from_status: Option<String>,
    to_status: String,
    reason: Option<String>,
    data: Option<String>,
}

const EVENT_COLUMNS: &str = "id, job_id, at, actor, event, from_status, to_status, reason, data";

impl TryFrom<EventRow> for EventRecord {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<EventRecord> {
        let mut f = Fields::new();
        let event = f.take_as("event", r.event.parse::<EventName>());
        let from_status = r
            .from_status
            .as_deref()
            .and_then(|s| f.take_as("from_status", s.parse()));
        let to_status = f.take_as("to_status", r.to_status.parse());
        let data = match r.data.as_deref() {
            None => None,
            Some(s) => f.take(json_field::<Map<String, Value>>("data", s)),
        };
        match (event, to_status) {
            (Some(event), Some(to_status)) if f.is_empty() => Ok(EventRecord {
                seq: r.id,
                job_id: JobId(r.job_id),
                at: r.at,
                actor: r.actor,
                event,
                from_status,
                to_status,
                reason: r.reason,
                data,
            }),
            _ => Err(StoreError::corrupt(
                &format!("event {} of job {}", r.id, r.job_id),
                &f.into_errors(),
            )),
        }
    }
}

/// A booking to take with a write: one unit of `technician_id`'s capacity on `day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booking {
    pub technician_id: TechnicianId,
    pub day: NaiveDate,
}

/// What happened to a write that needed capacity.
#[derive(Debug, Clone, PartialEq)]
pub enum Booked<T> {
    Done(T),
    /// The technician's day was full; nothing was written.
    Full,
}

/// One write to a job: a new job with its first entries, or a change of
/// one under the version it was read at.
#[derive(Debug, Clone)]
pub enum JobWrite<'a> {
    /// `job.id`, `version` and every entry's `job_id` are ignored; the
    /// database assigns them.
    Insert {
        job: &'a Job,
        events: &'a [EventRecord],
        take: Option<Booking>,
    },
    /// Writes `job`'s mutable fields (state, status, assignment and visit
    /// window, the customer's name and phone, address text, problem,
    /// `updated_at`) if the stored version is still `job.version`, and
    /// appends `event`.
    Update {
        job: &'a Job,
        event: &'a EventRecord,
        take: Option<Booking>,
        give_back: Option<Booking>,
    },
}

/// A committed write: the job's id and new version, and one change per
/// audit entry written, with its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub job_id: JobId,
    pub version: i64,
    pub changes: Vec<Change>,
}

/// The advisory lock that orders job writes' audit entries on PostgreSQL.
pub(super) const CHANGE_ORDER_LOCK: i64 = 0x7265_7061_6972;

const INSERT_EVENT_SQL: &str =
    "INSERT INTO job_events (job_id, at, actor, event, from_status, to_status, reason, data, request_key) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";

/// What else a job write carries: the customer messages it causes (the
/// outbox, written in the same transaction) and the request key of its
/// last audit entry (a replayed request finds it and writes nothing).
#[derive(Debug, Clone, Copy)]
pub struct WriteExtras<'a> {
    pub messages: &'a [MessageDraft],
    pub request_key: Option<&'a str>,
    /// The rules the daily KPI tallies are kept under; `None` leaves them
    /// alone (a bulk load that rebuilds them at its end).
    pub kpi: Option<Rules>,
}

impl Default for WriteExtras<'_> {
    fn default() -> Self {
        WriteExtras {
            messages: &[],
            request_key: None,
            kpi: Some(Rules::default()),
        }
    }
}

fn insert_job_sql() -> String {
    let cols = COLUMNS.trim_start_matches("id, ");
    format!("INSERT INTO jobs ({cols}, phone_last4) ")
}

/// Pushes a job's columns (all of [`COLUMNS`] but `id`, then
/// `phone_last4`) onto a `push_values` row.
macro_rules! push_job_values {
    ($b:ident, $j:expr, $status:expr, $state:expr) => {{
        let j: &Job = $j;
        $b.push_bind(j.code.as_str().to_owned())
            .push_bind(j.kind.as_str())
            .push_bind($status.to_owned())
            .push_bind($state.to_owned())
            .push_bind(j.version.max(1))
            .push_bind(j.region.map(Region::code))
            .push_bind(j.division_adcode.map(|a| a.to_string()))
            .push_bind(j.station_id.as_ref().map(|s| s.as_str().to_owned()))
            .push_bind(j.technician_id.map(TechnicianId::value))
            .push_bind(j.booked_day.map(|d| d.to_string()))
            .push_bind(j.slot_period.map(Period::as_str))
            .push_bind(j.distance_m)
            .push_bind(j.eta_minutes)
            .push_bind(j.customer.name.clone())
            .push_bind(j.customer.phone.as_str().to_owned())
            .push_bind(j.customer.tier.as_str().to_owned())
            .push_bind(j.address.clone())
            .push_bind(j.point.lat)
            .push_bind(j.point.lon)
            .push_bind(j.product.as_str())
            .push_bind(j.warranty_input.purchase_date.to_string())
            .push_bind(j.warranty_input.request.as_str())
            .push_bind(j.warranty_input.damage.as_str())
            .push_bind(serde_json::json!(j.warranty_input.item).to_string())
            .push_bind(j.problem.clone())
            .push_bind(serde_json::json!(j.warranty).to_string())
            .push_bind(j.due_at)
            .push_bind(j.first_visit_due_at)
            .push_bind(j.created_at)
            .push_bind(j.updated_at)
            .push_bind(j.idempotency_key.clone())
            .push_bind(j.request_hash.clone())
            .push_bind(j.customer.phone_last4().to_owned());
    }};
}

/// Writes made-up jobs with their whole histories in one transaction, in
/// multi-row statements (a bulk demo history): ids as given, no capacity
/// taken, no messages, no change notices. The caller keeps the daily KPI
/// tallies ([`super::kpi::replace`]).
pub async fn insert_bulk(db: &Db, jobs: &[(Job, Vec<EventRecord>)]) -> Result<()> {
    let cols = COLUMNS.trim_start_matches("id, ");
    write_tx!(db, tx => {
        // Under the bind-parameter limits of both backends (SQLite 32,766).
        for batch in jobs.chunks(800) {
            let mut q = QueryBuilder::new(format!("INSERT INTO jobs (id, {cols}, phone_last4) "));
            q.push_values(batch, |mut b, (j, _)| {
                let state = serde_json::to_string(&j.state).unwrap_or_default();
                b.push_bind(j.id.0);
                push_job_values!(b, j, j.status().as_str(), state.as_str());
            });
            q.build().execute(&mut *tx).await?;
        }
        let events: Vec<(i64, &EventRecord)> = jobs
            .iter()
            .flat_map(|(j, es)| es.iter().map(move |e| (j.id.0, e)))
            .collect();
        for batch in events.chunks(3000) {
            let mut q = QueryBuilder::new(
                "INSERT INTO job_events (job_id, at, actor, event, from_status, to_status, reason, data) ");
            q.push_values(batch, |mut b, (id, e)| {
                b.push_bind(*id).push_bind(e.at).push_bind(e.actor.clone()).push_bind(e.event.as_str())
                    .push_bind(e.from_status.map(JobStatus::as_str)).push_bind(e.to_status.as_str())
                    .push_bind(e.reason.clone())
                    .push_bind(e.data.as_ref().map(|d| Value::Object(d.clone()).to_string()));
            });
            q.build().execute(&mut *tx).await?;
        }
        if matches!(db, Db::Postgres(_)) {
            // Ids were given: move the identity past them.
            sqlx::query("SELECT setval(pg_get_serial_sequence('jobs', 'id'), (SELECT MAX(id) FROM jobs))")
                .execute(&mut *tx).await?;
        }
        Ok::<_, sqlx::Error>(Ok::<_, ()>(()))
    })
    .map_err(|e| StoreError::refused(e, "a job with this code exists", "a job names a missing station or technician"))?
    .ok();
    Ok(())
}

/// Why a write was not made: the day was full or the job had moved on.
enum Refused {
    Full,
    Stale,
}

/// The single write path for jobs (see [`JobWrite`]). `StaleVersion` when
/// an update's job changed meanwhile, `Duplicate` when an insert's code or
/// idempotency key is taken, `Booked::Full` when a booking's day is full.
pub async fn write(db: &Db, w: &JobWrite<'_>) -> Result<Booked<Written>> {
    write_with(db, w, WriteExtras::default()).await
}

/// [`write`] with the messages and request key of [`WriteExtras`].
pub async fn write_with(
    db: &Db,
    w: &JobWrite<'_>,
    extras: WriteExtras<'_>,
) -> Result<Booked<Written>> {
    let insert_sql = insert_job_sql();
    let (job, take, give_back) = match w {
        JobWrite::Insert { job, take, .. } => (*job, *take, None),
        JobWrite::Update {
            job,
            take,
            give_back,
            ..
        } => (*job, *take, *give_back),
    };
    let status = job.status().to_string();
    let state =
        serde_json::to_string(&job.state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // A settled job's daily KPI tallies change with this write: read its
    // report columns as they were (the update may move its station).
    let was_settled = match w {
        _ if extras.kpi.is_none() => false,
        JobWrite::Insert { .. } => false,
        JobWrite::Update { event, .. } => event.from_status.is_some_and(kpi::settled),
    };
    let res = write_tx!(db, tx => {
        let before: Option<JobLine> = if was_settled {
            let row: LineRow = sqlx::query_as(&format!("SELECT {LINE_COLUMNS} FROM jobs j WHERE j.id = $1"))
                .bind(job.id.0).fetch_one(&mut *tx).await?;
            Some(job_line(row).map_err(|e| sqlx::Error::Decode(Box::new(e)))?)
        } else {
            None
        };
        if let Some(b) = take {
            let n = sqlx::query(RESERVE_SQL)
                .bind(b.technician_id.value()).bind(b.day.to_string())
                .execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Ok(Err(Refused::Full));
            }
        }
        if let Some(b) = give_back {
            sqlx::query(RELEASE_SQL)
                .bind(b.technician_id.value()).bind(b.day.to_string())
                .execute(&mut *tx).await?;
        }
        let (id, version, events): (i64, i64, &[EventRecord]) = match w {
            JobWrite::Insert { events, .. } => {
                let mut q = QueryBuilder::new(&insert_sql);
                q.push_values([job], |mut b, j| push_job_values!(b, j, &status, &state));
                q.push(" RETURNING id");
                let id: i64 = q.build_query_scalar().fetch_one(&mut *tx).await?;
                (id, 1, *events)
            }
            JobWrite::Update { event, .. } => {
                let j = job;
                let n = sqlx::query(
                    "UPDATE jobs SET status = $1, state = $2, version = version + 1, updated_at = $3, \
                     station_id = $4, technician_id = $5, booked_day = $6, distance_m = $7, eta_minutes = $8, \
                     slot_period = $9, customer_name = $10, customer_phone = $11, phone_last4 = $12, \
                     address = $13, problem = $14 \
                     WHERE id = $15 AND version = $16")
                    .bind(&status).bind(&state).bind(j.updated_at)
                    .bind(j.station_id.as_ref().map(StationId::as_str)).bind(j.technician_id.map(TechnicianId::value))
                    .bind(j.booked_day.map(|d| d.to_string())).bind(j.distance_m).bind(j.eta_minutes)
                    .bind(j.slot_period.map(Period::as_str)).bind(&j.customer.name).bind(j.customer.phone.as_str())
                    .bind(j.customer.phone_last4()).bind(&j.address).bind(&j.problem)
                    .bind(j.id.0).bind(j.version)
                    .execute(&mut *tx).await?.rows_affected();
                if n == 0 {
                    return Ok(Err(Refused::Stale));
                }
                (j.id.0, j.version + 1, std::slice::from_ref(*event))
            }
        };
        if matches!(db, Db::Postgres(_)) {
            // Sequence numbers must become visible in order, or a feed
            // reader that saw 11 would never see a 10 committed after it:
            // job writes take turns from their first audit entry to commit.
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(CHANGE_ORDER_LOCK)
                .execute(&mut *tx)
                .await?;
            sqlx::query(super::NOTIFY_JOBS_SQL).execute(&mut *tx).await?;
        }
        let mut changes = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let key = if i + 1 == events.len() { extras.request_key } else { None };
            let seq: i64 = sqlx::query_scalar(INSERT_EVENT_SQL)
                .bind(id).bind(e.at).bind(&e.actor).bind(e.event.as_str())
                .bind(e.from_status.map(JobStatus::as_str)).bind(e.to_status.as_str())
                .bind(&e.reason).bind(e.data.as_ref().map(|d| Value::Object(d.clone()).to_string()))
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
            changes.push(Change {
                seq,
                job_id: JobId(id),
                code: job.code.clone(),
                event: e.event,
                status: e.to_status,
                at: e.at,
            });
        }
        let settled_now = kpi::settled(job.status());
        if let Some(rules) = extras.kpi.filter(|_| before.is_some() || settled_now) {
            let rows: Vec<EntryRow> = sqlx::query_as(&format!(
                "SELECT {ENTRY_COLUMNS} FROM job_events e WHERE e.job_id = $1 ORDER BY e.id"))
                .bind(id).fetch_all(&mut *tx).await?;
            let entries: Vec<EntryLine> = rows.into_iter()
                .map(|r| entry_line(r).map(|(_, e)| e))
                .collect::<Result<_>>()
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            let earlier = &entries[..entries.len().saturating_sub(events.len())];
            let after = settled_now.then(|| JobLine { id, ..JobLine::from(job) });
            let d = super::kpi::deltas(
                before.as_ref().map(|l| (l, earlier)),
                after.as_ref().map(|l| (l, &entries[..])),
                &rules,
            );
            super::kpi::apply_kpi_deltas!(tx, &d);
        }
        for m in extras.messages {
            sqlx::query(super::outbox::INSERT_SQL)
                .bind(id).bind(&m.to).bind(m.template.as_str()).bind(&m.text)
                .bind(Value::Object(m.params.clone()).to_string()).bind(job.updated_at)
                .execute(&mut *tx)
                .await?;
        }
        Ok(Ok(Written { job_id: JobId(id), version, changes }))
    })
    .map_err(|e| {
        StoreError::refused(
            e,
            "a job with this code or idempotency key exists",
            "the job names a station or technician that does not exist",
        )
    })?;
    match res {
        Ok(w) => Ok(Booked::Done(w)),
        Err(Refused::Full) => Ok(Booked::Full),
        Err(Refused::Stale) => Err(StoreError::StaleVersion),
    }
}

/// Whether `job_id` has an audit entry written under `request_key`.
pub async fn has_request_key(db: &Db, job_id: JobId, request_key: &str) -> Result<bool> {
    let n: i64 = on_db!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM job_events WHERE job_id = $1 AND request_key = $2")
        .bind(job_id.0).bind(request_key).fetch_one(p).await)?;
    Ok(n > 0)
}

pub async fn get(db: &Db, id: JobId) -> Result<Job> {
    on_db!(db, p => sqlx::query_as::<_, JobRow>(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
        .bind(id.0).fetch_optional(p).await)?
    .ok_or(StoreError::NotFound)?
    .try_into()
}

pub async fn by_code(db: &Db, code: &JobCode) -> Result<Option<Job>> {
    on_db!(db, p => sqlx::query_as::<_, JobRow>(&format!("SELECT {COLUMNS} FROM jobs WHERE code = $1"))
        .bind(code.as_str()).fetch_optional(p).await)?
    .map(Job::try_from)
    .transpose()
}

pub async fn by_idempotency_key(db: &Db, key: &str) -> Result<Option<Job>> {
    on_db!(db, p => sqlx::query_as::<_, JobRow>(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE idempotency_key = $1"))
        .bind(key).fetch_optional(p).await)?
    .map(Job::try_from)
    .transpose()
}

/// A job's audit log, oldest first.
pub async fn events(db: &Db, job_id: JobId) -> Result<Vec<EventRecord>> {
    let rows = on_db!(db, p => sqlx::query_as::<_, EventRow>(&format!(
        "SELECT {EVENT_COLUMNS} FROM job_events WHERE job_id = $1 ORDER BY id"))
        .bind(job_id.0).fetch_all(p).await)?;
    rows.into_iter().map(EventRecord::try_from).collect()
}

/// The audit logs of several jobs in one query, each oldest first.
pub async fn events_of(db: &Db, job_ids: &[JobId]) -> Result<HashMap<JobId, Vec<EventRecord>>> {
    let mut out: HashMap<JobId, Vec<EventRecord>> = HashMap::new();
    for chunk in job_ids.chunks(1000) {
        let rows = on_db!(db, p => {
            let mut q = QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM job_events WHERE job_id IN ("));
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(id.0);
            }
            sep.push_unseparated(") ORDER BY id");
            q.build_query_as::<EventRow>().fetch_all(p).await
        })?;
        for r in rows {
            let e = EventRecord::try_from(r)?;
            out.entry(e.job_id).or_default().push(e);
        }
    }
    Ok(out)
}

/// Filters for listing jobs; all optional.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub statuses: Vec<JobStatus>,
    pub region: Option<Region>,
    pub station_id: Option<StationId>,
    pub technician_id: Option<TechnicianId>,
    pub kind: Option<JobKind>,
    /// The customer's phone number, exactly.
    pub phone: Option<Phone>,
    pub unassigned: bool,
    /// Only ids greater than this (cursor paging).
    pub after_id: Option<JobId>,
    pub limit: i64,
}

/// Jobs matching `f` in id order, at most `f.limit`.
pub async fn list(db: &Db, f: &JobFilter) -> Result<Vec<Job>> {
    let rows = on_db!(db, p => {
        let mut q = QueryBuilder::new(format!("SELECT {COLUMNS} FROM jobs WHERE 1 = 1"));
        if !f.statuses.is_empty() {
            q.push(" AND status IN (");
            let mut sep = q.separated(", ");
            for s in &f.statuses {
                sep.push_bind(s.as_str());
            }
            sep.push_unseparated(")");
        }
        if let Some(v) = f.region {
            q.push(" AND region = ").push_bind(v.code());
        }
        if let Some(v) = &f.station_id {
            q.push(" AND station_id = ").push_bind(v.as_str());
        }
        if let Some(v) = f.technician_id {
            q.push(" AND technician_id = ").push_bind(v.value());
        }
        if let Some(v) = f.kind {
            q.push(" AND kind = ").push_bind(v.as_str());
        }
        if let Some(v) = &f.phone {
            q.push(" AND customer_phone = ").push_bind(v.as_str());
        }
        if f.unassigned {
            q.push(" AND technician_id IS NULL");
        }
        if let Some(v) = f.after_id {
            q.push(" AND id > ").push_bind(v.0);
        }
        q.push(" ORDER BY id LIMIT ").push_bind(f.limit);
        q.build_query_as::<JobRow>().fetch_all(p).await
    })?;
    typed(rows)
}

/// Which changes a feed reader may see: those of jobs in one region, of
/// one station or of one technician (the owners the job has now), or all.
#[derive(Debug, Clone, Default)]
pub struct ChangeFilter {
    pub region: Option<Region>,
    pub station_id: Option<StationId>,
    pub technician_id: Option<TechnicianId>,
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    seq: i64,
    job_id: i64,
    code: String,
    event: String,
    status: String,
    at: DateTime<Utc>,
}

/// Changes after sequence number `after`, in order, at most `limit`.
pub async fn changes_after(
    db: &Db,
    after: i64,
    f: &ChangeFilter,
    limit: i64,
) -> Result<Vec<Change>> {
    let rows = on_db!(db, p => {
        let mut q = QueryBuilder::new(
            "SELECT e.id AS seq, e.job_id, j.code, e.event, e.to_status AS status, e.at \
             FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE e.id > ",
        );
        q.push_bind(after);
        if let Some(v) = f.region {
            q.push(" AND j.region = ").push_bind(v.code());
        }
        if let Some(v) = &f.station_id {
            q.push(" AND j.station_id = ").push_bind(v.as_str());
        }
        if let Some(v) = f.technician_id {
            q.push(" AND j.technician_id = ").push_bind(v.value());
        }
        q.push(" ORDER BY e.id LIMIT ").push_bind(limit);
        q.build_query_as::<ChangeRow>().fetch_all(p).await
    })?;
    rows.into_iter()
        .map(|r| {
            let mut f = Fields::new();
            let code = f.take(JobCode::parse(&r.code));
            let event = f.take_as("event", r.event.parse::<EventName>());
            let status = f.take_as("status", r.status.parse::<JobStatus>());
            match (code, event, status) {
                (Some(code), Some(event), Some(status)) => Ok(Change {
                    seq: r.seq,
                    job_id: JobId(r.job_id),
                    code,
                    event,
                    status,
                    at: r.at,
                }),
                _ => Err(StoreError::corrupt(
                    &format!("event {}", r.seq),
                    &f.into_errors(),
                )),
            }
        })
        .collect()
}

/// The newest sequence number (0 with no changes yet).
pub async fn last_seq(db: &Db) -> Result<i64> {
    Ok(
        on_db!(db, p => sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM job_events")
        .fetch_one(p).await)?
        .unwrap_or(0),
    )
}

/// Jobs still open (their tallies move with the clock, so no daily
/// aggregate holds them) that were opened before `to`, with their entries,
/// as report lines; limited to a region or a station when given.
pub async fn open_report_lines(
    db: &Db,
    region: Option<Region>,
    station_id: Option<&StationId>,
    to: DateTime<Utc>,
) -> Result<Vec<(JobLine, Vec<EntryLine>)>> {
    // `status IN` (not `NOT IN`) so the status index finds the few open
    // jobs among many; their entries are then read by job id.
    let open = open_statuses_sql();
    let (jobs, entries): (Vec<LineRow>, Vec<EntryRow>) = on_db!(db, p => {
        let mut q = QueryBuilder::new(format!("SELECT {LINE_COLUMNS} FROM jobs j WHERE j.status IN {open}"));
        q.push(" AND j.created_at < ").push_bind(to);
        if let Some(r) = region {
            q.push(" AND j.region = ").push_bind(r.code());
        }
        if let Some(s) = station_id {
            q.push(" AND j.station_id = ").push_bind(s.as_str().to_owned());
        }
        q.push(" ORDER BY j.id");
        let jobs = q.build_query_as::<LineRow>().fetch_all(p).await?;
        // One piece after another: reading pieces side by side on SQLite
        // was slower (1.8-2.0 s against 1.6-1.7 s for the network at
        // 1.48 million jobs), the decoding threads fighting for two cores.
        let mut entries = Vec::new();
        for ids in jobs.chunks(2000) {
            let mut q = QueryBuilder::new(format!("SELECT {ENTRY_COLUMNS} FROM job_events e WHERE e.job_id IN ("));
            let mut list = q.separated(", ");
            for j in ids {
                list.push_bind(j.0);
            }
            q.push(") ORDER BY e.job_id, e.id");
            entries.extend(q.build_query_as::<EntryRow>().fetch_all(p).await?);
        }
        Ok::<_, sqlx::Error>((jobs, entries))
    })?;
    group_lines(jobs, entries)
}

/// The open statuses as an SQL list.
fn open_statuses_sql() -> String {
    let names: Vec<String> = JobStatus::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", names.join(", "))
}

/// A job's report columns, as read by [`LINE_COLUMNS`].
pub(super) type LineRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
);
/// An entry's report columns, as read by [`ENTRY_COLUMNS`]: only a
/// follow-up's details are read (its score).
pub(super) type EntryRow = (i64, DateTime<Utc>, String, String, Option<String>);
pub(super) const LINE_COLUMNS: &str =
    "j.id, j.kind, j.region, j.station_id, j.created_at, j.due_at, j.first_visit_due_at, j.booked_day";
pub(super) const ENTRY_COLUMNS: &str =
    "e.job_id, e.at, e.event, e.to_status, CASE WHEN e.event = 'follow_up' THEN e.data END";

pub(super) fn job_line(row: LineRow) -> Result<JobLine> {
    let (id, kind, region, station, created_at, due_at, fv_due, booked) = row;
    let mut f = Fields::new();
    let kind = f.take_as("kind", kind.parse::<JobKind>());
    let region = region.and_then(|r| f.take_as("region", r.parse::<Region>()));
    let station_id = station.and_then(|s| f.take_as("station_id", StationId::parse(&s)));
    let booked_day = booked.and_then(|d| f.take(date("booked_day", &d)));
    match kind {
        Some(kind) if f.is_empty() => Ok(JobLine {
            id,
            kind,
            region,
            station_id,
            created_at,
            due_at,
            first_visit_due_at: fv_due,
            booked_day,
        }),
        _ => Err(StoreError::corrupt(&format!("job {id}"), &f.into_errors())),
    }
}

pub(super) fn entry_line(row: EntryRow) -> Result<(i64, EntryLine)> {
    let (job_id, when, event, to_status, data) = row;
    let mut f = Fields::new();
    let event = f.take_as("event", event.parse::<EventName>());
    let to_status = f.take_as("to_status", to_status.parse::<JobStatus>());
    let satisfaction = data
        .as_deref()
        .and_then(|d| f.take(json_field::<Map<String, Value>>("data", d)))
        .and_then(|d| d.get("satisfaction").and_then(Value::as_u64))
        .and_then(|s| u8::try_from(s).ok());
    match (event, to_status) {
        (Some(event), Some(to_status)) if f.is_empty() => Ok((
            job_id,
            EntryLine {
                at: when,
                event,
                to_status,
                satisfaction,
            },
        )),
        _ => Err(StoreError::corrupt(
            &format!("an entry of job {job_id}"),
            &f.into_errors(),
        )),
    }
}

/// Report lines from jobs and entries both in job id order.
pub(super) fn group_lines(
    jobs: Vec<LineRow>,
    entries: Vec<EntryRow>,
) -> Result<Vec<(JobLine, Vec<EntryLine>)>> {
    let mut out: Vec<(JobLine, Vec<EntryLine>)> = jobs
        .into_iter()
        .map(|r| job_line(r).map(|l| (l, Vec::new())))
        .collect::<Result<_>>()?;
    let mut at = 0;
    for row in entries {
        let (job_id, e) = entry_line(row)?;
        while at < out.len() && out[at].0.id < job_id {
            at += 1;
        }
        if let Some((_, lines)) = out.get_mut(at).filter(|(j, _)| j.id == job_id) {
            lines.push(e);
        }
    }
    Ok(out)
}

/// The statuses of jobs that are no longer open (final or completed), as SQL.
pub(super) const NOT_OPEN: &str = "('closed', 'cancelled', 'repaired', 'picked_up', 'mailed_back')";

/// Jobs not closed, cancelled or completed.
pub async fn count_open(db: &Db) -> Result<usize> {
    let n: i64 = on_db!(db, p => sqlx::query_scalar(
        &format!("SELECT COUNT(*) FROM jobs WHERE status NOT IN {NOT_OPEN}"))
        .fetch_one(p).await)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Whether any job exists.
pub async fn any(db: &Db) -> Result<bool> {
    let n: i64 = on_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM jobs LIMIT 1) j")
        .fetch_one(p).await)?;
    Ok(n > 0)
}
