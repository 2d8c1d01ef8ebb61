//! The job read model: a job as the API shows it, with its SLA clocks and
//! the tasks they raise, computed at a given instant.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::job::{complaint_open, EventName, EventRecord, Job};
use super::sla::{self, SlaClock};
use super::state::JobStatus;
use super::DispatchContext;

/// The job as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: i64,
    pub code: String,
    pub kind: String,
    pub status: String,
    pub customer: Value,
    pub address: Option<String>,
    pub lat: f64,
    pub lon: f64,
    pub division_adcode: Option<String>,
    pub region: Option<String>,
    pub product: String,
    pub purchase_date: String,
    pub request: String,
    pub damage: String,
    pub item: Value,
    pub problem: String,
    pub warranty: Value,
    pub due_at: DateTime<Utc>,
    pub first_visit_due_at: Option<DateTime<Utc>>,
    pub sla: Value,
    pub tasks: Vec<Value>,
    pub assignment: Option<Value>,
    pub station_id: Option<String>,
    pub satisfaction: Option<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub events: Vec<EventRecord>,
}

impl JobView {
    /// Whether the job's SLA is at risk (warning or breached on any clock).
    pub fn at_risk(&self) -> bool {
        ["completion", "first_visit"]
            .iter()
            .any(|k| matches!(self.sla[k]["state"].as_str(), Some("warning" | "breached")))
    }
}

/// The tasks `job` carries at `now` (what its read model lists), without
/// building the rest of the read model.
pub fn tasks(
    ctx: &DispatchContext,
    job: &Job,
    events: &[EventRecord],
    now: DateTime<Utc>,
) -> Vec<Value> {
    sla_view(ctx, job, events, now).1
}

/// The SLA clocks of `job` at `now` and the tasks they raise.
fn sla_view(
    ctx: &DispatchContext,
    job: &Job,
    events: &[EventRecord],
    now: DateTime<Utc>,
) -> (Value, Vec<Value>) {
    let policy = &ctx.policy;
    let js = &job.state;
    let targets = sla::targets(policy, job.customer.tier, job.kind);
    let history: Vec<(DateTime<Utc>, JobStatus)> =
        events.iter().map(|e| (e.at, e.to_status)).collect();
    let pauses = sla::pauses_from_history(&history);
    let completion = SlaClock {
        calendar: &ctx.calendar,
        target: targets.completion,
        started_at: job.created_at,
        pauses: &pauses,
        stopped_at: js.completed_at.or(if js.status == JobStatus::Cancelled {
            Some(job.updated_at)
        } else {
            None
        }),
    };
    let share = policy.sla.warning_share;
    let status = completion.status(now, share);
    let beyond = ctx
        .calendar
        .beyond_coverage(ctx.calendar.local_date(status.due_at));
    let mut out = json!({"completion": status});
    if beyond {
        // Holidays after the list's end would be counted as working days.
        out["calendar_note"] = json!(format!(
            "the due time lies past the holiday calendar ({}); public holidays after it are not counted",
            ctx.calendar
                .covered_until()
                .map_or_else(|| "no holiday list".to_owned(), |d| format!("covered until {d}"))
        ));
    }
    if let Some(t) = targets.first_visit {
        let visited = events
            .iter()
            .find(|e| e.to_status == JobStatus::OnSite)
            .map(|e| e.at)
            .or(if js.status.is_final() {
                Some(job.updated_at)
            } else {
                None
            });
        let fv = SlaClock {
            calendar: &ctx.calendar,
            target: t,
            started_at: job.created_at,
            pauses: &pauses,
            stopped_at: visited,
        };
        out["first_visit"] = json!(fv.status(now, share));
    }
    let mut tasks = Vec::new();
    let told_late = events.iter().any(|e| e.event == EventName::LateNotice);
    if js.status.is_open() && !js.status.repair_done() && !told_late {
        if let Some(t) =
            sla::notify_customer_task(&completion, policy.sla.notify_customer_share, now)
        {
            if t.raised {
                tasks.push(json!({"task": "notify_customer_of_delay", "raise_at": t.raise_at, "deadline": t.deadline}));
            }
        }
    }
    // Three unanswered notices and 3 more days: the station mails it back.
    if js.status == JobStatus::Notified && js.notices >= policy.carry_in.max_notices {
        if let Some(last) = js.last_notice_at {
            let raise_at =
                last + chrono::Duration::days(i64::from(policy.carry_in.notice_interval_days));
            if now >= raise_at {
                tasks.push(json!({"task": "mail_back", "raise_at": raise_at, "station_id": job.station_id}));
            }
        }
    }
    if let Some(f) = complaint_open(job, events) {
        tasks.push(json!({"task": "recontact_customer", "raise_at": f.at, "satisfaction": js.satisfaction.map(super::state::Satisfaction::value)}));
    }
    (out, tasks)
}

/// The read model of `job` with its audit log, at `now`; `technician_name`
/// names the assigned technician when known.
pub fn job_view(
    ctx: &DispatchContext,
    job: Job,
    events: Vec<EventRecord>,
    technician_name: Option<&str>,
    now: DateTime<Utc>,
) -> JobView {
    let (sla, tasks) = sla_view(ctx, &job, &events, now);
    let w = &job.warranty_input;
    JobView {
        id: job.id.0,
        code: job.code.to_string(),
        kind: job.kind.to_string(),
        status: job.status().to_string(),
        customer: json!({"name": job.customer.name, "phone": job.customer.phone, "tier": job.customer.tier}),
        address: job.address,
        lat: job.point.lat,
        lon: job.point.lon,
        division_adcode: job.division_adcode.map(|a| a.to_string()),
        region: job.region.map(|r| r.code().to_owned()),
        product: job.product.to_string(),
        purchase_date: w.purchase_date.to_string(),
        request: w.request.to_string(),
        damage: w.damage.to_string(),
        item: json!(w.item),
        problem: job.problem,
        warranty: json!(job.warranty),
        due_at: job.due_at,
        first_visit_due_at: job.first_visit_due_at,
        sla,
        tasks,
        assignment: job.technician_id.map(|t| {
            json!({
                "station_id": job.station_id, "technician_id": t,
                "technician_name": technician_name, "distance_m": job.distance_m,
                "eta_minutes": job.eta_minutes, "day": job.booked_day, "period": job.slot_period,
            })
        }),
        station_id: job.station_id.map(|s| s.to_string()),
        satisfaction: job
            .state
            .satisfaction
            .map(super::state::Satisfaction::value),
        created_at: job.created_at,
        updated_at: job.updated_at,
        events,
    }
}
