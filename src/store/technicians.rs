//! Technicians and their per-day capacity bookings. Rows become
//! [`Technician`]s here; a row that does not validate is `Corrupt`, never
//! patched up with a default.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use sqlx::QueryBuilder;

use super::{on_db, write_tx, Db, Result, StoreError};
use crate::basic::{join_list, split_list};
use crate::dispatch::model::{Technician, TechnicianDraft, TechnicianId};
use crate::network::StationId;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct TechnicianRow {
    id: i64,
    station_id: String,
    name: String,
    /// `notebook;desktop`
    skills: String,
    daily_capacity: i32,
    on_duty: bool,
}

impl TryFrom<TechnicianRow> for Technician {
    type Error = StoreError;
    fn try_from(r: TechnicianRow) -> Result<Technician> {
        let id = r.id;
        Technician::try_from(TechnicianDraft {
            id: Some(r.id),
            station_id: r.station_id,
            name: r.name,
            skills: split_list(&r.skills),
            daily_capacity: i64::from(r.daily_capacity),
            on_duty: r.on_duty,
        })
        .map_err(|errs| StoreError::corrupt(&format!("technician {id}"), &errs))
    }
}

fn typed(rows: Vec<TechnicianRow>) -> Result<Vec<Technician>> {
    rows.into_iter().map(Technician::try_from).collect()
}

/// The capacity column: validated technicians hold 1..=20.
fn capacity(t: &Technician) -> i32 {
    i32::try_from(t.daily_capacity).unwrap_or(i32::MAX)
}

const COLUMNS: &str = "id, station_id, name, skills, daily_capacity, on_duty";

/// Technicians of one station, or all, in id order.
pub async fn list(db: &Db, station_id: Option<&StationId>) -> Result<Vec<Technician>> {
    let rows = on_db!(db, p => match station_id {
        Some(s) => sqlx::query_as::<_, TechnicianRow>(&format!(
            "SELECT {COLUMNS} FROM technicians WHERE station_id = $1 ORDER BY id"))
            .bind(s.as_str()).fetch_all(p).await,
        None => sqlx::query_as::<_, TechnicianRow>(&format!(
            "SELECT {COLUMNS} FROM technicians ORDER BY id")).fetch_all(p).await,
    })?;
    typed(rows)
}

pub async fn get(db: &Db, id: TechnicianId) -> Result<Technician> {
    on_db!(db, p => sqlx::query_as::<_, TechnicianRow>(&format!(
        "SELECT {COLUMNS} FROM technicians WHERE id = $1")).bind(id.value()).fetch_optional(p).await)?
    .ok_or(StoreError::NotFound)?
    .try_into()
}

