//! Repair jobs, their audit log, and the transactions that tie a job to a
//! technician's capacity: a booking and the job row that holds it are
//! written together or not at all.

use chrono::{DateTime, NaiveDate, Utc};

use super::technicians::{RELEASE_SQL, RESERVE_SQL};
use super::{on_db, Db, Result, StoreError};

/// A job as stored. The dispatch domain owns the meaning of the JSON columns.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub code: String,
    pub kind: String,
    pub status: String,
    pub state: String,
    pub version: i64,
    pub region: Option<String>,
    pub division_adcode: Option<String>,
    pub station_id: Option<String>,
    pub technician_id: Option<i64>,
    pub booked_day: Option<String>,
    pub slot_period: Option<String>,
    pub distance_m: Option<f64>,
    pub eta_minutes: Option<i64>,
    pub customer_name: String,
    pub customer_phone: String,
    pub phone_last4: String,
    pub tier: String,
    pub address: Option<String>,
    pub lat: f64,
    pub lon: f64,
    pub product: String,
    pub purchase_date: String,
    pub request: String,
    pub damage: String,
    pub item: String,
    pub problem: String,
    pub warranty: String,
    pub due_at: DateTime<Utc>,
    pub first_visit_due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
}

const COLUMNS: &str = "id, code, kind, status, state, version, region, division_adcode, station_id, \
    technician_id, booked_day, slot_period, distance_m, eta_minutes, customer_name, customer_phone, \
    phone_last4, tier, address, lat, lon, product, purchase_date, request, damage, item, problem, \
    warranty, due_at, first_visit_due_at, created_at, updated_at, idempotency_key, request_hash";

/// One audit-log entry.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct EventRow {
    #[serde(skip)]
    pub job_id: i64,
    pub at: DateTime<Utc>,
    /// Token id of whoever posted it.
    pub actor: String,
    pub event: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: Option<String>,
    pub data: Option<String>,
}

/// A booking to take with a write: one unit of `technician_id`'s capacity on `day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booking {
    pub technician_id: i64,
    pub day: NaiveDate,
}

/// What happened to a write that needed capacity.
#[derive(Debug, Clone, PartialEq)]
pub enum Booked<T> {
    Done(T),
    /// The technician's day was full; nothing was written.
    Full,
}

const INSERT_EVENT_SQL: &str =
    "INSERT INTO job_events (job_id, at, actor, event, from_status, to_status, reason, data) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Inserts a job with its first events, taking `booking` in the same
/// transaction (the job row is not written when the day is full).
pub async fn insert(
    db: &Db,
    job: &JobRow,
    booking: Option<Booking>,
    events: &[EventRow],
) -> Result<Booked<i64>> {
    let sql = format!(
        "INSERT INTO jobs ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, \
         $32, $33) RETURNING id",
        COLUMNS.trim_start_matches("id, ")
    );
    let _turn = db.write_turn().await;
    let res = on_db!(db, p => async {
        let mut tx = p.begin_with(db.begin_write_sql()).await?;
        if let Some(b) = booking {
            let n = sqlx::query(RESERVE_SQL)
                .bind(b.technician_id)
                .bind(b.day.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                return Ok(Booked::Full);
            }
        }
        let id: i64 = sqlx::query_scalar(&sql)
            .bind(&job.code).bind(&job.kind).bind(&job.status).bind(&job.state).bind(job.version)
            .bind(&job.region).bind(&job.division_adcode).bind(&job.station_id).bind(job.technician_id)
            .bind(&job.booked_day).bind(&job.slot_period).bind(job.distance_m).bind(job.eta_minutes)
            .bind(&job.customer_name).bind(&job.customer_phone).bind(&job.phone_last4).bind(&job.tier)
            .bind(&job.address).bind(job.lat).bind(job.lon).bind(&job.product).bind(&job.purchase_date)
            .bind(&job.request).bind(&job.damage).bind(&job.item).bind(&job.problem).bind(&job.warranty)
            .bind(job.due_at).bind(job.first_visit_due_at).bind(job.created_at).bind(job.updated_at)
            .bind(&job.idempotency_key).bind(&job.request_hash)
            .fetch_one(&mut *tx)
            .await?;
        for e in events {
            sqlx::query(INSERT_EVENT_SQL)
                .bind(id).bind(e.at).bind(&e.actor).bind(&e.event).bind(&e.from_status)
                .bind(&e.to_status).bind(&e.reason).bind(&e.data)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(Booked::Done(id))
    }.await);
    match res {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
            "a job with this code or idempotency key exists".into(),
        )),
        other => Ok(other?),
    }
}

/// A state change of one job, applied only if nobody changed the job since
/// `expected_version` was read (optimistic concurrency).
#[derive(Debug, Clone)]
pub struct JobUpdate {
    pub id: i64,
    pub expected_version: i64,
    pub status: String,
    pub state: String,
    /// New assignment, when the change assigns or transfers.
    pub assignment: Option<AssignmentUpdate>,
    pub event: EventRow,
    /// Capacity to take (a new technician's day) and to give back.
    pub take: Option<Booking>,
    pub give_back: Option<Booking>,
}

#[derive(Debug, Clone)]
pub struct AssignmentUpdate {
    pub station_id: String,
    pub technician_id: i64,
    pub booked_day: String,
    pub distance_m: f64,
    pub eta_minutes: i64,
}

