//! The KPI report use case: which rows a caller may see, the job
//! histories they need (store), the stations and capacities (index,
//! technicians), then the pure [`super::kpi`] functions per row and period.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::kpi::{self, Facts, Granularity, Inputs, Kpi, Period, Status};
use super::targets::Targets;
use crate::auth::{Principal, Scope};
use crate::dispatch::model::JobKind;
use crate::dispatch::state::JobStatus;
use crate::network::{SharedIndex, StationId};
use crate::places::Region;
use crate::store::{
    jobs as store_jobs, kpi as store_kpi, technicians as store_techs, Db, StoreError,
};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whose tallies: the network's, a region's (the jobs' own region) or a
/// station's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Scoped {
    Network,
    Region(Region),
    Station(StationId),
}

/// What a report covers.
#[derive(Debug, Clone)]
pub struct KpiQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub region: Option<Region>,
    pub station_id: Option<StationId>,
    pub granularity: Granularity,
    /// Station rows too (trend charts need only the network and regions).
    pub stations: bool,
}

/// A KPI's value against its target.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cell {
    pub value: Option<f64>,
    pub target: Option<f64>,
    pub status: Option<Status>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scope: &'static str,
    pub region: Option<Region>,
    pub station_id: Option<StationId>,
    pub station_name: Option<String>,
    pub period: Option<String>,
    pub kpis: BTreeMap<Kpi, Cell>,
    /// Stations: the composite score ([`kpi::score`]) and the rank by it
    /// within the region for the same period (1 = best).
    pub score: Option<f64>,
    pub rank: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub granularity: Granularity,
    pub rows: Vec<Row>,
}

/// The longest report (days), so one request cannot ask for centuries.
pub const MAX_DAYS: i64 = 400;

