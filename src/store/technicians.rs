//! Technician rows and per-day capacity bookings.

use chrono::{NaiveDate, Utc};
use sqlx::QueryBuilder;

use super::{on_db, Db, Result, StoreError};

/// A technician as stored; the dispatch domain validates and types it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TechnicianRow {
    pub id: i64,
    pub station_id: String,
    pub name: String,
    /// `notebook;desktop`
    pub skills: String,
    pub daily_capacity: i32,
    pub on_duty: bool,
}

const COLUMNS: &str = "id, station_id, name, skills, daily_capacity, on_duty";

pub async fn list(db: &Db, station_id: Option<&str>) -> Result<Vec<TechnicianRow>> {
    let rows = on_db!(db, p => match station_id {
        Some(s) => sqlx::query_as::<_, TechnicianRow>(&format!(
            "SELECT {COLUMNS} FROM technicians WHERE station_id = $1 ORDER BY id"))
            .bind(s).fetch_all(p).await,
        None => sqlx::query_as::<_, TechnicianRow>(&format!(
            "SELECT {COLUMNS} FROM technicians ORDER BY id")).fetch_all(p).await,
    })?;
    Ok(rows)
}

pub async fn get(db: &Db, id: i64) -> Result<TechnicianRow> {
    on_db!(db, p => sqlx::query_as::<_, TechnicianRow>(&format!(
        "SELECT {COLUMNS} FROM technicians WHERE id = $1")).bind(id).fetch_optional(p).await)?
    .ok_or(StoreError::NotFound)
}

/// Inserts or replaces technicians in one transaction; a technician whose
/// station does not exist fails the whole batch with `Conflict`.
pub async fn upsert_many(db: &Db, rows: &[TechnicianRow]) -> Result<()> {
    let now = Utc::now();
    let _turn = db.write_turn().await;
    let res = on_db!(db, p => async {
        let mut tx = p.begin_with(db.begin_write_sql()).await?;
        for chunk in rows.chunks(1000) {
            let mut q = QueryBuilder::new(format!("INSERT INTO technicians ({COLUMNS}, updated_at) "));
            q.push_values(chunk, |mut b, t| {
                b.push_bind(t.id)
                    .push_bind(&t.station_id)
                    .push_bind(&t.name)
                    .push_bind(&t.skills)
                    .push_bind(t.daily_capacity)
                    .push_bind(t.on_duty)
                    .push_bind(now);
            });
            q.push(" ON CONFLICT (id) DO UPDATE SET station_id = excluded.station_id, \
                    name = excluded.name, skills = excluded.skills, \
                    daily_capacity = excluded.daily_capacity, on_duty = excluded.on_duty, \
                    updated_at = excluded.updated_at");
            q.build().execute(&mut *tx).await?;
        }
        if matches!(db, Db::Postgres(_)) {
            // Explicit ids do not advance the identity sequence; keep it
            // past them so server-assigned ids never collide.
            sqlx::query("SELECT setval(pg_get_serial_sequence('technicians', 'id'), \
                         GREATEST((SELECT MAX(id) FROM technicians), 1))")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }.await);
    match res {
        Err(e) if super::is_foreign_key_violation(&e) => Err(StoreError::Conflict(
            "a technician's station_id names no station".into(),
        )),
        other => Ok(other?),
    }
}

/// Takes one unit of technician `$1`'s capacity on day `$2` if any is left:
/// one conditional upsert, so it is atomic on both backends and inside any
/// transaction (job writes run it beside the job row).
pub(crate) const RESERVE_SQL: &str = "INSERT INTO capacity_bookings (technician_id, day, booked) \
    SELECT id, $2, 1 FROM technicians WHERE id = $1 AND daily_capacity >= 1 \
    ON CONFLICT (technician_id, day) DO UPDATE SET booked = capacity_bookings.booked + 1 \
    WHERE capacity_bookings.booked < (SELECT daily_capacity FROM technicians WHERE id = $1)";

/// Gives back one unit of technician `$1`'s capacity on day `$2`.
pub(crate) const RELEASE_SQL: &str = "UPDATE capacity_bookings SET booked = booked - 1 \
    WHERE technician_id = $1 AND day = $2 AND booked > 0";

/// Reserves one unit of a technician's capacity on `day`, if any is left:
/// a single conditional upsert, atomic on both backends. Returns whether
/// the reservation was made.
pub async fn reserve(db: &Db, technician_id: i64, day: NaiveDate) -> Result<bool> {
    let _turn = db.write_turn().await;
    let day = day.to_string();
    let n = on_db!(db, p => sqlx::query(RESERVE_SQL).bind(technician_id).bind(&day).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Gives back one unit (a cancelled or transferred job).
pub async fn release(db: &Db, technician_id: i64, day: NaiveDate) -> Result<()> {
    let _turn = db.write_turn().await;
    let day = day.to_string();
    on_db!(db, p => sqlx::query(RELEASE_SQL)
        .bind(technician_id).bind(&day).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Booked counts of every technician on `day`.
pub async fn booked_on(db: &Db, day: NaiveDate) -> Result<Vec<(i64, i32)>> {
    let day = day.to_string();
    Ok(on_db!(db, p => sqlx::query_as::<_, (i64, i32)>(
        "SELECT technician_id, booked FROM capacity_bookings WHERE day = $1")
        .bind(&day).fetch_all(p).await)?)
}

/// Technicians of any of `station_ids`.
pub async fn for_stations(db: &Db, station_ids: &[&str]) -> Result<Vec<TechnicianRow>> {
    if station_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(on_db!(db, p => {
        let mut q = QueryBuilder::new(format!("SELECT {COLUMNS} FROM technicians WHERE station_id IN ("));
        let mut sep = q.separated(", ");
        for id in station_ids {
            sep.push_bind(*id);
        }
        sep.push_unseparated(") ORDER BY id");
        q.build_query_as::<TechnicianRow>().fetch_all(p).await
    })?)
}

/// Inserts one technician and returns its new id.
pub async fn insert(db: &Db, t: &TechnicianRow) -> Result<i64> {
    let _turn = db.write_turn().await;
    let res = on_db!(db, p => sqlx::query_scalar::<_, i64>(
        "INSERT INTO technicians (station_id, name, skills, daily_capacity, on_duty, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(&t.station_id).bind(&t.name).bind(&t.skills).bind(t.daily_capacity).bind(t.on_duty)
        .bind(Utc::now()).fetch_one(p).await);
    match res {
        Err(e) if super::is_foreign_key_violation(&e) => Err(StoreError::Conflict(format!(
            "station {} does not exist",
            t.station_id
        ))),
        other => Ok(other?),
    }
}

/// Replaces one technician's fields; `NotFound` if there is none.
pub async fn update(db: &Db, t: &TechnicianRow) -> Result<()> {
    let _turn = db.write_turn().await;
    let res = on_db!(db, p => sqlx::query(
        "UPDATE technicians SET station_id = $1, name = $2, skills = $3, daily_capacity = $4, \
         on_duty = $5, updated_at = $6 WHERE id = $7")
        .bind(&t.station_id).bind(&t.name).bind(&t.skills).bind(t.daily_capacity).bind(t.on_duty)
        .bind(Utc::now()).bind(t.id).execute(p).await.map(|r| r.rows_affected()));
    match res {
        Err(e) if super::is_foreign_key_violation(&e) => Err(StoreError::Conflict(format!(
            "station {} does not exist",
            t.station_id
        ))),
        Ok(0) => Err(StoreError::NotFound),
        other => other.map(|_| ()).map_err(Into::into),
    }
}
