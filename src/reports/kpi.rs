//! KPIs from job histories: pure functions of a job, its audit entries, a
//! period and the report's `now`. Days are Asia/Shanghai calendar days;
//! a period is `[start, end)`.
//!
//! Definitions (where the contract leaves them open):
//! * `jobs_opened` / `jobs_closed` / `jobs_cancelled` / `mailed_back`: entries
//!   of that kind whose instant falls in the period.
//! * An SLA deadline moves later by the time the job spent `on_hold` before
//!   it (the clock is paused while waiting on the customer).
//! * `on_time_repair_rate`: of jobs whose work was completed (repaired,
//!   picked up or mailed back) in the period, the share completed by the
//!   repair deadline.
//! * `first_visit_on_time_rate`: of on-site jobs first reached (`on_site`)
//!   in the period, the share reached by the first-visit deadline.
//! * `first_visit_median_h` / `first_visit_p90_h`: hours from opening to the
//!   first `on_site`, for first visits in the period (nearest-rank percentile).
//! * `sla_breaches`: deadlines (first visit and repair) falling in the period
//!   that the job missed (not reached / not completed by then, and not
//!   cancelled before). `sla_warnings`: the same for the warning point
//!   (the policy's share, 75 %, of the way from opening to the deadline).
//! * `late_notice_before_due_rate`: of repair deadlines missed in the period,
//!   the share whose customer had a `late_notice` before the deadline.
//! * `follow_up_within_3d_rate`: of jobs completed in the period, the share
//!   with a follow-up within 3 days of completion (it may still rise until
//!   3 days after the period ends).
//! * `satisfaction_mean` / `satisfaction_count`: follow-ups in the period.
//!   `complaints`: those scoring 1 or 2. `complaints_recontacted`: of those,
//!   the ones called back (`recontacted`) by the report's `now`.
//! * `pickup_backlog`: carry-in jobs ready for pickup or notified at the end
//!   of the period (or now, if earlier): a stock, not a flow.
//! * `first_time_fix_rate`: of on-site jobs repaired in the period, the
//!   share repaired without going on hold after the technician arrived (a
//!   hold after `on_site` means the visit could not finish: parts, the
//!   customer's decision, a second trip); a transfer before the visit does
//!   not count against it.
//! * `utilisation`: on-site visits booked on the period's days (not
//!   cancelled) over the on-duty technicians' daily capacity times the days.
//!
//! A job counts for the region of its point and for its station (the
//! technician's station on-site, the receiving station carry-in) as they
//! are now.
//!
//! Every KPI is made from additive [`Counters`]: a job's [`tally`] for a
//! period, summed over jobs, then [`finish`]ed into values. A settled job
//! (completed, closed or cancelled) no longer changes with the clock, so
//! its tallies per day ([`daily`]) are stored and kept by each write; a
//! report adds the stored days of its period (the backlog, a stock, from
//! the last day only) and tallies the open jobs itself. Percentiles stay
//! exact: the first-visit times are kept whole, not binned.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::basic::string_enum;
use crate::dispatch::job::{EventName, EventRecord, Job};
use crate::dispatch::model::JobKind;
use crate::dispatch::state::JobStatus;
use crate::network::StationId;
use crate::places::Region;

string_enum!(
    /// The KPIs of the contract.
    Kpi {
        JobsOpened => "jobs_opened",
        JobsClosed => "jobs_closed",
        JobsCancelled => "jobs_cancelled",
        OnTimeRepairRate => "on_time_repair_rate",
        FirstVisitOnTimeRate => "first_visit_on_time_rate",
        FirstVisitMedianH => "first_visit_median_h",
        FirstVisitP90H => "first_visit_p90_h",
        SlaBreaches => "sla_breaches",
        SlaWarnings => "sla_warnings",
        LateNoticeBeforeDueRate => "late_notice_before_due_rate",
        #[serde(rename = "follow_up_within_3d_rate")]
        FollowUpWithin3dRate => "follow_up_within_3d_rate",
        SatisfactionMean => "satisfaction_mean",
        SatisfactionCount => "satisfaction_count",
        Complaints => "complaints",
        ComplaintsRecontacted => "complaints_recontacted",
        PickupBacklog => "pickup_backlog",
        MailedBack => "mailed_back",
        FirstTimeFixRate => "first_time_fix_rate",
        Utilisation => "utilisation",
    }
);

string_enum!(
    /// How a report's period is cut.
    Granularity {
        None => "none",
        Day => "day",
        /// ISO weeks, Monday to Sunday.
        Week => "week",
        Month => "month",
    }
);

/// A stretch of time with its label (`2026-11-30`, `2026-W48`, `2026-11`;
/// none for the whole report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub label: Option<String>,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Period {
    fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    pub fn days(&self) -> i64 {
        (self.last_day - self.first_day).num_days() + 1
    }
}

