//! The job state machine.
//!
//! On-site: `new -assign-> assigned -en_route-> en_route -on_site-> on_site
//! -repaired-> repaired -closed-> closed`. Carry-in: `received -repairing->
//! repairing -ready_for_pickup-> ready_for_pickup -notified-> notified (the
//! notice count, 1..=3, is part of the state) -picked_up | mailed_back->
//! picked_up | mailed_back -closed-> closed`.
//!
//! Decisions made here:
//! * `on_hold` (waiting on the customer: unreachable, away, deciding on a
//!   quote) can be entered from assigned, en_route, on_site and repairing with
//!   `hold`, and `resume` returns to the state it came from. It is the only
//!   state in which SLA clocks pause ([`JobStatus::waits_on_customer`]).
//!   After the repair, waiting for pickup is not an SLA pause: the repair
//!   clock has already stopped at `ready_for_pickup`.
//! * `ready_for_pickup` is the first notice (the ready message); a
//!   `notified` (notices 2 and 3) needs 3 days since the previous notice; `mailed_back`
//!   needs the third notice and 3 days after it; `picked_up` is allowed any
//!   time after the item is ready.
//! * `cancelled` is allowed from every open state (before the work is done).
//!   `repaired`, `picked_up` and `mailed_back` are *completed*: they can only be
//!   closed. `closed` and `cancelled` are final.
//! * Follow-up is an annotation, not a state, so it cannot disturb the flow:
//!   once per job, with satisfaction 1-5, allowed in a completed state or
//!   `closed`, within 3 days (72 hours, inclusive) of the completion instant
//!   (`repaired` for on-site, `picked_up`/`mailed_back` for carry-in).
//! * Assigning a job that already has a technician is a transfer and needs a
//!   reason; a transfer is allowed from assigned and en_route (back to assigned).

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::JobKind;
use super::policy::Policy;
use crate::basic::{string_enum, FieldError};

string_enum!(
    /// Where a job is in its flow; stored as text.
    JobStatus {
        New => "new",
        Assigned => "assigned",
        EnRoute => "en_route",
        OnSite => "on_site",
        Repaired => "repaired",
        Received => "received",
        Repairing => "repairing",
        ReadyForPickup => "ready_for_pickup",
        Notified => "notified",
        PickedUp => "picked_up",
        MailedBack => "mailed_back",
        OnHold => "on_hold",
        Closed => "closed",
        Cancelled => "cancelled",
    }
);

impl JobStatus {
    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Closed | JobStatus::Cancelled)
    }
    /// The work is done (repair finished and, for carry-in, item handed back).
    pub fn is_completed(self) -> bool {
        matches!(
            self,
            JobStatus::Repaired | JobStatus::PickedUp | JobStatus::MailedBack
        )
    }
    /// Open = neither completed nor final; the job still needs work.
    pub fn is_open(self) -> bool {
        !self.is_final() && !self.is_completed()
    }
    /// Whether a job of `kind` can be in this state at all.
    pub fn valid_for(self, kind: JobKind) -> bool {
        use JobStatus as S;
        match self {
            S::OnHold | S::Closed | S::Cancelled => true,
            S::New | S::Assigned | S::EnRoute | S::OnSite | S::Repaired => kind == JobKind::Onsite,
            _ => kind == JobKind::CarryIn,
        }
    }
    /// SLA clocks pause in these states.
    pub fn waits_on_customer(self) -> bool {
        self == JobStatus::OnHold
    }
    /// The repair itself is finished (the repair-completion clock stops here).
    pub fn repair_done(self) -> bool {
        matches!(
            self,
            JobStatus::Repaired
                | JobStatus::ReadyForPickup
                | JobStatus::Notified
                | JobStatus::PickedUp
                | JobStatus::MailedBack
        )
    }
}

/// Satisfaction score 1..=5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(transparent)]
pub struct Satisfaction(u8);