/// Rows as the caller's scope allows: the network row only unscoped and
/// unfiltered; a region's row and its stations; a station alone. Asking
/// for what lies outside the scope is a 404.
#[allow(
    clippy::too_many_arguments,
    reason = "the report's inputs, each needed"
)]
pub async fn kpi_report(
    db: &Db,
    index: &SharedIndex,
    targets: &Targets,
    tz: chrono_tz::Tz,
    warning_share: f64,
    who: &Principal,
    q: &KpiQuery,
    now: DateTime<Utc>,
) -> Result<Report, ReportError> {
    if q.to < q.from {
        return Err(ReportError::Invalid("to is before from".into()));
    }
    if (q.to - q.from).num_days() + 1 > MAX_DAYS {
        return Err(ReportError::Invalid(format!(
            "a report covers at most {MAX_DAYS} days"
        )));
    }
    let snapshot = index.load();
    let station_region = |s: &StationId| snapshot.get(s).map(|st| st.region);
    // Narrow to the scope; anything outside it does not exist.
    let not_found = |what: String| ReportError::NotFound(what);
    let (mut region, mut station) = (q.region, q.station_id.clone());
    if let Some(s) = &station {
        let r = station_region(s).ok_or_else(|| not_found(format!("no station {s}")))?;
        if region.is_some_and(|asked| asked != r) {
            return Err(not_found(format!("no station {s} in region {}", r.code())));
        }
        region = Some(r);
    }
    match &who.scope {
        Scope::All => {}
        Scope::Region(r) => {
            if region.is_some_and(|asked| asked != *r) {
                return Err(not_found("no such region in this token's scope".into()));
            }
            region = Some(*r);
        }
        Scope::Station(s) => {
            if station.as_ref().is_some_and(|asked| asked != s)
                || region.is_some_and(|r| Some(r) != station_region(s))
            {
                return Err(not_found("no such station in this token's scope".into()));
            }
            station = Some(s.clone());
            region = station_region(s);
        }
        Scope::Technician(_) => return Err(not_found("no report for a technician token".into())),
    }
    let periods = kpi::periods(q.from, q.to, q.granularity, tz);
    let Some(last) = periods.last() else {
        return Err(ReportError::Invalid("empty period".into()));
    };
    // Settled jobs: their daily tallies. Open jobs: tallied now, from
    // their histories (their deadlines and backlog move with the clock).
    // Two reads on two connections, side by side.
    let (day_rows, open) = tokio::try_join!(
        store_kpi::days(db, q.from, q.to, region, station.as_ref()),
        store_jobs::open_report_lines(db, region, station.as_ref(), last.end),
    )?;
    let facts: Vec<(Option<Region>, Option<StationId>, Facts)> = open
        .iter()
        .map(|(j, e)| (j.region, j.station_id.clone(), Facts::of(j, e, now)))
        .collect();
    // Capacity per station: on-duty technicians' daily capacity.
    let mut capacity: HashMap<StationId, u32> = HashMap::new();
    for t in store_techs::list(db, station.as_ref()).await? {
        if t.on_duty {
            *capacity.entry(t.station_id.clone()).or_default() += t.daily_capacity;
        }
    }
    let stations: Vec<(StationId, String, Region)> = snapshot
        .iter()
        .filter(|_| q.stations || station.is_some())
        .filter(|s| {
            station
                .as_ref()
                .map_or_else(|| region.is_none_or(|r| s.region == r), |id| &s.id == id)
        })
        .map(|s| (s.id.clone(), s.name.clone(), s.region))
        .collect();
    let regions: Vec<Region> = match (station.is_some(), region) {
        (true, _) => Vec::new(),
        (false, Some(r)) => vec![r],
        (false, None) => Region::ALL.to_vec(),
    };
    let network = station.is_none() && region.is_none();
    let cap_of = |pred: &dyn Fn(&StationId) -> bool| -> u32 {
        capacity
            .iter()
            .filter(|(s, _)| pred(s))
            .map(|(_, c)| *c)
            .sum()
    };
    let inputs = |daily_capacity| Inputs {
        warning_share,
        daily_capacity,
        now,
    };
    let cells = |values: kpi::Values, r: Option<Region>| -> BTreeMap<Kpi, Cell> {
        values
            .into_iter()
            .map(|(k, value)| {
                let t = targets.of(k, r);
                let cell = Cell {
                    value,
                    target: t.map(|t| t.target),
                    status: t.zip(value).map(|(t, v)| t.status(v)),
                };
                (k, cell)
            })
            .collect()
    };
    // Tallies per (period, scope), from the day rows and the open jobs.
    let want_stations = !stations.is_empty();
    let mut acc: HashMap<(usize, Scoped), kpi::Counters> = HashMap::new();
    let mut add =
        |i: usize, r: Option<Region>, s: Option<&StationId>, c: &kpi::Counters, last: bool| {
            let mut put = |k: Scoped| acc.entry((i, k)).or_default().add_day(c, last);
            if network {
                put(Scoped::Network);
            }
            if let Some(r) = r {
                put(Scoped::Region(r));
            }
            if let (true, Some(s)) = (want_stations, s) {
                put(Scoped::Station(s.clone()));
            }
        };
    let period_of = |day: NaiveDate| periods.partition_point(|p| p.last_day < day);
    for (key, c) in &day_rows {
        let i = period_of(key.day);
        if let Some(p) = periods.get(i) {
            add(
                i,
                key.region,
                key.station_id.as_ref(),
                c,
                key.day == p.last_day,
            );
        }
    }
    let day_of = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
    for (r, s, f) in &facts {
        // The days a job can count on: from its opening (or booked day) to
        // now, its last instant or its booked day; a job waiting for
        // pickup is in the backlog of every period up to now and beyond.
        let waiting = f.kind == JobKind::CarryIn
            && f.statuses.last().is_some_and(|(_, st)| {
                matches!(st, JobStatus::ReadyForPickup | JobStatus::Notified)
            });
        let first_day = day_of(f.created_at).min(f.booked_day.unwrap_or(NaiveDate::MAX));
        let mut last_day = day_of(now.max(f.statuses.last().map_or(f.created_at, |(t, _)| *t)));
        last_day = last_day.max(f.booked_day.unwrap_or(NaiveDate::MIN));
        let from = period_of(first_day);
        let to = if waiting {
            periods.len()
        } else {
            (period_of(last_day) + 1).min(periods.len())
        };
        for (i, p) in periods.iter().enumerate().take(to).skip(from) {
            let c = kpi::tally(f, p, &inputs(0));
            if !c.is_zero() {
                add(i, *r, s.as_ref(), &c, true);
            }
        }
    }
    let empty = kpi::Counters::default();
    let values = |i: usize, k: Scoped, p: &Period, cap: u32| {
        kpi::finish(acc.get(&(i, k)).unwrap_or(&empty), p, &inputs(cap))
    };
    let mut rows = Vec::new();
    for (i, p) in periods.iter().enumerate() {
        if network {
            let v = values(i, Scoped::Network, p, cap_of(&|_| true));
            rows.push(row("network", None, None, None, p, cells(v, None)));
        }
        for &r in &regions {
            let in_r = |s: &StationId| station_region(s) == Some(r);
            let v = values(i, Scoped::Region(r), p, cap_of(&in_r));
            rows.push(row("region", Some(r), None, None, p, cells(v, Some(r))));
        }
        let first_station = rows.len();
        for (id, name, r) in &stations {
            let cap = capacity.get(id).copied().unwrap_or(0);
            let v = values(i, Scoped::Station(id.clone()), p, cap);
            let score = kpi::score(&v);
            let mut rw = row(
                "station",
                Some(*r),
                Some(id.clone()),
                Some(name.clone()),
                p,
                cells(v, Some(*r)),
            );
            rw.score = score;
            rows.push(rw);
        }
        rank_within_regions(&mut rows[first_station..]);
    }
    Ok(Report {
        from: q.from,
        to: q.to,
        granularity: q.granularity,
        rows,
    })
}