/// Inserts or replaces technicians in one transaction; a technician whose
/// station does not exist fails the whole batch with `Referenced`.
pub async fn upsert_many(db: &Db, techs: &[Technician]) -> Result<()> {
    let now = Utc::now();
    write_tx!(db, tx => {
        for chunk in techs.chunks(1000) {
            let mut q = QueryBuilder::new(format!("INSERT INTO technicians ({COLUMNS}, updated_at) "));
            q.push_values(chunk, |mut b, t| {
                b.push_bind(t.id.value())
                    .push_bind(t.station_id.to_string())
                    .push_bind(t.name.clone())
                    .push_bind(join_list(&t.skills))
                    .push_bind(capacity(t))
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
        Ok(Ok::<_, StoreError>(()))
    })
    .map_err(|e| StoreError::refused(e, "", "a technician's station_id names no station"))?
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
pub async fn reserve(db: &Db, technician_id: TechnicianId, day: NaiveDate) -> Result<bool> {
    let day = day.to_string();
    let n = write_tx!(db, tx => {
        let n = sqlx::query(RESERVE_SQL).bind(technician_id.value()).bind(&day)
            .execute(&mut *tx).await?.rows_affected();
        Ok(Ok::<_, StoreError>(n))
    })??;
    Ok(n == 1)
}

/// Gives back one unit (a cancelled or transferred job).
pub async fn release(db: &Db, technician_id: TechnicianId, day: NaiveDate) -> Result<()> {
    let day = day.to_string();
    write_tx!(db, tx => {
        sqlx::query(RELEASE_SQL).bind(technician_id.value()).bind(&day)
            .execute(&mut *tx).await?;
        Ok(Ok::<_, StoreError>(()))
    })?
}

/// Booked counts of every technician with a booking on `day`.
pub async fn booked_on(db: &Db, day: NaiveDate) -> Result<HashMap<TechnicianId, u32>> {
    let day = day.to_string();
    let rows = on_db!(db, p => sqlx::query_as::<_, (i64, i32)>(
        "SELECT technician_id, booked FROM capacity_bookings WHERE day = $1")
        .bind(&day).fetch_all(p).await)?;
    rows.into_iter()
        .map(|(t, n)| {
            let id =
                TechnicianId::new(t).map_err(|e| StoreError::corrupt("capacity booking", &[e]))?;
            Ok((id, u32::try_from(n).unwrap_or(0)))
        })
        .collect()
}

/// Technicians of any of `station_ids`.
pub async fn for_stations(db: &Db, station_ids: &[&StationId]) -> Result<Vec<Technician>> {
    if station_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = on_db!(db, p => {
        let mut q = QueryBuilder::new(format!("SELECT {COLUMNS} FROM technicians WHERE station_id IN ("));
        let mut sep = q.separated(", ");
        for id in station_ids {
            sep.push_bind(id.as_str());
        }
        sep.push_unseparated(") ORDER BY id");
        q.build_query_as::<TechnicianRow>().fetch_all(p).await
    })?;
    typed(rows)
}

/// Inserts a technician under a new id, which it returns (`t.id` is not
/// used: the database assigns ids).
pub async fn insert(db: &Db, t: &Technician) -> Result<TechnicianId> {
    let id = write_tx!(db, tx => {
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO technicians (station_id, name, skills, daily_capacity, on_duty, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(t.station_id.as_str()).bind(&t.name).bind(join_list(&t.skills))
            .bind(capacity(t)).bind(t.on_duty).bind(Utc::now())
            .fetch_one(&mut *tx).await?;
        Ok(Ok::<_, StoreError>(id))
    })
    .map_err(|e| StoreError::refused(e, "", &format!("station {} does not exist", t.station_id)))??;
    TechnicianId::new(id).map_err(|e| StoreError::corrupt("new technician id", &[e]))
}

/// Replaces one technician's fields; `NotFound` if there is none.
pub async fn update(db: &Db, t: &Technician) -> Result<()> {
    write_tx!(db, tx => {
        let n = sqlx::query(
            "UPDATE technicians SET station_id = $1, name = $2, skills = $3, daily_capacity = $4, \
             on_duty = $5, updated_at = $6 WHERE id = $7")
            .bind(t.station_id.as_str()).bind(&t.name).bind(join_list(&t.skills))
            .bind(capacity(t)).bind(t.on_duty).bind(Utc::now()).bind(t.id.value())
            .execute(&mut *tx).await?.rows_affected();
        Ok(if n == 0 { Err(StoreError::NotFound) } else { Ok(()) })
    })
    .map_err(|e| StoreError::refused(e, "", &format!("station {} does not exist", t.station_id)))?
}

/// The names of these technicians, in one query.
pub async fn names(db: &Db, ids: &[TechnicianId]) -> Result<HashMap<TechnicianId, String>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(1000) {
        let rows = on_db!(db, p => {
            let mut q = QueryBuilder::new("SELECT id, name FROM technicians WHERE id IN (");
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(id.value());
            }
            sep.push_unseparated(")");
            q.build_query_as::<(i64, String)>().fetch_all(p).await
        })?;
        for (id, name) in rows {
            if let Ok(id) = TechnicianId::new(id) {
                out.insert(id, name);
            }
        }
    }
    Ok(out)
}