impl Satisfaction {
    pub fn new(v: i64) -> Result<Self, FieldError> {
        if (1..=5).contains(&v) {
            Ok(Self(v as u8))
        } else {
            Err(FieldError::new(
                "satisfaction",
                format!("satisfaction must be 1-5, got {v}"),
            ))
        }
    }
    pub fn value(self) -> u8 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Satisfaction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Satisfaction::new(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Everything the machine needs to decide a transition; one row of the jobs
/// table can hold it (status text, notices, three timestamps, score).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobState {
    pub kind: JobKind,
    pub status: JobStatus,
    /// Whether a technician is assigned (makes a new assignment a transfer).
    pub has_technician: bool,
    /// Pickup notices sent so far (carry-in).
    pub notices: u8,
    pub last_notice_at: Option<DateTime<Utc>>,
    /// The state `resume` returns to while `on_hold`.
    pub held_from: Option<JobStatus>,
    pub completed_at: Option<DateTime<Utc>>,
    pub satisfaction: Option<Satisfaction>,
}

impl JobState {
    /// The first state of a new job: `new` on-site, `received` carry-in.
    pub fn initial(kind: JobKind) -> Self {
        Self {
            kind,
            status: match kind {
                JobKind::Onsite => JobStatus::New,
                JobKind::CarryIn => JobStatus::Received,
            },
            has_technician: false,
            notices: 0,
            last_notice_at: None,
            held_from: None,
            completed_at: None,
            satisfaction: None,
        }
    }
}

/// An event posted to a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JobEvent {
    /// Assignment or transfer (the `assign` endpoint).
    Assign {
        reason: Option<String>,
    },
    EnRoute,
    OnSite,
    Repaired,
    Repairing,
    ReadyForPickup,
    Notified,
    PickedUp,
    MailedBack,
    Hold {
        reason: Option<String>,
    },
    Resume,
    Closed,
    Cancelled {
        reason: Option<String>,
    },
    FollowUp {
        satisfaction: Satisfaction,
    },
}

impl JobEvent {
    pub fn name(&self) -> &'static str {
        match self {
            JobEvent::Assign { .. } => "assign",
            JobEvent::EnRoute => "en_route",
            JobEvent::OnSite => "on_site",
            JobEvent::Repaired => "repaired",
            JobEvent::Repairing => "repairing",
            JobEvent::ReadyForPickup => "ready_for_pickup",
            JobEvent::Notified => "notified",
            JobEvent::PickedUp => "picked_up",
            JobEvent::MailedBack => "mailed_back",
            JobEvent::Hold { .. } => "hold",
            JobEvent::Resume => "resume",
            JobEvent::Closed => "closed",
            JobEvent::Cancelled { .. } => "cancelled",
            JobEvent::FollowUp { .. } => "follow_up",
        }
    }
}

/// Timing rules of the flow (from `policy.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRules {
    pub notice_interval: Duration,
    pub max_notices: u8,
    pub follow_up_window: Duration,
}

impl Default for FlowRules {
    fn default() -> Self {
        Self {
            notice_interval: Duration::days(3),
            max_notices: 3,
            follow_up_window: Duration::days(3),
        }
    }
}

impl FlowRules {
    pub fn from_policy(p: &Policy) -> Self {
        Self {
            notice_interval: Duration::days(i64::from(p.carry_in.notice_interval_days)),
            max_notices: p.carry_in.max_notices,
            follow_up_window: Duration::days(i64::from(p.follow_up_window_days)),
        }
    }
}

/// The result of an accepted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: JobStatus,
    pub state: JobState,
    /// Whether this event completed the work (sets `completed_at`).
    pub completed: bool,
}

