//! A repair job as the domain holds it, its audit log entries and the
//! change records every committed write returns. The store builds these
//! from rows; an unknown status, kind or tier in a row is an error there.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::intake::Period;
use super::model::{Customer, JobCode, JobId, JobKind, TechnicianId};
use super::state::{JobState, JobStatus};
use super::warranty::{WarrantyDecision, WarrantyInput};
use crate::basic::{string_enum, Adcode, LatLon};
use crate::network::{Product, StationId};
use crate::places::Region;

/// A stored repair job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub code: JobCode,
    pub kind: JobKind,
    /// The state machine's state; `state.status` is the job's status.
    pub state: JobState,
    /// Bumped by every write; a write names the version it read.
    pub version: i64,
    pub region: Option<Region>,
    pub division_adcode: Option<Adcode>,
    /// Carry-in: the receiving station; on-site: the technician's station.
    pub station_id: Option<StationId>,
    pub technician_id: Option<TechnicianId>,
    pub booked_day: Option<NaiveDate>,
    pub slot_period: Option<Period>,
    pub distance_m: Option<f64>,
    pub eta_minutes: Option<i64>,
    pub customer: Customer,
    pub address: Option<String>,
    pub point: LatLon,
    pub product: Product,
    pub warranty_input: WarrantyInput,
    pub problem: String,
    pub warranty: WarrantyDecision,
    pub due_at: DateTime<Utc>,
    pub first_visit_due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub idempotency_key: Option<String>,
    /// SHA-256 of the request that created the job (idempotent replays).
    pub request_hash: Option<String>,
}

impl Job {
    pub fn status(&self) -> JobStatus {
        self.state.status
    }
}

string_enum!(
    /// What an audit-log entry records.
    EventName {
        Created => "created",
        Assign => "assign",
        Transfer => "transfer",
        EnRoute => "en_route",
        OnSite => "on_site",
        Repaired => "repaired",
        Repairing => "repairing",
        ReadyForPickup => "ready_for_pickup",
        Notified => "notified",
        PickedUp => "picked_up",
        MailedBack => "mailed_back",
        Hold => "hold",
        Resume => "resume",
        Closed => "closed",
        Cancelled => "cancelled",
        FollowUp => "follow_up",
        Rescheduled => "rescheduled",
        Corrected => "corrected",
        /// The customer was told the repair will be late (by the server).
        LateNotice => "late_notice",
        /// Someone called back a customer who complained.
        Recontacted => "recontacted",
    }
);

/// One audit-log entry of a job.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventRecord {
    /// Position in the database-wide change sequence (0 before it is written).
    pub seq: i64,
    #[serde(skip)]
    pub job_id: JobId,
    pub at: DateTime<Utc>,
    /// Token id of whoever posted it (`system` for the server's own).
    pub actor: String,
    pub event: EventName,
    pub from_status: Option<JobStatus>,
    pub to_status: JobStatus,
    pub reason: Option<String>,
    /// Event details, always a JSON object.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Map<String, Value>>,
}

impl EventRecord {
    /// A new entry, not yet written.
    pub fn new(
        actor: &str,
        event: EventName,
        from_status: Option<JobStatus>,
        to_status: JobStatus,
        at: DateTime<Utc>,
    ) -> Self {
        EventRecord {
            seq: 0,
            job_id: JobId(0),
            at,
            actor: actor.to_owned(),
            event,
            from_status,
            to_status,
            reason: None,
            data: None,
        }
    }

    #[must_use]
    pub fn with_reason(mut self, reason: Option<String>) -> Self {
        self.reason = reason;
        self
    }

    /// Attaches details; anything but a JSON object is dropped.
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = match data {
            Value::Object(m) => Some(m),
            _ => None,
        };
        self
    }
}

/// A committed change to a job, as the change feed, notifications and KPIs
/// see it: one per audit-log entry written.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Change {
    pub seq: i64,
    pub job_id: JobId,
    #[schema(value_type = String)]
    pub code: JobCode,
    pub event: EventName,
    pub status: JobStatus,
    pub at: DateTime<Utc>,
}

/// The complaint (a follow-up scoring 1 or 2) still waiting for a call
/// back: the follow-up's entry.
pub fn complaint_open<'a>(job: &Job, events: &'a [EventRecord]) -> Option<&'a EventRecord> {
    let low = job.state.satisfaction.is_some_and(|s| s.value() <= 2);
    if !low || events.iter().any(|e| e.event == EventName::Recontacted) {
        return None;
    }
    events.iter().find(|e| e.event == EventName::FollowUp)
}