fn row(
    scope: &'static str,
    region: Option<Region>,
    station_id: Option<StationId>,
    station_name: Option<String>,
    p: &Period,
    kpis: BTreeMap<Kpi, Cell>,
) -> Row {
    Row {
        scope,
        region,
        station_id,
        station_name,
        period: p.label.clone(),
        kpis,
        score: None,
        rank: None,
    }
}

/// Ranks station rows (one period) by score within each region; rows
/// without a score get no rank.
fn rank_within_regions(rows: &mut [Row]) {
    let mut by_region: HashMap<Option<Region>, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.score.is_some() {
            by_region.entry(r.region).or_default().push(i);
        }
    }
    for idx in by_region.values_mut() {
        idx.sort_by(|&a, &b| {
            let (x, y) = (rows[a].score.unwrap_or(0.0), rows[b].score.unwrap_or(0.0));
            y.total_cmp(&x)
                .then_with(|| rows[a].station_id.cmp(&rows[b].station_id))
        });
        for (rank, &i) in idx.iter().enumerate() {
            rows[i].rank = Some(rank + 1);
        }
    }
}

impl Report {
    /// One line per row and KPI, UTF-8 with a byte-order mark so Excel
    /// opens Chinese text correctly.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "\u{feff}scope,region,station_id,station_name,period,kpi,value,target,status,rank\n",
        );
        for r in &self.rows {
            for (k, c) in &r.kpis {
                let cells = [
                    r.scope.to_owned(),
                    r.region.map(|x| x.code().to_owned()).unwrap_or_default(),
                    r.station_id
                        .as_ref()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    r.station_name.clone().unwrap_or_default(),
                    r.period.clone().unwrap_or_default(),
                    k.as_str().to_owned(),
                    c.value.map(fmt_num).unwrap_or_default(),
                    c.target.map(fmt_num).unwrap_or_default(),
                    c.status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    r.rank.map(|x| x.to_string()).unwrap_or_default(),
                ];
                let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                out.push_str(&line.join(","));
                out.push('\n');
            }
        }
        out
    }

    /// A Markdown table per period of the region rows (and network), for
    /// weekly mail.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("# KPI {} – {}\n", self.from, self.to);
        let kpis: Vec<Kpi> = Kpi::ALL.to_vec();
        let mut period: Option<Option<String>> = None;
        for r in self.rows.iter().filter(|r| r.scope != "station") {
            if period.as_ref() != Some(&r.period) {
                period = Some(r.period.clone());
                let _ = write!(
                    out,
                    "\n## {}\n\n| | {} |\n|---|{}\n",
                    r.period.as_deref().unwrap_or("全期"),
                    kpis.iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(" | "),
                    "---|".repeat(kpis.len())
                );
            }
            let name = r.region.map_or("全国", Region::name_zh);
            let vals: Vec<String> = kpis
                .iter()
                .map(|k| {
                    let c = &r.kpis[k];
                    let mark = match c.status {
                        Some(Status::Met) => " ✓",
                        Some(Status::AtRisk) => " !",
                        Some(Status::Missed) => " ✗",
                        None => "",
                    };
                    format!("{}{mark}", c.value.map_or_else(|| "–".into(), fmt_num))
                })
                .collect();
            let _ = writeln!(out, "| {name} | {} |", vals.join(" | "));
        }
        out
    }
}

fn fmt_num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.4}").trim_end_matches('0').to_owned()
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