/// A rejected event; every variant names the state and the event so the
/// HTTP layer can answer 409 with a clear message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("event {event} is not allowed for a {kind} job in state {from}")]
    NotAllowed {
        from: JobStatus,
        kind: JobKind,
        event: &'static str,
    },
    #[error("event {event} in state {from} is too early: allowed from {}", local(.earliest))]
    TooEarly {
        from: JobStatus,
        event: &'static str,
        earliest: DateTime<Utc>,
    },
    #[error("event {event} in state {from}: {needed}")]
    NeedsMore {
        from: JobStatus,
        event: &'static str,
        needed: String,
    },
    #[error("follow_up in state {from}: the follow-up window closed at {}", local(.closed_at))]
    FollowUpWindowClosed {
        from: JobStatus,
        closed_at: DateTime<Utc>,
    },
    #[error("follow_up in state {from}: the follow-up was already recorded")]
    FollowUpRecorded { from: JobStatus },
}

/// An instant as people here read it: Asia/Shanghai, to the minute.
fn local(t: &DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d %H:%M (UTC+8)")
        .to_string()
}

impl TransitionError {
    /// A stable snake_case code for the API error body.
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::NotAllowed { .. } => "transition_not_allowed",
            TransitionError::TooEarly { .. } => "transition_too_early",
            TransitionError::NeedsMore { .. } => "transition_needs_more",
            TransitionError::FollowUpWindowClosed { .. } => "follow_up_window_closed",
            TransitionError::FollowUpRecorded { .. } => "follow_up_already_recorded",
        }
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.from, self.state.status)
    }
}

/// [`apply_with`] under the default rules (3 days, 3 notices, 3 days).
pub fn apply(
    state: &JobState,
    event: &JobEvent,
    now: DateTime<Utc>,
) -> Result<Transition, TransitionError> {
    apply_with(&FlowRules::default(), state, event, now)
}