fn midnight(day: NaiveDate, tz: chrono_tz::Tz) -> DateTime<Utc> {
    tz.from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map_or_else(
            || day.and_time(chrono::NaiveTime::MIN).and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// `from..=to` cut by `g` (the first and last pieces are clipped to it).
pub fn periods(from: NaiveDate, to: NaiveDate, g: Granularity, tz: chrono_tz::Tz) -> Vec<Period> {
    let make = |label: Option<String>, a: NaiveDate, b: NaiveDate| Period {
        label,
        first_day: a,
        last_day: b,
        start: midnight(a, tz),
        end: midnight(b + Duration::days(1), tz),
    };
    if g == Granularity::None {
        return vec![make(None, from, to)];
    }
    let mut out = Vec::new();
    let mut a = from;
    while a <= to {
        let (label, piece_end) = match g {
            Granularity::Day | Granularity::None => (a.to_string(), a),
            Granularity::Week => {
                let w = a.iso_week();
                let sunday = a + Duration::days(6 - i64::from(a.weekday().num_days_from_monday()));
                (format!("{}-W{:02}", w.year(), w.week()), sunday)
            }
            Granularity::Month => {
                let next = if a.month() == 12 {
                    NaiveDate::from_ymd_opt(a.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(a.year(), a.month() + 1, 1)
                };
                let last = next.map_or(a, |n| n - Duration::days(1));
                (format!("{}-{:02}", a.year(), a.month()), last)
            }
        };
        let b = piece_end.min(to);
        out.push(make(Some(label), a, b));
        a = b + Duration::days(1);
    }
    out
}

/// A report period as people write it: an ISO week `2026-W47`, a month
/// `2026-11`, a day `2026-11-23`, or `FROM..TO` (days, inclusive).
pub fn parse_period(s: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let s = s.trim();
    let bad = || {
        format!("period {s:?}: expected 2026-W47, 2026-11, 2026-11-23 or 2026-11-01..2026-11-30")
    };
    if let Some((a, b)) = s.split_once("..") {
        let a: NaiveDate = a.trim().parse().map_err(|_| bad())?;
        let b: NaiveDate = b.trim().parse().map_err(|_| bad())?;
        return if a <= b {
            Ok((a, b))
        } else {
            Err(format!("period {s:?}: ends before it starts"))
        };
    }
    if let Some((y, w)) = s.split_once("-W") {
        let (y, w): (i32, u32) = (y.parse().map_err(|_| bad())?, w.parse().map_err(|_| bad())?);
        let monday = NaiveDate::from_isoywd_opt(y, w, chrono::Weekday::Mon).ok_or_else(bad)?;
        return Ok((monday, monday + Duration::days(6)));
    }
    if let Ok(d) = s.parse::<NaiveDate>() {
        return Ok((d, d));
    }
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let first = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    Ok((first, next.ok_or_else(bad)? - Duration::days(1)))
}

/// What a report reads of a job: a few columns, none of its documents.
#[derive(Debug, Clone, PartialEq)]
pub struct JobLine {
    pub id: i64,
    pub kind: JobKind,
    pub region: Option<Region>,
    pub station_id: Option<StationId>,
    pub created_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub first_visit_due_at: Option<DateTime<Utc>>,
    pub booked_day: Option<NaiveDate>,
}

impl From<&Job> for JobLine {
    fn from(j: &Job) -> Self {
        JobLine {
            id: j.id.0,
            kind: j.kind,
            region: j.region,
            station_id: j.station_id.clone(),
            created_at: j.created_at,
            due_at: j.due_at,
            first_visit_due_at: j.first_visit_due_at,
            booked_day: j.booked_day,
        }
    }
}

/// What a report reads of an audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryLine {
    pub at: DateTime<Utc>,
    pub event: EventName,
    pub to_status: JobStatus,
    /// A follow-up's score.
    pub satisfaction: Option<u8>,
}

impl From<&EventRecord> for EntryLine {
    fn from(e: &EventRecord) -> Self {
        EntryLine {
            at: e.at,
            event: e.event,
            to_status: e.to_status,
            satisfaction: e
                .data
                .as_ref()
                .and_then(|d| d.get("satisfaction"))
                .and_then(serde_json::Value::as_u64)
                .and_then(|s| u8::try_from(s).ok()),
        }
    }
}

/// What the KPIs need of one job, read once from its history.
#[derive(Debug, Clone)]
pub struct Facts {
    pub kind: JobKind,
    pub created_at: DateTime<Utc>,
    pub first_on_site: Option<DateTime<Utc>>,
    /// Went `on_hold` after the technician first arrived.
    pub held_after_visit: bool,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by_repair: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub mailed_back_at: Option<DateTime<Utc>>,
    pub late_notice_at: Option<DateTime<Utc>>,
    pub follow_up: Option<(DateTime<Utc>, u8)>,
    pub recontacted_at: Option<DateTime<Utc>>,
    pub repair_due: DateTime<Utc>,
    pub first_visit_due: Option<DateTime<Utc>>,
    pub booked_day: Option<NaiveDate>,
    /// Status changes in order: (instant, status entered).
    pub statuses: Vec<(DateTime<Utc>, JobStatus)>,
}

impl Facts {
    pub fn of(job: &JobLine, events: &[EntryLine], now: DateTime<Utc>) -> Facts {
        let mut f = Facts {
            kind: job.kind,
            created_at: job.created_at,
            first_on_site: None,
            held_after_visit: false,
            completed_at: None,
            completed_by_repair: false,
            closed_at: None,
            cancelled_at: None,
            mailed_back_at: None,
            late_notice_at: None,
            follow_up: None,
            recontacted_at: None,
            repair_due: job.due_at,
            first_visit_due: job.first_visit_due_at,
            booked_day: job.booked_day,
            statuses: Vec::with_capacity(events.len()),
        };
        for e in events {
            f.statuses.push((e.at, e.to_status));
            let first = |slot: &mut Option<DateTime<Utc>>| {
                if slot.is_none() {
                    *slot = Some(e.at);
                }
            };
            match e.event {
                EventName::OnSite => first(&mut f.first_on_site),
                EventName::Hold if f.first_on_site.is_some() => f.held_after_visit = true,
                EventName::Closed => first(&mut f.closed_at),
                EventName::Cancelled => first(&mut f.cancelled_at),
                EventName::MailedBack => first(&mut f.mailed_back_at),
                EventName::LateNotice => first(&mut f.late_notice_at),
                EventName::Recontacted => first(&mut f.recontacted_at),
                EventName::FollowUp => {
                    if let (None, Some(s)) = (f.follow_up, e.satisfaction) {
                        f.follow_up = Some((e.at, s));
                    }
                }
                _ => {}
            }
            if f.completed_at.is_none() && e.to_status.is_completed() {
                f.completed_at = Some(e.at);
                f.completed_by_repair = e.event == EventName::Repaired;
            }
        }
        // Deadlines move by the time on hold before them (up to now).
        let pauses = crate::dispatch::sla::pauses_from_history(&f.statuses);
        let held = |until: DateTime<Utc>| -> Duration {
            pauses
                .iter()
                .map(|p| p.end.unwrap_or(until).min(until) - p.start.min(until))
                .sum()
        };
        f.repair_due = job.due_at + held(f.completed_at.unwrap_or(now).min(now));
        f.first_visit_due = job
            .first_visit_due_at
            .map(|d| d + held(f.first_on_site.unwrap_or(now).min(now)));
        f
    }

    /// The status the job was in just before `t`.
    fn status_before(&self, t: DateTime<Utc>) -> Option<JobStatus> {
        self.statuses
            .iter()
            .take_while(|(at, _)| *at < t)
            .last()
            .map(|(_, s)| *s)
    }

    fn cancelled_before(&self, t: DateTime<Utc>) -> bool {
        self.cancelled_at.is_some_and(|c| c <= t)
    }
}

/// One scope's KPI values for one period (`None`: nothing to measure).
pub type Values = BTreeMap<Kpi, Option<f64>>;

/// The inputs beside the jobs: the SLA warning share, the on-duty daily
/// capacity of the scope's technicians, and the report's `now`.
#[derive(Debug, Clone, Copy)]
pub struct Inputs {
    pub warning_share: f64,
    pub daily_capacity: u32,
    pub now: DateTime<Utc>,
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    // Nearest rank: the smallest value with at least p of the values at or below it.
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank - 1).copied()
}

/// The additive tallies behind the KPIs. A period's tallies are the sum
/// of its jobs' and of its days' tallies, except `backlog`, a stock taken
/// at the period's end (the last day's value). This is what the daily
/// aggregates store, so a report never has to read a finished job again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    #[serde(skip_serializing_if = "is_zero")]
    pub opened: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub closed: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub cancelled: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub mailed: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub completed: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub on_time: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub followed_3d: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub fv: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub fv_on_time: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub breaches: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub warnings: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub repair_missed: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub told_before: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub score_sum: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub score_n: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub complaints: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub recontacted: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub backlog: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub repaired: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub fixed_first_time: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub booked: i64,
    /// First visits: seconds from opening to arrival → how many. Kept
    /// whole (not binned) so percentiles over aggregates are exact.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fv_secs: BTreeMap<i64, i64>,
}

