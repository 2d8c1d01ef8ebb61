//! Daily KPI tallies (`kpi_days`): the [`Counters`] of settled jobs per
//! local day, region and station. A job write changes them in its own
//! transaction ([`apply_kpi_deltas!`], called by [`super::jobs::write_with`]);
//! reports add up the rows of a period ([`days`]); [`ensure`] rebuilds
//! them from the job histories when the rules they were made under change,
//! and [`verify`] compares them with a recomputation from the histories.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sqlx::QueryBuilder;

use super::{on_db, write_tx, Db, Result, StoreError};
use crate::network::StationId;
use crate::places::Region;
use crate::reports::kpi::{self, Counters, EntryLine, JobLine, Rules};

/// Where a day's tallies belong: the job's region and station as they are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DayKey {
    pub day: NaiveDate,
    pub region: Option<Region>,
    pub station_id: Option<StationId>,
}

impl DayKey {
    /// The key's columns; `''` stands for no region or no station (a key
    /// column cannot be NULL).
    pub(super) fn columns(&self) -> (String, &'static str, String) {
        (
            self.day.to_string(),
            self.region.map_or("", Region::code),
            self.station_id
                .as_ref()
                .map_or_else(String::new, |s| s.as_str().to_owned()),
        )
    }
}

/// Tallies by day, region and station.
pub type Tallies = BTreeMap<DayKey, Counters>;

/// Adds (`sign` 1) or takes away (`sign` -1) a settled job's daily tallies.
pub fn add_job(t: &mut Tallies, line: &JobLine, entries: &[EntryLine], rules: &Rules, sign: i8) {
    for (day, c) in kpi::daily(line, entries, rules) {
        let key = DayKey {
            day,
            region: line.region,
            station_id: line.station_id.clone(),
        };
        let slot = t.entry(key).or_default();
        if sign > 0 {
            slot.add(&c);
        } else {
            slot.sub(&c);
        }
    }
}

/// What one write changes: the job's tallies after it (if settled then)
/// minus those before it (if settled before); rows that do not change are
/// left out.
pub fn deltas(
    before: Option<(&JobLine, &[EntryLine])>,
    after: Option<(&JobLine, &[EntryLine])>,
    rules: &Rules,
) -> Tallies {
    let mut t = Tallies::new();
    if let Some((line, entries)) = after {
        add_job(&mut t, line, entries, rules, 1);
    }
    if let Some((line, entries)) = before {
        add_job(&mut t, line, entries, rules, -1);
    }
    t.retain(|_, c| !c.is_zero());
    t
}

pub(super) const SELECT_SQL: &str =
    "SELECT counters FROM kpi_days WHERE day = $1 AND region = $2 AND station_id = $3";
pub(super) const UPSERT_SQL: &str =
    "INSERT INTO kpi_days (day, region, station_id, counters) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (day, region, station_id) DO UPDATE SET counters = excluded.counters";
pub(super) const DELETE_SQL: &str =
    "DELETE FROM kpi_days WHERE day = $1 AND region = $2 AND station_id = $3";
const FINGERPRINT_SQL: &str = "INSERT INTO kpi_meta (id, fingerprint) VALUES (1, $1) \
     ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint";

/// Stored counters; a row that does not parse is corrupt.
pub(super) fn parse(key: &str, text: Option<&str>) -> Result<Counters, sqlx::Error> {
    text.map_or_else(
        || Ok(Counters::default()),
        |s| {
            serde_json::from_str(s).map_err(|e| {
                sqlx::Error::Decode(Box::new(StoreError::Corrupt(format!(
                    "kpi_days {key}: {e}"
                ))))
            })
        },
    )
}

pub(super) fn encode(c: &Counters) -> String {
    // Plain integers and maps of integers always serialise.
    serde_json::to_string(c).unwrap_or_default()
}