pub fn apply_with(
    rules: &FlowRules,
    state: &JobState,
    event: &JobEvent,
    now: DateTime<Utc>,
) -> Result<Transition, TransitionError> {
    use JobStatus as S;
    let from = state.status;
    let name = event.name();
    let not_allowed = || TransitionError::NotAllowed {
        from,
        kind: state.kind,
        event: name,
    };
    let mut next = state.clone();
    let onsite = state.kind == JobKind::Onsite;
    if !from.valid_for(state.kind) {
        return Err(not_allowed());
    }
    let blank = |r: &Option<String>| r.as_deref().map_or("", str::trim).is_empty();
    let status = match (event, from) {
        (JobEvent::Assign { .. }, S::New) if onsite => {
            next.has_technician = true;
            S::Assigned
        }
        (JobEvent::Assign { reason }, S::Assigned | S::EnRoute) if onsite => {
            if blank(reason) {
                return Err(TransitionError::NeedsMore {
                    from,
                    event: name,
                    needed: "a transfer needs a reason".into(),
                });
            }
            S::Assigned
        }
        (JobEvent::EnRoute, S::Assigned) => S::EnRoute,
        (JobEvent::OnSite, S::EnRoute) => S::OnSite,
        (JobEvent::Repaired, S::OnSite) => S::Repaired,
        (JobEvent::Repairing, S::Received) => S::Repairing,
        (JobEvent::ReadyForPickup, S::Repairing) => {
            // The ready message is the first notice.
            next.notices = 1;
            next.last_notice_at = Some(now);
            S::ReadyForPickup
        }
        (JobEvent::Notified, S::ReadyForPickup | S::Notified) => {
            if state.notices >= rules.max_notices {
                return Err(TransitionError::NeedsMore {
                    from,
                    event: name,
                    needed: format!(
                        "all {} notices were sent; mail the item back",
                        rules.max_notices
                    ),
                });
            }
            if let Some(last) = state.last_notice_at {
                let earliest = last + rules.notice_interval;
                if now < earliest {
                    return Err(TransitionError::TooEarly {
                        from,
                        event: name,
                        earliest,
                    });
                }
            }
            next.notices = state.notices + 1;
            next.last_notice_at = Some(now);
            S::Notified
        }
        (JobEvent::PickedUp, S::ReadyForPickup | S::Notified) => S::PickedUp,
        (JobEvent::MailedBack, S::ReadyForPickup | S::Notified) => {
            let Some(last) = state
                .last_notice_at
                .filter(|_| state.notices >= rules.max_notices)
            else {
                return Err(TransitionError::NeedsMore {
                    from,
                    event: name,
                    needed: format!(
                        "mail-back needs {} unanswered notices, {} sent",
                        rules.max_notices, state.notices
                    ),
                });
            };
            let earliest = last + rules.notice_interval;
            if now < earliest {
                return Err(TransitionError::TooEarly {
                    from,
                    event: name,
                    earliest,
                });
            }
            S::MailedBack
        }
        (JobEvent::Hold { .. }, S::Assigned | S::EnRoute | S::OnSite | S::Repairing) => {
            next.held_from = Some(from);
            S::OnHold
        }
        (JobEvent::Resume, S::OnHold) => next.held_from.take().ok_or_else(not_allowed)?,
        (JobEvent::Closed, s) if s.is_completed() => S::Closed,
        (JobEvent::Cancelled { .. }, s) if s.is_open() => {
            next.held_from = None;
            S::Cancelled
        }
        (JobEvent::FollowUp { satisfaction }, s) if s.is_completed() || s == S::Closed => {
            if state.satisfaction.is_some() {
                return Err(TransitionError::FollowUpRecorded { from });
            }
            let done = state.completed_at.ok_or_else(not_allowed)?;
            let closes = done + rules.follow_up_window;
            if now > closes {
                return Err(TransitionError::FollowUpWindowClosed {
                    from,
                    closed_at: closes,
                });
            }
            next.satisfaction = Some(*satisfaction);
            from
        }
        _ => return Err(not_allowed()),
    };
    next.status = status;
    let completed = status.is_completed() && !from.is_completed();
    if completed {
        next.completed_at = Some(now);
    }
    Ok(Transition {
        from,
        state: next,
        completed,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-11-23T02:00:00Z".parse().unwrap()
    }

    pub(crate) fn all_events() -> Vec<JobEvent> {
        vec![
            JobEvent::Assign {
                reason: Some("closer".into()),
            },
            JobEvent::EnRoute,
            JobEvent::OnSite,
            JobEvent::Repaired,
            JobEvent::Repairing,
            JobEvent::ReadyForPickup,
            JobEvent::Notified,
            JobEvent::PickedUp,
            JobEvent::MailedBack,
            JobEvent::Hold { reason: None },
            JobEvent::Resume,
            JobEvent::Closed,
            JobEvent::Cancelled { reason: None },
            JobEvent::FollowUp {
                satisfaction: Satisfaction::new(5).unwrap(),
            },
        ]
    }

    fn state(kind: JobKind, status: JobStatus) -> JobState {
        let mut s = JobState::initial(kind);
        s.status = status;
        s.has_technician = !matches!(status, JobStatus::New);
        if status == JobStatus::OnHold {
            s.held_from = Some(if kind == JobKind::Onsite {
                JobStatus::OnSite
            } else {
                JobStatus::Repairing
            });
        }
        if status == JobStatus::Notified {
            s.notices = 3;
            s.last_notice_at = Some(t0() - Duration::days(10));
        }
        if status.is_completed() || status == JobStatus::Closed {
            s.completed_at = Some(t0() - Duration::hours(1));
        }
        s
    }

    /// The full allowed-transition table, (kind, from, event) -> to; every
    /// other combination must be rejected.
    #[test]
    fn exhaustive_transition_table() {
        use JobKind::*;
        use JobStatus as S;
        let allowed: &[(JobKind, S, &str, S)] = &[
            (Onsite, S::New, "assign", S::Assigned),
            (Onsite, S::Assigned, "assign", S::Assigned),
            (Onsite, S::EnRoute, "assign", S::Assigned),
            (Onsite, S::Assigned, "en_route", S::EnRoute),
            (Onsite, S::EnRoute, "on_site", S::OnSite),
            (Onsite, S::OnSite, "repaired", S::Repaired),
            (CarryIn, S::Received, "repairing", S::Repairing),
            (CarryIn, S::Repairing, "ready_for_pickup", S::ReadyForPickup),
            (CarryIn, S::ReadyForPickup, "notified", S::Notified),
            (CarryIn, S::ReadyForPickup, "picked_up", S::PickedUp),
            (CarryIn, S::Notified, "picked_up", S::PickedUp),
            (CarryIn, S::Notified, "mailed_back", S::MailedBack),
            (Onsite, S::Assigned, "hold", S::OnHold),
            (Onsite, S::EnRoute, "hold", S::OnHold),
            (Onsite, S::OnSite, "hold", S::OnHold),
            (CarryIn, S::Repairing, "hold", S::OnHold),
            (Onsite, S::OnHold, "resume", S::OnSite),
            (CarryIn, S::OnHold, "resume", S::Repairing),
            (Onsite, S::Repaired, "closed", S::Closed),
            (CarryIn, S::PickedUp, "closed", S::Closed),
            (CarryIn, S::MailedBack, "closed", S::Closed),
            (Onsite, S::Repaired, "follow_up", S::Repaired),
            (Onsite, S::Closed, "follow_up", S::Closed),
            (CarryIn, S::PickedUp, "follow_up", S::PickedUp),
            (CarryIn, S::MailedBack, "follow_up", S::MailedBack),
            (CarryIn, S::Closed, "follow_up", S::Closed),
        ];
        let mut accepted = 0;
        for kind in [Onsite, CarryIn] {
            for &from in S::ALL {
                for ev in all_events() {
                    let got = apply(&state(kind, from), &ev, t0());
                    let cancel_ok =
                        ev.name() == "cancelled" && from.is_open() && from.valid_for(kind);
                    let want = allowed
                        .iter()
                        .find(|(k, f, e, _)| *k == kind && *f == from && *e == ev.name())
                        .map(|x| x.3)
                        .or(cancel_ok.then_some(S::Cancelled));
                    // States that cannot occur for a kind still answer sanely.
                    match (got, want) {
                        (Ok(tr), Some(to)) => {
                            assert_eq!(tr.state.status, to, "{kind} {from} {}", ev.name());
                            assert_eq!(tr.from, from);
                            accepted += 1;
                        }
                        (Err(e), None) => {
                            let msg = e.to_string();
                            assert!(
                                msg.contains(from.as_str()) && msg.contains(ev.name()),
                                "{msg}"
                            );
                        }
                        (got, want) => {
                            panic!("{kind} {from} {}: got {got:?}, want {want:?}", ev.name())
                        }
                    }
                }
            }
        }
        // Cancellation from open states of both kinds is part of the count.
        assert!(accepted > allowed.len());
    }

    #[test]
    fn onsite_happy_path_sets_completion_and_follow_up_once() {
        let mut s = JobState::initial(JobKind::Onsite);
        let mut now = t0();
        for ev in [
            JobEvent::Assign { reason: None },
            JobEvent::EnRoute,
            JobEvent::OnSite,
            JobEvent::Repaired,
        ] {
            now += Duration::hours(1);
            s = apply(&s, &ev, now).unwrap().state;
        }
        assert_eq!(s.completed_at, Some(now));
        let fu = JobEvent::FollowUp {
            satisfaction: Satisfaction::new(4).unwrap(),
        };
        // Exactly at the 72-hour mark is still inside the window.
        let s2 = apply(&s, &fu, now + Duration::days(3)).unwrap().state;
        assert_eq!(s2.satisfaction.unwrap().value(), 4);
        assert!(matches!(
            apply(&s2, &fu, now),
            Err(TransitionError::FollowUpRecorded { .. })
        ));
        assert!(matches!(
            apply(&s, &fu, now + Duration::days(3) + Duration::seconds(1)),
            Err(TransitionError::FollowUpWindowClosed { .. })
        ));
        let closed = apply(&s, &JobEvent::Closed, now).unwrap().state;
        assert_eq!(
            closed.completed_at,
            Some(now),
            "closing keeps the completion time"
        );
        assert!(apply(&closed, &JobEvent::Cancelled { reason: None }, now).is_err());
        assert!(Satisfaction::new(0).is_err() && Satisfaction::new(6).is_err());
    }

    #[test]
    fn transfer_needs_reason() {
        let s = state(JobKind::Onsite, JobStatus::Assigned);
        let e = apply(
            &s,
            &JobEvent::Assign {
                reason: Some("  ".into()),
            },
            t0(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "transition_needs_more");
        assert!(apply(
            &s,
            &JobEvent::Assign {
                reason: Some("sick".into())
            },
            t0()
        )
        .is_ok());
        // Carry-in jobs are not dispatched.
        let c = JobState::initial(JobKind::CarryIn);
        assert!(apply(&c, &JobEvent::Assign { reason: None }, t0()).is_err());
    }

    #[test]
    fn carry_in_notices_are_spaced_and_mail_back_waits() {
        let mut s = JobState::initial(JobKind::CarryIn);
        let mut now = t0();
        s = apply(&s, &JobEvent::Repairing, now).unwrap().state;
        s = apply(&s, &JobEvent::ReadyForPickup, now).unwrap().state;
        // The ready message is notice 1; mail-back needs all three.
        assert_eq!((s.status, s.notices), (JobStatus::ReadyForPickup, 1));
        assert_eq!(
            apply(&s, &JobEvent::MailedBack, now).unwrap_err().code(),
            "transition_needs_more"
        );
        // Second notice 1 second short of 3 days: too early, names the instant.
        let early = apply(
            &s,
            &JobEvent::Notified,
            now + Duration::days(3) - Duration::seconds(1),
        )
        .unwrap_err();
        assert_eq!(
            early,
            TransitionError::TooEarly {
                from: JobStatus::ReadyForPickup,
                event: "notified",
                earliest: now + Duration::days(3)
            }
        );
        // People read the instant in Shanghai time, to the minute.
        let shown = (now + Duration::days(3))
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .format("%Y-%m-%d %H:%M (UTC+8)")
            .to_string();
        assert!(
            early
                .to_string()
                .ends_with(&format!("allowed from {shown}")),
            "{early}"
        );
        for n in 2..=3 {
            now += Duration::days(3);
            s = apply(&s, &JobEvent::Notified, now).unwrap().state;
            assert_eq!(s.notices, n);
        }
        // A fourth notice is refused; mail-back only 3 days after the third.
        assert!(apply(&s, &JobEvent::Notified, now + Duration::days(9)).is_err());
        assert_eq!(
            apply(&s, &JobEvent::MailedBack, now + Duration::days(2))
                .unwrap_err()
                .code(),
            "transition_too_early"
        );
        let done = apply(&s, &JobEvent::MailedBack, now + Duration::days(3)).unwrap();
        assert!(done.completed);
        assert_eq!(done.state.status, JobStatus::MailedBack);
        // Picking up in between is always fine.
        assert_eq!(
            apply(&s, &JobEvent::PickedUp, now).unwrap().state.status,
            JobStatus::PickedUp
        );
    }

    #[test]
    fn hold_and_resume_round_trip_and_waiting_states() {
        let s = state(JobKind::Onsite, JobStatus::EnRoute);
        let held = apply(
            &s,
            &JobEvent::Hold {
                reason: Some("客户不在家".into()),
            },
            t0(),
        )
        .unwrap()
        .state;
        assert!(held.status.waits_on_customer());
        assert_eq!(held.held_from, Some(JobStatus::EnRoute));
        let back = apply(&held, &JobEvent::Resume, t0()).unwrap().state;
        assert_eq!((back.status, back.held_from), (JobStatus::EnRoute, None));
        let cancelled = apply(&held, &JobEvent::Cancelled { reason: None }, t0())
            .unwrap()
            .state;
        assert_eq!(
            (cancelled.status, cancelled.held_from),
            (JobStatus::Cancelled, None)
        );
        let waiting: Vec<_> = JobStatus::ALL
            .iter()
            .filter(|s| s.waits_on_customer())
            .collect();
        assert_eq!(waiting, [&JobStatus::OnHold]);
    }
}