#[allow(clippy::trivially_copy_pass_by_ref, reason = "serde's signature")]
fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl Counters {
    /// `self + sign * o` on every field but the backlog when `flows_only`.
    fn combine(&mut self, o: &Counters, sign: i64, flows_only: bool) {
        let pairs: [(&mut i64, i64); 20] = [
            (&mut self.opened, o.opened),
            (&mut self.closed, o.closed),
            (&mut self.cancelled, o.cancelled),
            (&mut self.mailed, o.mailed),
            (&mut self.completed, o.completed),
            (&mut self.on_time, o.on_time),
            (&mut self.followed_3d, o.followed_3d),
            (&mut self.fv, o.fv),
            (&mut self.fv_on_time, o.fv_on_time),
            (&mut self.breaches, o.breaches),
            (&mut self.warnings, o.warnings),
            (&mut self.repair_missed, o.repair_missed),
            (&mut self.told_before, o.told_before),
            (&mut self.score_sum, o.score_sum),
            (&mut self.score_n, o.score_n),
            (&mut self.complaints, o.complaints),
            (&mut self.recontacted, o.recontacted),
            (&mut self.repaired, o.repaired),
            (&mut self.fixed_first_time, o.fixed_first_time),
            (&mut self.booked, o.booked),
        ];
        for (mine, theirs) in pairs {
            *mine += sign * theirs;
        }
        if !flows_only {
            self.backlog += sign * o.backlog;
        }
        for (&secs, &n) in &o.fv_secs {
            let slot = self.fv_secs.entry(secs).or_default();
            *slot += sign * n;
            if *slot == 0 {
                self.fv_secs.remove(&secs);
            }
        }
    }

    /// Adds another scope's (or job's) tallies for the same period.
    pub fn add(&mut self, o: &Counters) {
        self.combine(o, 1, false);
    }

    pub fn sub(&mut self, o: &Counters) {
        self.combine(o, -1, false);
    }

    /// Adds one day's tallies to a period's: flows add up, the backlog is
    /// taken from the period's last day only.
    pub fn add_day(&mut self, day: &Counters, is_last_day: bool) {
        self.combine(day, 1, !is_last_day);
    }

    pub fn is_zero(&self) -> bool {
        *self == Counters::default()
    }
}

