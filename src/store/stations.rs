//! Station rows: load, insert, update, delete and all-or-nothing bulk upsert.

use chrono::Utc;
use sqlx::QueryBuilder;

use super::{directory_changed, on_db, write_tx, Db, Result, StoreError};
use crate::basic::{join_list, split_list};
use crate::network::{Station, StationDraft, StationId};

const COLUMNS: &str = "id, name, province, city, adcode, region, address, phone, lat, lon, \
                       services, products, opening_hours, timezone, onsite_radius_km, updated_at";

/// Rows per multi-row INSERT: 16 parameters a row stays well under both
/// backends' bind limits (SQLite 32,766; PostgreSQL 65,535).
const BATCH_ROWS: usize = 1000;

#[derive(sqlx::FromRow)]
struct StationRow {
    id: String,
    name: String,
    province: String,
    city: String,
    adcode: String,
    region: String,
    address: String,
    phone: String,
    lat: f64,
    lon: f64,
    services: String,
    products: String,
    opening_hours: String,
    timezone: String,
    onsite_radius_km: Option<f64>,
}

impl TryFrom<StationRow> for Station {
    type Error = StoreError;
    fn try_from(r: StationRow) -> Result<Station> {
        let id = r.id.clone();
        Station::try_from(StationDraft {
            id: r.id,
            name: r.name,
            province: r.province,
            city: r.city,
            adcode: serde_json::Value::String(r.adcode),
            region: Some(r.region),
            address: r.address,
            phone: r.phone,
            lat: r.lat,
            lon: r.lon,
            services: split_list(&r.services),
            products: split_list(&r.products),
            opening_hours: r.opening_hours,
            timezone: r.timezone,
            onsite_radius_km: r.onsite_radius_km,
        })
        .map_err(|errs| StoreError::corrupt(&format!("station {id}"), &errs))
    }
}

/// Binds a station's columns in `COLUMNS` order to a `QueryBuilder` tuple.
macro_rules! push_station {
    ($b:expr, $s:expr, $now:expr) => {{
        let s: &Station = $s;
        $b.push_bind(s.id.to_string())
            .push_bind(s.name.clone())
            .push_bind(s.province.clone())
            .push_bind(s.city.clone())
            .push_bind(s.adcode.to_string())
            .push_bind(s.region.code())
            .push_bind(s.address.clone())
            .push_bind(s.phone.clone())
            .push_bind(s.location.lat)
            .push_bind(s.location.lon)
            .push_bind(join_list(&s.services))
            .push_bind(join_list(&s.products))
            .push_bind(s.opening_hours.as_str().to_owned())
            .push_bind(s.timezone.name())
            .push_bind(s.onsite_radius_km)
            .push_bind($now);
    }};
}

/// Every station, in id order.
pub async fn load_all(db: &Db) -> Result<Vec<Station>> {
    let sql = format!("SELECT {COLUMNS} FROM stations ORDER BY id");
    let rows: Vec<StationRow> =
        on_db!(db, p => sqlx::query_as::<_, StationRow>(&sql).fetch_all(p).await)?;
    rows.into_iter().map(Station::try_from).collect()
}

pub async fn get(db: &Db, id: &StationId) -> Result<Station> {
    let sql = format!("SELECT {COLUMNS} FROM stations WHERE id = $1");
    let row: Option<StationRow> = on_db!(db, p => sqlx::query_as::<_, StationRow>(&sql)
        .bind(id.as_str()).fetch_optional(p).await)?;
    row.ok_or(StoreError::NotFound)?.try_into()
}

pub async fn count(db: &Db) -> Result<i64> {
    Ok(
        on_db!(db, p => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM stations").fetch_one(p).await)?,
    )
}

/// What a write did, for the caller's response and the index patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct UpsertCounts {
    pub inserted: usize,
    pub updated: usize,
}

