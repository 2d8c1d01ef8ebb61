//! SLA clocks: due times from tier and job kind, the clock state at an
//! instant, pauses while the job waits on the customer, and the
//! "tell the customer it will be late" task.
//!
//! Targets (from `policy.json`): an on-site job's first visit (created ->
//! `on_site`) within N *business hours* per tier; every job's repair
//! (created or received -> repair done) within N *calendar days* per tier.
//! Time inside pauses does not count. While a pause is still open the due time
//! is provisional: it assumes the clock restarts now.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::BusinessCalendar;
use super::model::{JobKind, Tier};
use super::policy::Policy;
use super::state::JobStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Only working hours of working days count.
    BusinessHours,
    /// Wall-clock time counts.
    Calendar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaTarget {
    pub clock: Clock,
    pub amount: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaTargets {
    /// On-site only.
    pub first_visit: Option<SlaTarget>,
    pub completion: SlaTarget,
}

pub fn targets(policy: &Policy, tier: Tier, kind: JobKind) -> SlaTargets {
    let t = policy.tier(tier);
    SlaTargets {
        first_visit: (kind == JobKind::Onsite).then(|| SlaTarget {
            clock: Clock::BusinessHours,
            amount: Duration::hours(i64::from(t.onsite_first_visit_business_hours)),
        }),
        completion: SlaTarget {
            clock: Clock::Calendar,
            amount: Duration::days(i64::from(t.repair_completion_days)),
        },
    }
}

/// An interval in which the clock does not run; `end` None = still paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// Pauses from a job's status history (instant each status was entered, in
/// order): every stretch in a [`JobStatus::waits_on_customer`] status.
pub fn pauses_from_history(history: &[(DateTime<Utc>, JobStatus)]) -> Vec<Pause> {
    let mut out = Vec::new();
    let mut open: Option<DateTime<Utc>> = None;
    for &(at, status) in history {
        match (open, status.waits_on_customer()) {
            (None, true) => open = Some(at),
            (Some(start), false) => {
                out.push(Pause {
                    start,
                    end: Some(at),
                });
                open = None;
            }
            _ => {}
        }
    }
    if let Some(start) = open {
        out.push(Pause { start, end: None });
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    OnTrack,
    /// Past the warning share of the target, not yet breached.
    Warning,
    Breached,
    /// Waiting on the customer; the clock is stopped (and not yet breached).
    Paused,
    /// Stopped within the target.
    Met,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct SlaStatus {
    pub state: SlaState,
    pub due_at: DateTime<Utc>,
    /// When the clock reaches the warning share.
    pub warn_at: DateTime<Utc>,
    /// Counted time so far (excluding pauses), seconds.
    pub elapsed_s: i64,
    pub target_s: i64,
}

/// Inputs shared by every evaluation of one clock.
#[derive(Debug, Clone, Copy)]
pub struct SlaClock<'a> {
    pub calendar: &'a BusinessCalendar,
    pub target: SlaTarget,
    pub started_at: DateTime<Utc>,
    pub pauses: &'a [Pause],
    /// When the measured milestone happened (on site, repair done), if it has.
    pub stopped_at: Option<DateTime<Utc>>,
}

impl SlaClock<'_> {
    fn measure(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        if b <= a {
            return Duration::zero();
        }
        match self.target.clock {
            Clock::BusinessHours => self.calendar.business_time_between(a, b),
            Clock::Calendar => b - a,
        }
    }

    fn advance(&self, from: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        match self.target.clock {
            Clock::BusinessHours => self.calendar.add_business_time(from, amount),
            Clock::Calendar => from + amount,
        }
    }

    /// Sorted, merged pauses clipped to start at `started_at`; an open pause
    /// ends at `now`.
    fn merged(&self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut v: Vec<_> = self
            .pauses
            .iter()
            .map(|p| {
                (
                    p.start.max(self.started_at),
                    p.end.unwrap_or(now).max(p.start),
                )
            })
            .filter(|(a, b)| a < b)
            .collect();
        v.sort();
        let mut out: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match out.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        out
    }

    /// Counted time from the start to `t`.
    pub fn elapsed_at(&self, t: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
        let mut total = self.measure(self.started_at, t);
        for (a, b) in self.merged(now) {
            total -= self.measure(a, b.min(t));
        }
        total
    }

    /// The instant the counted time reaches `amount`.
    pub fn instant_at(&self, amount: Duration, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut cursor = self.started_at;
        let mut left = amount;
        for (a, b) in self.merged(now) {
            let run = self.measure(cursor, a);
            if run >= left {
                break;
            }
            left -= run;
            cursor = cursor.max(b);
        }
        self.advance(cursor, left)
    }

    pub fn status(&self, now: DateTime<Utc>, warning_share: f64) -> SlaStatus {
        let target_s = self.target.amount.num_seconds();
        let warn = Duration::seconds((target_s as f64 * warning_share).round() as i64);
        let end = self.stopped_at.map_or(now, |s| s.min(now));
        let elapsed = self.elapsed_at(end, now);
        let paused = self.stopped_at.is_none()
            && self
                .pauses
                .iter()
                .any(|p| p.start <= now && p.end.is_none_or(|e| e > now));
        let state = if elapsed > self.target.amount {
            SlaState::Breached
        } else if self.stopped_at.is_some_and(|s| s <= now) {
            SlaState::Met
        } else if paused {
            SlaState::Paused
        } else if elapsed >= warn {
            SlaState::Warning
        } else {
            SlaState::OnTrack
        };
        SlaStatus {
            state,
            due_at: self.instant_at(self.target.amount, now),
            warn_at: self.instant_at(warn, now),
            elapsed_s: elapsed.num_seconds(),
            target_s,
        }
    }
}

/// A task for the station: call the customer and say the repair will be late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct NotifyCustomerTask {
    /// When the task appears: the notify share of the completion target.
    pub raise_at: DateTime<Utc>,
    /// The customer must be told before the repair is due.
    pub deadline: DateTime<Utc>,
    /// Whether it is already time to raise it.
    pub raised: bool,
}