/// One job's tallies for `period`.
pub fn tally(f: &Facts, period: &Period, inp: &Inputs) -> Counters {
    let p = period;
    let mut c = Counters::default();
    let n = |b: bool| i64::from(b);
    // The status at the period's end, or as of now (entries made at this
    // very instant included) while the period is still running.
    let stock_at = p.end.min(inp.now + Duration::nanoseconds(1));
    c.opened = n(p.contains(f.created_at));
    c.closed = n(f.closed_at.is_some_and(|t| p.contains(t)));
    c.cancelled = n(f.cancelled_at.is_some_and(|t| p.contains(t)));
    c.mailed = n(f.mailed_back_at.is_some_and(|t| p.contains(t)));
    if let Some(done) = f.completed_at.filter(|t| p.contains(*t)) {
        c.completed = 1;
        c.on_time = n(done <= f.repair_due);
        c.followed_3d = n(f
            .follow_up
            .is_some_and(|(at, _)| at <= done + Duration::days(3)));
        if f.kind == JobKind::Onsite && f.completed_by_repair {
            c.repaired = 1;
            c.fixed_first_time = n(!f.held_after_visit);
        }
    }
    if let Some(first) = f.first_on_site.filter(|t| p.contains(*t)) {
        c.fv = 1;
        if let Some(due) = f.first_visit_due {
            c.fv_on_time = n(first <= due);
        }
        c.fv_secs.insert((first - f.created_at).num_seconds(), 1);
    }
    // Deadlines: (deadline, when the thing it waits for happened).
    let deadlines = [
        Some((f.repair_due, f.completed_at, true)),
        f.first_visit_due.map(|d| (d, f.first_on_site, false)),
    ];
    for (due, done, is_repair) in deadlines.into_iter().flatten() {
        let missed_by = |t: DateTime<Utc>| done.is_none_or(|d| d > t) && !f.cancelled_before(t);
        if p.contains(due) && due <= inp.now && missed_by(due) {
            c.breaches += 1;
            if is_repair {
                c.repair_missed += 1;
                c.told_before += n(f.late_notice_at.is_some_and(|t| t <= due));
            }
        }
        let warn_at = warn_point(f.created_at, due, inp.warning_share);
        if p.contains(warn_at) && warn_at <= inp.now && missed_by(warn_at) {
            c.warnings += 1;
        }
    }
    if let Some((at, score)) = f.follow_up.filter(|(at, _)| p.contains(*at)) {
        c.score_sum = i64::from(score);
        c.score_n = 1;
        if score <= 2 {
            c.complaints = 1;
            c.recontacted = n(f.recontacted_at.is_some_and(|r| r >= at && r <= inp.now));
        }
    }
    c.backlog = n(f.kind == JobKind::CarryIn
        && matches!(
            f.status_before(stock_at),
            Some(JobStatus::ReadyForPickup | JobStatus::Notified)
        ));
    c.booked = n(f.kind == JobKind::Onsite
        && f.cancelled_at.is_none()
        && f.booked_day
            .is_some_and(|d| d >= p.first_day && d <= p.last_day));
    c
}

/// The SLA warning point: `share` of the way from opening to the deadline.
fn warn_point(created: DateTime<Utc>, due: DateTime<Utc>, share: f64) -> DateTime<Utc> {
    created + Duration::milliseconds(((due - created).num_milliseconds() as f64 * share) as i64)
}

/// The KPI values of a period's tallies.
pub fn finish(c: &Counters, period: &Period, inp: &Inputs) -> Values {
    let rate = |hits: i64, of: i64| (of > 0).then(|| hits as f64 / of as f64);
    let count = |n: i64| Some(n as f64);
    // The sorted first-visit hours, for the percentiles.
    let fv_hours: Vec<f64> = c
        .fv_secs
        .iter()
        .flat_map(|(&secs, &n)| {
            std::iter::repeat_n(secs as f64 / 3600.0, usize::try_from(n).unwrap_or(0))
        })
        .collect();
    let capacity = u64::from(inp.daily_capacity) * u64::try_from(period.days()).unwrap_or(0);
    let mut v = Values::new();
    v.insert(Kpi::JobsOpened, count(c.opened));
    v.insert(Kpi::JobsClosed, count(c.closed));
    v.insert(Kpi::JobsCancelled, count(c.cancelled));
    v.insert(Kpi::OnTimeRepairRate, rate(c.on_time, c.completed));
    v.insert(Kpi::FirstVisitOnTimeRate, rate(c.fv_on_time, c.fv));
    v.insert(Kpi::FirstVisitMedianH, percentile(&fv_hours, 0.5));
    v.insert(Kpi::FirstVisitP90H, percentile(&fv_hours, 0.9));
    v.insert(Kpi::SlaBreaches, count(c.breaches));
    v.insert(Kpi::SlaWarnings, count(c.warnings));
    v.insert(
        Kpi::LateNoticeBeforeDueRate,
        rate(c.told_before, c.repair_missed),
    );
    v.insert(Kpi::FollowUpWithin3dRate, rate(c.followed_3d, c.completed));
    v.insert(
        Kpi::SatisfactionMean,
        (c.score_n > 0).then(|| c.score_sum as f64 / c.score_n as f64),
    );
    v.insert(Kpi::SatisfactionCount, count(c.score_n));
    v.insert(Kpi::Complaints, count(c.complaints));
    v.insert(Kpi::ComplaintsRecontacted, count(c.recontacted));
    v.insert(Kpi::PickupBacklog, count(c.backlog));
    v.insert(Kpi::MailedBack, count(c.mailed));
    v.insert(Kpi::FirstTimeFixRate, rate(c.fixed_first_time, c.repaired));
    v.insert(
        Kpi::Utilisation,
        (capacity > 0).then(|| c.booked as f64 / capacity as f64),
    );
    v
}