/// Applies `u` in one transaction. `Conflict` when the job changed
/// meanwhile; `Booked::Full` when the new technician's day is full.
pub async fn update(db: &Db, u: &JobUpdate) -> Result<Booked<()>> {
    let now = Utc::now();
    let _turn = db.write_turn().await;
    let res = on_db!(db, p => async {
        let mut tx = p.begin_with(db.begin_write_sql()).await?;
        if let Some(b) = u.take {
            let n = sqlx::query(RESERVE_SQL)
                .bind(b.technician_id).bind(b.day.to_string())
                .execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                tx.rollback().await?;
                return Ok(Ok(Booked::Full));
            }
        }
        if let Some(b) = u.give_back {
            sqlx::query(RELEASE_SQL)
                .bind(b.technician_id).bind(b.day.to_string())
                .execute(&mut *tx).await?;
        }
        let n = match &u.assignment {
            Some(a) => sqlx::query(
                "UPDATE jobs SET status = $1, state = $2, version = version + 1, updated_at = $3, \
                 station_id = $4, technician_id = $5, booked_day = $6, distance_m = $7, eta_minutes = $8 \
                 WHERE id = $9 AND version = $10")
                .bind(&u.status).bind(&u.state).bind(now)
                .bind(&a.station_id).bind(a.technician_id).bind(&a.booked_day).bind(a.distance_m).bind(a.eta_minutes)
                .bind(u.id).bind(u.expected_version)
                .execute(&mut *tx).await?.rows_affected(),
            None => sqlx::query(
                "UPDATE jobs SET status = $1, state = $2, version = version + 1, updated_at = $3 \
                 WHERE id = $4 AND version = $5")
                .bind(&u.status).bind(&u.state).bind(now).bind(u.id).bind(u.expected_version)
                .execute(&mut *tx).await?.rows_affected(),
        };
        if n == 0 {
            tx.rollback().await?;
            return Ok(Err(()));
        }
        let e = &u.event;
        sqlx::query(INSERT_EVENT_SQL)
            .bind(u.id).bind(e.at).bind(&e.actor).bind(&e.event).bind(&e.from_status)
            .bind(&e.to_status).bind(&e.reason).bind(&e.data)
            .execute(&mut *tx).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(Ok(Booked::Done(())))
    }.await)?;
    res.map_err(|()| {
        StoreError::Conflict("the job changed meanwhile; read it again and retry".into())
    })
}

pub async fn get(db: &Db, id: i64) -> Result<JobRow> {
    on_db!(db, p => sqlx::query_as::<_, JobRow>(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
        .bind(id).fetch_optional(p).await)?
    .ok_or(StoreError::NotFound)
}

pub async fn by_code(db: &Db, code: &str) -> Result<Option<JobRow>> {
    Ok(
        on_db!(db, p => sqlx::query_as::<_, JobRow>(&format!("SELECT {COLUMNS} FROM jobs WHERE code = $1"))
        .bind(code).fetch_optional(p).await)?,
    )
}

pub async fn by_idempotency_key(db: &Db, key: &str) -> Result<Option<JobRow>> {
    Ok(on_db!(db, p => sqlx::query_as::<_, JobRow>(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE idempotency_key = $1"))
        .bind(key).fetch_optional(p).await)?)
}

pub async fn events(db: &Db, job_id: i64) -> Result<Vec<EventRow>> {
    Ok(on_db!(db, p => sqlx::query_as::<_, EventRow>(
        "SELECT job_id, at, actor, event, from_status, to_status, reason, data FROM job_events \
         WHERE job_id = $1 ORDER BY id")
        .bind(job_id).fetch_all(p).await)?)
}

/// Filters for listing jobs; all optional.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub statuses: Vec<String>,
    pub region: Option<String>,
    pub station_id: Option<String>,
    pub technician_id: Option<i64>,
    pub kind: Option<String>,
    pub unassigned: bool,
    /// Only ids greater than this (cursor paging).
    pub after_id: Option<i64>,
    pub limit: i64,
}

pub async fn list(db: &Db, f: &JobFilter) -> Result<Vec<JobRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM jobs WHERE 1 = 1");
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if !f.statuses.is_empty() {
        let ps: Vec<String> = f.statuses.iter().map(|_| next()).collect();
        sql += &format!(" AND status IN ({})", ps.join(", "));
    }
    if f.region.is_some() {
        sql += &format!(" AND region = {}", next());
    }
    if f.station_id.is_some() {
        sql += &format!(" AND station_id = {}", next());
    }
    if f.technician_id.is_some() {
        sql += &format!(" AND technician_id = {}", next());
    }
    if f.kind.is_some() {
        sql += &format!(" AND kind = {}", next());
    }
    if f.unassigned {
        sql += " AND technician_id IS NULL";
    }
    if f.after_id.is_some() {
        sql += &format!(" AND id > {}", next());
    }
    sql += &format!(" ORDER BY id LIMIT {}", next());
    on_db!(db, p => {
        let mut query = sqlx::query_as::<_, JobRow>(&sql);
        for s in &f.statuses {
            query = query.bind(s);
        }
        if let Some(v) = &f.region {
            query = query.bind(v);
        }
        if let Some(v) = &f.station_id {
            query = query.bind(v);
        }
        if let Some(v) = f.technician_id {
            query = query.bind(v);
        }
        if let Some(v) = &f.kind {
            query = query.bind(v);
        }
        if let Some(v) = f.after_id {
            query = query.bind(v);
        }
        Ok(query.bind(f.limit).fetch_all(p).await?)
    })
}