/// The notify-customer task for a repair-completion clock: raised at
/// `notify_share` of the target (counted time) if the repair is not done by
/// then; None when the repair finished before that point.
pub fn notify_customer_task(
    clock: &SlaClock<'_>,
    notify_share: f64,
    now: DateTime<Utc>,
) -> Option<NotifyCustomerTask> {
    let share =
        Duration::seconds((clock.target.amount.num_seconds() as f64 * notify_share).round() as i64);
    let raise_at = clock.instant_at(share, now);
    if clock.stopped_at.is_some_and(|s| s < raise_at) {
        return None;
    }
    Some(NotifyCustomerTask {
        raise_at,
        deadline: clock.instant_at(clock.target.amount, now),
        raised: now >= raise_at && clock.stopped_at.is_none_or(|s| s >= raise_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        chrono_tz::Asia::Shanghai
            .from_local_datetime(&naive)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn targets_by_tier_and_kind() {
        let p = Policy::embedded();
        let std = targets(&p, Tier::Standard, JobKind::Onsite);
        let vip = targets(&p, Tier::Vip, JobKind::Onsite);
        assert_eq!(std.completion.amount, Duration::days(7));
        assert_eq!(std.first_visit.unwrap().clock, Clock::BusinessHours);
        assert!(vip.first_visit.unwrap().amount < std.first_visit.unwrap().amount);
        assert!(targets(&p, Tier::Standard, JobKind::CarryIn)
            .first_visit
            .is_none());
    }

    #[test]
    fn first_visit_in_business_hours_over_a_weekend() {
        let cal = BusinessCalendar::china_default();
        let target = targets(&Policy::embedded(), Tier::Standard, JobKind::Onsite)
            .first_visit
            .unwrap();
        // Friday 2026-11-27 15:00 + 16 business hours: 3h Fri, 9h Mon, 4h Tue.
        let clock = SlaClock {
            calendar: &cal,
            target,
            started_at: t("2026-11-27 15:00"),
            pauses: &[],
            stopped_at: None,
        };
        let s = clock.status(t("2026-11-28 12:00"), 0.75);
        assert_eq!(s.due_at, t("2026-12-01 13:00"));
        assert_eq!(s.state, SlaState::OnTrack);
        assert_eq!(s.elapsed_s, 3 * 3600, "Saturday does not count");
        // 75% of 16h = 12h -> Monday 18:00.
        assert_eq!(s.warn_at, t("2026-11-30 18:00"));
        assert_eq!(
            clock.status(t("2026-12-01 09:30"), 0.75).state,
            SlaState::Warning
        );
        assert_eq!(
            clock.status(t("2026-12-01 13:01"), 0.75).state,
            SlaState::Breached
        );
        let met = SlaClock {
            stopped_at: Some(t("2026-12-01 12:59")),
            ..clock
        };
        assert_eq!(met.status(t("2026-12-05 00:00"), 0.75).state, SlaState::Met);
    }

    #[test]
    fn pauses_extend_the_due_time_and_show_as_paused() {
        let cal = BusinessCalendar::china_default();
        let target = targets(&Policy::embedded(), Tier::Standard, JobKind::CarryIn).completion;
        let start = t("2026-11-02 10:00");
        let history = [
            (start, JobStatus::Received),
            (t("2026-11-03 10:00"), JobStatus::OnHold),
            (t("2026-11-05 10:00"), JobStatus::Repairing),
            (t("2026-11-06 10:00"), JobStatus::OnHold),
        ];
        let pauses = pauses_from_history(&history);
        assert_eq!(pauses.len(), 2);
        assert_eq!(pauses[1].end, None);
        let clock = SlaClock {
            calendar: &cal,
            target,
            started_at: start,
            pauses: &pauses,
            stopped_at: None,
        };
        let now = t("2026-11-07 10:00");
        let s = clock.status(now, 0.75);
        assert_eq!(s.state, SlaState::Paused);
        // Counted: 1 day + 1 day = 2 days.
        assert_eq!(s.elapsed_s, 2 * 86_400);
        // Provisional due: 5 more days from now.
        assert_eq!(s.due_at, t("2026-11-12 10:00"));
        // After resuming on the 8th, due = 8th + 5 days.
        let mut closed = pauses.clone();
        closed[1].end = Some(t("2026-11-08 10:00"));
        let clock = SlaClock {
            pauses: &closed,
            ..clock
        };
        let s = clock.status(t("2026-11-09 10:00"), 0.75);
        assert_eq!(s.due_at, t("2026-11-13 10:00"));
        assert_eq!(s.state, SlaState::OnTrack);
        assert_eq!(
            clock.status(t("2026-11-12 10:00"), 0.75).state,
            SlaState::Warning
        );
        assert_eq!(
            clock.status(t("2026-11-13 10:01"), 0.75).state,
            SlaState::Breached
        );
    }

    #[test]
    fn notify_customer_before_a_late_repair() {
        let cal = BusinessCalendar::china_default();
        let target = targets(&Policy::embedded(), Tier::Standard, JobKind::Onsite).completion;
        let start = t("2026-11-02 10:00");
        let clock = SlaClock {
            calendar: &cal,
            target,
            started_at: start,
            pauses: &[],
            stopped_at: None,
        };
        // 75% of 7 days = 5.25 days -> Nov 7 16:00.
        let task = notify_customer_task(&clock, 0.75, t("2026-11-04 10:00")).unwrap();
        assert_eq!(task.raise_at, t("2026-11-07 16:00"));
        assert_eq!(task.deadline, t("2026-11-09 10:00"));
        assert!(!task.raised);
        assert!(
            notify_customer_task(&clock, 0.75, t("2026-11-07 16:00"))
                .unwrap()
                .raised
        );
        // Repaired on day 3: no task at all.
        let done = SlaClock {
            stopped_at: Some(t("2026-11-05 10:00")),
            ..clock
        };
        assert_eq!(
            notify_customer_task(&done, 0.75, t("2026-11-08 10:00")),
            None
        );
    }
}