/// Every KPI over `jobs` for `period`.
pub fn compute<'a>(jobs: impl Iterator<Item = &'a Facts>, period: &Period, inp: &Inputs) -> Values {
    let mut c = Counters::default();
    for f in jobs {
        c.add(&tally(f, period, inp));
    }
    finish(&c, period, inp)
}

/// What the daily aggregates are computed under: a report may only add
/// aggregates made under the same rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    pub warning_share: f64,
    pub tz: chrono_tz::Tz,
}

impl Default for Rules {
    /// The shipped policy's warning share, days in Asia/Shanghai.
    fn default() -> Self {
        Rules {
            warning_share: crate::dispatch::Policy::embedded().sla.warning_share,
            tz: chrono_tz::Asia::Shanghai,
        }
    }
}

impl Rules {
    /// Names the definitions and rules behind stored aggregates; a change
    /// of either means they are rebuilt from the job histories.
    pub fn fingerprint(&self) -> String {
        format!(
            "kpi-days v1; warning_share {}; tz {}",
            self.warning_share,
            self.tz.name()
        )
    }
}

/// Whether a job's tallies can no longer change without a new entry: it
/// is completed, closed or cancelled. Only such jobs go into the daily
/// aggregates; open ones are tallied when a report is made, since their
/// deadlines, pauses and backlog move with the clock.
pub fn settled(status: JobStatus) -> bool {
    !status.is_open()
}

/// A settled job's tallies per local day, the days with nothing left out.
/// Computed as of its last entry, which for a settled job is the same as
/// any later instant (tested).
pub fn daily(job: &JobLine, events: &[EntryLine], rules: &Rules) -> Vec<(NaiveDate, Counters)> {
    let last = events.iter().map(|e| e.at).max().unwrap_or(job.created_at);
    let f = Facts::of(job, events, last);
    let inp = Inputs {
        warning_share: rules.warning_share,
        daily_capacity: 0,
        now: last,
    };
    let day_of = |t: DateTime<Utc>| t.with_timezone(&rules.tz).date_naive();
    let mut latest = last.max(f.repair_due);
    if let Some(d) = f.first_visit_due {
        latest = latest.max(d);
    }
    let mut last_day = day_of(latest);
    if let Some(b) = f.booked_day {
        last_day = last_day.max(b);
    }
    let first_day = day_of(job.created_at).min(f.booked_day.unwrap_or(NaiveDate::MAX));
    periods(first_day, last_day, Granularity::Day, rules.tz)
        .iter()
        .filter_map(|p| {
            let c = tally(&f, p, &inp);
            (!c.is_zero()).then_some((p.first_day, c))
        })
        .collect()
}

/// Which way is better for a KPI with a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

/// A KPI's target: `met` at or beyond it, `at_risk` within `at_risk_within`
/// short of it, `missed` beyond that.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub target: f64,
    pub better: Better,
    pub at_risk_within: f64,
}

string_enum!(
    /// A KPI against its target.
    Status {
        Met => "met",
        AtRisk => "at_risk",
        Missed => "missed",
    }
);

impl Target {
    pub fn status(&self, value: f64) -> Status {
        let short = match self.better {
            Better::Higher => self.target - value,
            Better::Lower => value - self.target,
        };
        if short <= 1e-12 {
            Status::Met
        } else if short <= self.at_risk_within + 1e-12 {
            Status::AtRisk
        } else {
            Status::Missed
        }
    }
}