/// Inside a [`write_tx!`] body, with job writes ordered (PostgreSQL's
/// change-order lock held, or SQLite's write lock): adds `$deltas`
/// ([`Tallies`]) to the stored rows.
macro_rules! apply_kpi_deltas {
    ($tx:ident, $deltas:expr) => {{
        for (key, delta) in $deltas {
            let (day, region, station) = key.columns();
            let old: Option<String> = ::sqlx::query_scalar($crate::store::kpi::SELECT_SQL)
                .bind(&day)
                .bind(region)
                .bind(&station)
                .fetch_optional(&mut *$tx)
                .await?;
            let mut c = $crate::store::kpi::parse(&day, old.as_deref())?;
            c.add(delta);
            if c.is_zero() {
                ::sqlx::query($crate::store::kpi::DELETE_SQL)
                    .bind(&day)
                    .bind(region)
                    .bind(&station)
                    .execute(&mut *$tx)
                    .await?;
            } else {
                ::sqlx::query($crate::store::kpi::UPSERT_SQL)
                    .bind(&day)
                    .bind(region)
                    .bind(&station)
                    .bind($crate::store::kpi::encode(&c))
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}
pub(crate) use apply_kpi_deltas;

/// Jobs read per round while tallying the whole history.
const CHUNK: i64 = 20_000;

/// Tallies every settled job from its history, reading `CHUNK` jobs at a
/// time through `$exec` (a pool or `&mut *tx`); a `Result<Tallies, sqlx::Error>`.
macro_rules! tally_settled {
    ($exec:expr, $rules:expr) => {{
        async {
            use super::jobs::{group_lines, EntryRow, LineRow, ENTRY_COLUMNS, LINE_COLUMNS, NOT_OPEN};
            let mut t = Tallies::new();
            let mut after = 0_i64;
            loop {
                let jobs: Vec<LineRow> = ::sqlx::query_as(&format!(
                    "SELECT {LINE_COLUMNS} FROM jobs j WHERE j.status IN {NOT_OPEN} AND j.id > $1 \
                     ORDER BY j.id LIMIT {CHUNK}"
                ))
                .bind(after)
                .fetch_all($exec)
                .await?;
                let (Some(lo), Some(hi)) = (jobs.first().map(|j| j.0), jobs.last().map(|j| j.0))
                else {
                    break;
                };
                let entries: Vec<EntryRow> = ::sqlx::query_as(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM job_events e JOIN jobs j ON j.id = e.job_id \
                     WHERE e.job_id >= $1 AND e.job_id <= $2 AND j.status IN {NOT_OPEN} \
                     ORDER BY e.job_id, e.id"
                ))
                .bind(lo)
                .bind(hi)
                .fetch_all($exec)
                .await?;
                let lines = group_lines(jobs, entries)
                    .map_err(|e| ::sqlx::Error::Decode(Box::new(e)))?;
                for (line, entries) in &lines {
                    add_job(&mut t, line, entries, $rules, 1);
                }
                after = hi;
            }
            t.retain(|_, c| !c.is_zero());
            Ok::<_, ::sqlx::Error>(t)
        }
        .await
    }};
}

/// Inside a [`write_tx!`] body: replaces every stored row by `$t` and
/// records the rules' fingerprint.
macro_rules! replace_all {
    ($tx:ident, $t:expr, $rules:expr) => {{
        ::sqlx::query("DELETE FROM kpi_days")
            .execute(&mut *$tx)
            .await?;
        let rows: Vec<(&DayKey, &Counters)> = $t.iter().collect();
        for batch in rows.chunks(500) {
            let mut q =
                QueryBuilder::new("INSERT INTO kpi_days (day, region, station_id, counters) ");
            q.push_values(batch, |mut b, (key, c)| {
                let (day, region, station) = key.columns();
                b.push_bind(day)
                    .push_bind(region)
                    .push_bind(station)
                    .push_bind(encode(c));
            });
            q.build().execute(&mut *$tx).await?;
        }
        ::sqlx::query(FINGERPRINT_SQL)
            .bind($rules.fingerprint())
            .execute(&mut *$tx)
            .await?;
    }};
}

/// Drops the rules' fingerprint: until [`replace`] or [`rebuild`] records
/// one again, the next start rebuilds the tallies (a bulk load that stops
/// halfway leaves no stale tallies taken for whole).
pub async fn forget(db: &Db) -> Result<()> {
    on_db!(db, p => sqlx::query("DELETE FROM kpi_meta").execute(p).await.map(|_| ()))?;
    Ok(())
}

/// The rules the stored tallies were made under, if any.
pub async fn fingerprint(db: &Db) -> Result<Option<String>> {
    Ok(
        on_db!(db, p => sqlx::query_scalar("SELECT fingerprint FROM kpi_meta WHERE id = 1")
        .fetch_optional(p).await)?,
    )
}

/// Recomputes every row from the job histories, with job writes held off
/// meanwhile; returns the number of rows.
pub async fn rebuild(db: &Db, rules: &Rules) -> Result<usize> {
    let n = write_tx!(db, tx => {
        if matches!(db, Db::Postgres(_)) {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(super::jobs::CHANGE_ORDER_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let t = tally_settled!(&mut *tx, rules)?;
        replace_all!(tx, t, rules);
        Ok::<_, sqlx::Error>(Ok::<_, ()>(t.len()))
    })?;
    Ok(n.unwrap_or(0))
}

/// Replaces the stored rows by `t`, made under `rules` (a bulk load that
/// computed them itself).
pub async fn replace(db: &Db, t: &Tallies, rules: &Rules) -> Result<()> {
    write_tx!(db, tx => {
        replace_all!(tx, t, rules);
        Ok::<_, sqlx::Error>(Ok::<_, ()>(()))
    })?
    .ok();
    Ok(())
}

/// Rebuilds the rows when they were made under other rules (or never);
/// whether it did.
pub async fn ensure(db: &Db, rules: &Rules) -> Result<bool> {
    if fingerprint(db).await?.as_deref() == Some(rules.fingerprint().as_str()) {
        return Ok(false);
    }
    rebuild(db, rules).await?;
    Ok(true)
}

/// The stored rows of `from..=to`, limited to a region or a station.
pub async fn days(
    db: &Db,
    from: NaiveDate,
    to: NaiveDate,
    region: Option<Region>,
    station_id: Option<&StationId>,
) -> Result<Vec<(DayKey, Counters)>> {
    type Row = (String, String, String, String);
    let rows: Vec<Row> = on_db!(db, p => {
        let mut q = QueryBuilder::new("SELECT day, region, station_id, counters FROM kpi_days WHERE day >= ");
        q.push_bind(from.to_string()).push(" AND day <= ").push_bind(to.to_string());
        if let Some(r) = region {
            q.push(" AND region = ").push_bind(r.code());
        }
        if let Some(s) = station_id {
            q.push(" AND station_id = ").push_bind(s.as_str().to_owned());
        }
        q.build_query_as::<Row>().fetch_all(p).await
    })?;
    rows.into_iter().map(row_to_tally).collect()
}

fn row_to_tally(
    (day, region, station, counters): (String, String, String, String),
) -> Result<(DayKey, Counters)> {
    let corrupt =
        |what: &str| StoreError::Corrupt(format!("kpi_days {day} {region} {station}: {what}"));
    let key = DayKey {
        day: day.parse().map_err(|_| corrupt("day"))?,
        region: match region.as_str() {
            "" => None,
            r => Some(r.parse().map_err(|_| corrupt("region"))?),
        },
        station_id: match station.as_str() {
            "" => None,
            s => Some(StationId::parse(s).map_err(|_| corrupt("station_id"))?),
        },
    };
    let c = parse(&day, Some(&counters)).map_err(|e| corrupt(&e.to_string()))?;
    Ok((key, c))
}

/// Every stored row.
async fn all(db: &Db) -> Result<Tallies> {
    type Row = (String, String, String, String);
    let rows: Vec<Row> = on_db!(db, p => sqlx::query_as(
        "SELECT day, region, station_id, counters FROM kpi_days").fetch_all(p).await)?;
    rows.into_iter().map(row_to_tally).collect()
}

/// The rows that differ from a recomputation from the job histories (none
/// when the aggregates are right), as `day region station: stored ≠
/// recomputed`. Run it while no job is written, or a write between the two
/// reads shows up as a difference.
pub async fn verify(db: &Db, rules: &Rules) -> Result<Vec<String>> {
    let fresh: Tallies = on_db!(db, p => tally_settled!(p, rules))?;
    let stored = all(db).await?;
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&DayKey> = fresh.keys().chain(stored.keys()).collect();
    for key in keys {
        let (a, b) = (stored.get(key), fresh.get(key));
        if a != b {
            let (day, region, station) = key.columns();
            out.push(format!(
                "{day} {region} {station}: stored {} ≠ recomputed {}",
                a.map_or_else(|| "nothing".into(), encode),
                b.map_or_else(|| "nothing".into(), encode)
            ));
        }
    }
    Ok(out)
}