/// Inserts a new station; `Duplicate` if the id exists.
pub async fn insert(db: &Db, s: &Station) -> Result<()> {
    let n = write_rows(db, std::slice::from_ref(s), Mode::InsertOnly, |_| {}).await?;
    if n.inserted == 1 {
        Ok(())
    } else {
        Err(StoreError::Duplicate(format!(
            "station {} already exists",
            s.id
        )))
    }
}

/// Replaces an existing station; `NotFound` if there is none.
pub async fn update(db: &Db, s: &Station) -> Result<()> {
    let n = write_rows(db, std::slice::from_ref(s), Mode::UpdateOnly, |_| {}).await?;
    if n.updated == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// Inserts or replaces all stations in one transaction: all or nothing.
pub async fn upsert_many(db: &Db, stations: &[Station]) -> Result<UpsertCounts> {
    write_rows(db, stations, Mode::Upsert, |_| {}).await
}

/// [`upsert_many`], calling `progress` with the rows written by each batch.
pub async fn upsert_many_with_progress(
    db: &Db,
    stations: &[Station],
    progress: impl Fn(usize),
) -> Result<UpsertCounts> {
    write_rows(db, stations, Mode::Upsert, progress).await
}

pub async fn delete(db: &Db, id: &StationId) -> Result<()> {
    let deleted = write_tx!(db, tx => {
        let n = sqlx::query("DELETE FROM stations WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(Err(StoreError::NotFound));
        }
        directory_changed!(db, tx);
        Ok(Ok(()))
    })
    .map_err(|e| {
        StoreError::refused(
            e,
            "",
            &format!("station {id} still has technicians or jobs; move them first"),
        )
    })?;
    deleted
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    InsertOnly,
    UpdateOnly,
    Upsert,
}

async fn write_rows(
    db: &Db,
    stations: &[Station],
    mode: Mode,
    progress: impl Fn(usize),
) -> Result<UpsertCounts> {
    let now = Utc::now();
    let counts = write_tx!(db, tx => {
        // Which ids exist decides inserted vs updated; read inside the
        // transaction so the counts match what is written.
        let mut existing = std::collections::HashSet::new();
        for chunk in stations.chunks(BATCH_ROWS) {
            let mut q = QueryBuilder::new("SELECT id FROM stations WHERE id IN (");
            let mut sep = q.separated(", ");
            for s in chunk {
                sep.push_bind(s.id.to_string());
            }
            sep.push_unseparated(")");
            let ids: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
            existing.extend(ids);
        }
        let mut counts = UpsertCounts::default();
        for s in stations {
            if existing.contains(s.id.as_str()) {
                counts.updated += 1;
            } else {
                counts.inserted += 1;
            }
        }
        let rows: Vec<&Station> = match mode {
            Mode::InsertOnly => stations.iter().filter(|s| !existing.contains(s.id.as_str())).collect(),
            Mode::UpdateOnly => stations.iter().filter(|s| existing.contains(s.id.as_str())).collect(),
            Mode::Upsert => stations.iter().collect(),
        };
        match mode {
            Mode::InsertOnly => counts.updated = 0,
            Mode::UpdateOnly => counts.inserted = 0,
            Mode::Upsert => {}
        }
        for chunk in rows.chunks(BATCH_ROWS) {
            let mut q = QueryBuilder::new(format!("INSERT INTO stations ({COLUMNS}) "));
            q.push_values(chunk, |mut b, s| push_station!(b, s, now));
            q.push(
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name, province = excluded.province, \
                 city = excluded.city, adcode = excluded.adcode, region = excluded.region, \
                 address = excluded.address, phone = excluded.phone, lat = excluded.lat, \
                 lon = excluded.lon, services = excluded.services, products = excluded.products, \
                 opening_hours = excluded.opening_hours, timezone = excluded.timezone, \
                 onsite_radius_km = excluded.onsite_radius_km, updated_at = excluded.updated_at",
            );
            q.build().execute(&mut *tx).await?;
            progress(chunk.len());
        }
        if !rows.is_empty() {
            directory_changed!(db, tx);
        }
        Ok(Ok::<_, StoreError>(counts))
    })?;
    counts
}