/// The composite that ranks stations within their region: the weighted
/// mean of on-time repair (0.3), first-visit on time (0.2), first-time fix
/// (0.2), satisfaction scaled to 0–1 ((mean − 1) / 4, 0.2) and follow-up
/// within 3 days (0.1), over the parts that have a value (weights
/// renormalised); `None` when none has.
pub fn score(v: &Values) -> Option<f64> {
    let parts = [
        (Kpi::OnTimeRepairRate, 0.3, 1.0, 0.0),
        (Kpi::FirstVisitOnTimeRate, 0.2, 1.0, 0.0),
        (Kpi::FirstTimeFixRate, 0.2, 1.0, 0.0),
        (Kpi::SatisfactionMean, 0.2, 4.0, 1.0),
        (Kpi::FollowUpWithin3dRate, 0.1, 1.0, 0.0),
    ];
    let (mut sum, mut weight) = (0.0, 0.0);
    for (k, w, scale, offset) in parts {
        if let Some(Some(x)) = v.get(&k) {
            sum += w * (x - offset) / scale;
            weight += w;
        }
    }
    (weight > 0.0).then(|| sum / weight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basic::{Adcode, LatLon};
    use crate::dispatch::model::{
        Customer, CustomerDraft, Damage, ItemCondition, JobCode, JobId, RequestKind,
    };
    use crate::dispatch::state::JobState;
    use crate::dispatch::warranty::{self, WarrantyInput};
    use crate::dispatch::Policy;
    use crate::network::Product;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn job(
        kind: JobKind,
        created: &str,
        due: &str,
        fv_due: Option<&str>,
        booked: Option<&str>,
    ) -> Job {
        let input = WarrantyInput {
            purchase_date: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            request: RequestKind::QualityProblem,
            damage: Damage::None,
            item: ItemCondition::default(),
        };
        Job {
            id: JobId(1),
            code: JobCode::from_random(1),
            kind,
            state: JobState::initial(kind),
            version: 1,
            region: Some(Region::Southwest),
            division_adcode: Some(Adcode::parse("510703").unwrap()),
            station_id: None,
            technician_id: None,
            booked_day: booked.map(|d| d.parse().unwrap()),
            slot_period: None,
            distance_m: None,
            eta_minutes: None,
            customer: Customer::try_from(CustomerDraft {
                name: "王芳".into(),
                phone: "13800001234".into(),
                tier: None,
            })
            .unwrap(),
            address: None,
            point: LatLon::new(31.46, 104.75).unwrap(),
            product: Product::Notebook,
            warranty_input: input,
            problem: String::new(),
            warranty: warranty::decide(
                &Policy::embedded().warranty,
                &input,
                t(created).date_naive(),
            )
            .unwrap(),
            due_at: t(due),
            first_visit_due_at: fv_due.map(t),
            created_at: t(created),
            updated_at: t(created),
            idempotency_key: None,
            request_hash: None,
        }
    }

    /// Entries as (instant, event, status entered[, satisfaction]).
    fn history(entries: &[(&str, EventName, JobStatus)]) -> Vec<EventRecord> {
        entries
            .iter()
            .map(|(at, e, s)| EventRecord::new("tok", *e, None, *s, t(at)))
            .collect()
    }

    fn follow_up(at: &str, status: JobStatus, score: u8) -> EventRecord {
        EventRecord::new("customer", EventName::FollowUp, None, status, t(at))
            .with_data(serde_json::json!({"satisfaction": score}))
    }

    fn facts(j: &Job, h: &[EventRecord], now: DateTime<Utc>) -> Facts {
        let lines: Vec<EntryLine> = h.iter().map(EntryLine::from).collect();
        Facts::of(&JobLine::from(j), &lines, now)
    }

    /// Six jobs around the week of Mon 23 – Sun 29 November 2026
    /// (Asia/Shanghai), every KPI's answer worked out by hand below.
    fn week_of_six() -> Vec<Facts> {
        use EventName as E;
        use JobStatus as S;
        let now = t("2026-12-01T00:00:00Z");
        let mut out = Vec::new();
        // J1 on-site: reached after 4 h (due 8 h), repaired the same day, 5 stars, closed.
        let j1 = job(
            JobKind::Onsite,
            "2026-11-23T02:00:00Z",
            "2026-11-30T02:00:00Z",
            Some("2026-11-23T10:00:00Z"),
            Some("2026-11-23"),
        );
        let mut h1 = history(&[
            ("2026-11-23T02:00:00Z", E::Created, S::New),
            ("2026-11-23T02:05:00Z", E::Assign, S::Assigned),
            ("2026-11-23T05:00:00Z", E::EnRoute, S::EnRoute),
            ("2026-11-23T06:00:00Z", E::OnSite, S::OnSite),
            ("2026-11-23T08:00:00Z", E::Repaired, S::Repaired),
        ]);
        h1.push(follow_up("2026-11-24T02:00:00Z", S::Repaired, 5));
        h1.extend(history(&[("2026-11-24T03:00:00Z", E::Closed, S::Closed)]));
        out.push(facts(&j1, &h1, now));
        // J2 on-site: reached after 10 h (late: due 10:00), on hold 24 h
        // after arriving, repaired; 2 stars (a complaint), called back.
        let j2 = job(
            JobKind::Onsite,
            "2026-11-24T02:00:00Z",
            "2026-12-01T02:00:00Z",
            Some("2026-11-24T10:00:00Z"),
            Some("2026-11-24"),
        );
        let mut h2 = history(&[
            ("2026-11-24T02:00:00Z", E::Created, S::New),
            ("2026-11-24T02:05:00Z", E::Assign, S::Assigned),
            ("2026-11-24T11:00:00Z", E::EnRoute, S::EnRoute),
            ("2026-11-24T12:00:00Z", E::OnSite, S::OnSite),
            ("2026-11-24T13:00:00Z", E::Hold, S::OnHold),
            ("2026-11-25T13:00:00Z", E::Resume, S::OnSite),
            ("2026-11-25T14:00:00Z", E::Repaired, S::Repaired),
        ]);
        h2.push(follow_up("2026-11-26T02:00:00Z", S::Repaired, 2));
        h2.extend(history(&[(
            "2026-11-26T06:00:00Z",
            E::Recontacted,
            S::Repaired,
        )]));
        out.push(facts(&j2, &h2, now));
        // J3 carry-in: ready for pickup on the 27th, still waiting at the week's end.
        let j3 = job(
            JobKind::CarryIn,
            "2026-11-25T02:00:00Z",
            "2026-12-02T02:00:00Z",
            None,
            None,
        );
        let h3 = history(&[
            ("2026-11-25T02:00:00Z", E::Created, S::Received),
            ("2026-11-25T03:00:00Z", E::Repairing, S::Repairing),
            ("2026-11-27T02:00:00Z", E::ReadyForPickup, S::ReadyForPickup),
        ]);
        out.push(facts(&j3, &h3, now));
        // J4 on-site: cancelled an hour after opening (before its deadlines).
        let j4 = job(
            JobKind::Onsite,
            "2026-11-26T02:00:00Z",
            "2026-12-03T02:00:00Z",
            Some("2026-11-26T10:00:00Z"),
            Some("2026-11-26"),
        );
        let h4 = history(&[
            ("2026-11-26T02:00:00Z", E::Created, S::New),
            ("2026-11-26T03:00:00Z", E::Cancelled, S::Cancelled),
        ]);
        out.push(facts(&j4, &h4, now));
        // J5 carry-in from the week before: told it would be late, missed
        // its repair deadline on the 24th, picked up on the 28th.
        let j5 = job(
            JobKind::CarryIn,
            "2026-11-17T02:00:00Z",
            "2026-11-24T02:00:00Z",
            None,
            None,
        );
        let h5 = history(&[
            ("2026-11-17T02:00:00Z", E::Created, S::Received),
            ("2026-11-17T03:00:00Z", E::Repairing, S::Repairing),
            ("2026-11-23T00:00:00Z", E::LateNotice, S::Repairing),
            ("2026-11-25T02:00:00Z", E::ReadyForPickup, S::ReadyForPickup),
            ("2026-11-28T02:00:00Z", E::Notified, S::Notified),
            ("2026-11-28T06:00:00Z", E::PickedUp, S::PickedUp),
        ]);
        out.push(facts(&j5, &h5, now));
        // J6 carry-in from early November, mailed back on the 24th.
        let j6 = job(
            JobKind::CarryIn,
            "2026-11-01T02:00:00Z",
            "2026-11-08T02:00:00Z",
            None,
            None,
        );
        let h6 = history(&[
            ("2026-11-01T02:00:00Z", E::Created, S::Received),
            ("2026-11-01T03:00:00Z", E::Repairing, S::Repairing),
            ("2026-11-10T02:00:00Z", E::ReadyForPickup, S::ReadyForPickup),
            ("2026-11-13T02:00:00Z", E::Notified, S::Notified),
            ("2026-11-16T02:00:00Z", E::Notified, S::Notified),
            ("2026-11-24T02:00:00Z", E::MailedBack, S::MailedBack),
        ]);
        out.push(facts(&j6, &h6, now));
        out
    }

    #[test]
    fn every_kpi_on_a_hand_made_week() {
        let facts = week_of_six();
        let tz = chrono_tz::Asia::Shanghai;
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let p = &periods(day("2026-11-23"), day("2026-11-29"), Granularity::None, tz)[0];
        assert_eq!(p.start, t("2026-11-22T16:00:00Z"));
        assert_eq!(p.end, t("2026-11-29T16:00:00Z"));
        let inp = Inputs {
            warning_share: 0.75,
            daily_capacity: 2,
            now: t("2026-12-01T00:00:00Z"),
        };
        let v = compute(facts.iter(), p, &inp);
        let get = |k: Kpi| v[&k];
        // Opened J1-J4; J5 and J6 were opened before the week.
        assert_eq!(get(Kpi::JobsOpened), Some(4.0));
        assert_eq!(get(Kpi::JobsClosed), Some(1.0));
        assert_eq!(get(Kpi::JobsCancelled), Some(1.0));
        assert_eq!(get(Kpi::MailedBack), Some(1.0));
        // Completed in the week: J1, J2 on time (J2's deadline moved by its
        // day on hold), J5 and J6 late.
        assert_eq!(get(Kpi::OnTimeRepairRate), Some(0.5));
        // Followed up within 3 days: J1 and J2 of the four.
        assert_eq!(get(Kpi::FollowUpWithin3dRate), Some(0.5));
        // First visits: J1 after 4 h (on time), J2 after 10 h (late).
        assert_eq!(get(Kpi::FirstVisitOnTimeRate), Some(0.5));
        assert_eq!(get(Kpi::FirstVisitMedianH), Some(4.0));
        assert_eq!(get(Kpi::FirstVisitP90H), Some(10.0));
        // Missed in the week: J2's first visit (10:00 on the 24th) and J5's
        // repair (02:00 on the 24th); J4 was cancelled before its deadline.
        assert_eq!(get(Kpi::SlaBreaches), Some(2.0));
        // J5's customer was told before its deadline.
        assert_eq!(get(Kpi::LateNoticeBeforeDueRate), Some(1.0));
        // Warning points in the week not yet met: J2's first visit (08:00
        // on the 24th). J5's repair warning fell before the week.
        assert_eq!(get(Kpi::SlaWarnings), Some(1.0));
        assert_eq!(get(Kpi::SatisfactionMean), Some(3.5));
        assert_eq!(get(Kpi::SatisfactionCount), Some(2.0));
        assert_eq!(get(Kpi::Complaints), Some(1.0));
        assert_eq!(get(Kpi::ComplaintsRecontacted), Some(1.0));
        // J3 waits for pickup at the week's end; J5 was collected.
        assert_eq!(get(Kpi::PickupBacklog), Some(1.0));
        // On-site repaired: J1 in one go, J2 went on hold after arriving.
        assert_eq!(get(Kpi::FirstTimeFixRate), Some(0.5));
        // Visits booked on the week's days (J4 cancelled): 2 of 2 × 7.
        assert_eq!(get(Kpi::Utilisation), Some(2.0 / 14.0));
        assert_eq!(v.len(), Kpi::ALL.len());
        // Serialised names are the contract's.
        for k in Kpi::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }

    #[test]
    fn days_split_the_same_events_and_an_empty_day_has_no_rates() {
        let facts = week_of_six();
        let tz = chrono_tz::Asia::Shanghai;
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let inp = Inputs {
            warning_share: 0.75,
            daily_capacity: 2,
            now: t("2026-12-01T00:00:00Z"),
        };
        let days = periods(day("2026-11-23"), day("2026-11-29"), Granularity::Day, tz);
        assert_eq!(days.len(), 7);
        let opened: Vec<f64> = days
            .iter()
            .map(|p| compute(facts.iter(), p, &inp)[&Kpi::JobsOpened].unwrap())
            .collect();
        assert_eq!(opened, [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
        // Sunday the 29th: nothing completed, nobody visited.
        let sunday = compute(facts.iter(), &days[6], &inp);
        assert_eq!(sunday[&Kpi::OnTimeRepairRate], None);
        assert_eq!(sunday[&Kpi::FirstVisitMedianH], None);
        assert_eq!(sunday[&Kpi::SatisfactionMean], None);
        // The backlog is a stock: J3 is still waiting on Sunday.
        assert_eq!(sunday[&Kpi::PickupBacklog], Some(1.0));
        // Breaches land on their day: both on Tuesday the 24th.
        let tuesday = compute(facts.iter(), &days[1], &inp);
        assert_eq!(tuesday[&Kpi::SlaBreaches], Some(2.0));
    }

    #[test]
    fn weeks_are_iso_and_months_are_clipped_to_the_range() {
        let tz = chrono_tz::Asia::Shanghai;
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let w = periods(day("2026-11-30"), day("2026-12-14"), Granularity::Week, tz);
        let labels: Vec<_> = w.iter().map(|p| p.label.clone().unwrap()).collect();
        assert_eq!(labels, ["2026-W49", "2026-W50", "2026-W51"]);
        assert_eq!(w[2].days(), 1);
        // 2027-01-01 is a Friday of ISO week 2026-W53.
        let y = periods(day("2026-12-28"), day("2027-01-04"), Granularity::Week, tz);
        let labels: Vec<_> = y.iter().map(|p| p.label.clone().unwrap()).collect();
        assert_eq!(labels, ["2026-W53", "2027-W01"]);
        let m = periods(day("2026-11-15"), day("2026-12-10"), Granularity::Month, tz);
        assert_eq!(
            m.iter()
                .map(|p| (p.label.clone().unwrap(), p.days()))
                .collect::<Vec<_>>(),
            [("2026-11".to_owned(), 16), ("2026-12".to_owned(), 10)]
        );
    }

    #[test]
    fn periods_are_read_as_people_write_them() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            parse_period("2026-W47"),
            Ok((d("2026-11-16"), d("2026-11-22")))
        );
        assert_eq!(
            parse_period("2026-11"),
            Ok((d("2026-11-01"), d("2026-11-30")))
        );
        assert_eq!(
            parse_period("2026-12"),
            Ok((d("2026-12-01"), d("2026-12-31")))
        );
        assert_eq!(
            parse_period("2026-11-23"),
            Ok((d("2026-11-23"), d("2026-11-23")))
        );
        assert_eq!(
            parse_period("2026-11-01..2026-11-07"),
            Ok((d("2026-11-01"), d("2026-11-07")))
        );
        assert!(parse_period("2026-W60").is_err());
        assert!(parse_period("2026-13").is_err());
        assert!(parse_period("last week").is_err());
        assert!(parse_period("2026-11-07..2026-11-01").is_err());
    }

    #[test]
    fn the_composite_renormalises_over_what_is_known() {
        let mut v = Values::new();
        assert_eq!(score(&v), None);
        v.insert(Kpi::OnTimeRepairRate, Some(1.0));
        v.insert(Kpi::SatisfactionMean, Some(3.0));
        // (0.3 × 1 + 0.2 × 0.5) / 0.5
        assert!((score(&v).unwrap() - 0.8).abs() < 1e-12);
    }
}
