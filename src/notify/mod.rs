//! Customer messages: which job change sends which text, the Chinese
//! templates (`data/notify-templates.json`), and the retry schedule.
//!
//! Messages are drafted here from a committed-to-be change and written by
//! the store in the same transaction as that change (the outbox); the
//! [`worker`] delivers them afterwards. Nothing here does I/O.

pub mod worker;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::basic::string_enum;
use crate::dispatch::job::{EventName, EventRecord, Job};
use crate::dispatch::model::JobKind;

string_enum!(
    /// A customer message's template.
    Template {
        JobCreated => "job_created",
        TechnicianEnRoute => "technician_en_route",
        RepairLate => "repair_late",
        ReadyForPickup => "ready_for_pickup",
        PickupReminder => "pickup_reminder",
        MailedBack => "mailed_back",
        FollowUpSurvey => "follow_up_survey",
    }
);

string_enum!(
    /// Where a message is in its delivery.
    MessageState {
        /// Waiting for its first try or a retry (also: no webhook configured).
        Pending => "pending",
        /// Claimed by a process that is sending it now.
        Sending => "sending",
        Delivered => "delivered",
        /// Every try failed.
        Failed => "failed",
    }
);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("message templates: {0}")]
    Templates(String),
}

/// A message to write with a job change (the job id comes from the write).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageDraft {
    pub template: Template,
    pub to: String,
    pub text: String,
    pub params: Map<String, Value>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub id: i64,
    pub job_id: i64,
    pub job_code: String,
    pub channel: String,
    #[serde(rename = "to")]
    pub recipient: String,
    pub template: Template,
    pub text: String,
    pub params: Map<String, Value>,
    pub state: MessageState,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl Message {
    /// The webhook body (DESIGN "Customer notifications").
    pub fn webhook_body(&self) -> Value {
        json!({
            "id": self.id.to_string(), "channel": self.channel, "to": self.recipient,
            "template": self.template, "text": self.text, "params": self.params,
            "job_code": self.job_code, "created_at": self.created_at,
        })
    }
}

/// Waits before the 2nd, 3rd, … try; after the last wait fails the
/// message is `failed` (six tries over about two and a half hours, so a
/// gateway outage of an hour loses nothing).
pub const RETRY_AFTER_SECS: [i64; 5] = [30, 120, 600, 1800, 7200];

/// When to try again after `attempts` failed tries, or `None` when that
/// was the last.
pub fn next_try(attempts: i64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let i = usize::try_from(attempts.max(1) - 1).ok()?;
    RETRY_AFTER_SECS.get(i).map(|s| now + Duration::seconds(*s))
}

/// The Chinese templates, checked once.
#[derive(Debug)]
pub struct Templates(BTreeMap<Template, String>);

const TEMPLATES_JSON: &str = include_str!("../../data/notify-templates.json");

impl Templates {
    /// Every template present, and every `{placeholder}` one of the params
    /// its message carries (so no text ever goes out with a hole in it).
    pub fn parse(json: &str) -> Result<Self, NotifyError> {
        let raw: Map<String, Value> =
            serde_json::from_str(json).map_err(|e| NotifyError::Templates(e.to_string()))?;
        let mut out = BTreeMap::new();
        for &t in Template::ALL {
            let text = raw
                .get(t.as_str())
                .and_then(Value::as_str)
                .ok_or_else(|| NotifyError::Templates(format!("{t} is missing")))?;
            for name in placeholders(text) {
                if !params_of(t).contains(&name) {
                    return Err(NotifyError::Templates(format!(
                        "{t} uses {{{name}}}, which its message does not carry"
                    )));
                }
            }
            out.insert(t, text.to_owned());
        }
        Ok(Templates(out))
    }

    /// The shipped templates.
    pub fn embedded() -> &'static Templates {
        static T: OnceLock<Templates> = OnceLock::new();
        T.get_or_init(|| {
            // Checked by a unit test on every build, so this cannot fail in a
            // shipped binary.
            Templates::parse(TEMPLATES_JSON).unwrap_or_else(|_| Templates(BTreeMap::new()))
        })
    }

    pub fn render(&self, t: Template, params: &Map<String, Value>) -> String {
        let mut text = self.0.get(&t).cloned().unwrap_or_default();
        for (k, v) in params {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            text = text.replace(&format!("{{{k}}}"), &v);
        }
        text
    }
}

fn placeholders(text: &str) -> Vec<&str> {
    text.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name))
        .collect()
}

/// The params each template's message carries.
fn params_of(t: Template) -> &'static [&'static str] {
    match t {
        Template::JobCreated => &["code", "due", "track_url"],
        Template::TechnicianEnRoute => &["code", "technician", "eta_minutes"],
        Template::RepairLate => &["code", "due", "station_phone"],
        Template::ReadyForPickup => &["code", "station", "station_address", "station_phone"],
        Template::PickupReminder => &[
            "code",
            "notice",
            "station",
            "station_address",
            "station_phone",
        ],
        Template::MailedBack => &["code", "station_phone"],
        Template::FollowUpSurvey => &["code", "survey_url"],
    }
}

/// What a message may say about the job's station and technician.
#[derive(Debug, Clone, Default)]
pub struct Context<'a> {
    /// Where links in messages point (`https://…`, no trailing slash).
    pub public_url: &'a str,
    pub station_name: Option<&'a str>,
    pub station_address: Option<&'a str>,
    pub station_phone: Option<&'a str>,
    pub technician_name: Option<&'a str>,
    /// The due time as a customer reads it, e.g. `12月9日 18:00`.
    pub due_local: String,
}

/// The messages a job change sends: `job` is the job as written, `e` one
/// of the audit entries written with it.
///
/// * created → `job_created`; en route → `technician_en_route`;
/// * ready for pickup → `ready_for_pickup` (notice 1); a `notified` entry →
///   `pickup_reminder` with its notice number;
/// * mailed back → `mailed_back`; the work complete (repaired, picked up,
///   mailed back) → `follow_up_survey`;
/// * `late_notice` → `repair_late`.
pub fn messages_for(job: &Job, e: &EventRecord, cx: &Context<'_>) -> Vec<MessageDraft> {
    let code = job.code.as_str();
    let station = |p: &mut Map<String, Value>| {
        p.insert(
            "station".into(),
            json!(cx.station_name.unwrap_or("服务网点")),
        );
        p.insert(
            "station_address".into(),
            json!(cx.station_address.unwrap_or("")),
        );
        p.insert(
            "station_phone".into(),
            json!(cx.station_phone.unwrap_or("")),
        );
    };
    let mut out: Vec<(Template, Map<String, Value>)> = Vec::new();
    let mut p = Map::new();
    p.insert("code".into(), json!(code));
    match e.event {
        EventName::Created => {
            p.insert("due".into(), json!(cx.due_local));
            p.insert(
                "track_url".into(),
                json!(format!("{}/track?code={code}", cx.public_url)),
            );
            out.push((Template::JobCreated, p.clone()));
        }
        EventName::EnRoute => {
            p.insert(
                "technician".into(),
                json!(cx.technician_name.unwrap_or("工程师")),
            );
            p.insert("eta_minutes".into(), json!(job.eta_minutes.unwrap_or(60)));
            out.push((Template::TechnicianEnRoute, p.clone()));
        }
        EventName::ReadyForPickup => {
            station(&mut p);
            out.push((Template::ReadyForPickup, p.clone()));
        }
        EventName::Notified => {
            station(&mut p);
            p.insert("notice".into(), json!(job.state.notices));
            out.push((Template::PickupReminder, p.clone()));
        }
        EventName::MailedBack => {
            station(&mut p);
            p.remove("station");
            p.remove("station_address");
            out.push((Template::MailedBack, p.clone()));
        }
        EventName::LateNotice => {
            p.insert("due".into(), json!(cx.due_local));
            p.insert(
                "station_phone".into(),
                json!(cx.station_phone.unwrap_or("")),
            );
            out.push((Template::RepairLate, p.clone()));
        }
        _ => {}
    }
    let completes = matches!(
        e.event,
        EventName::Repaired | EventName::PickedUp | EventName::MailedBack
    ) && (job.kind == JobKind::Onsite || e.event != EventName::Repaired);
    if completes {
        let mut p = Map::new();
        p.insert("code".into(), json!(code));
        p.insert(
            "survey_url".into(),
            json!(format!("{}/survey?code={code}", cx.public_url)),
        );
        out.push((Template::FollowUpSurvey, p));
    }
    let templates = Templates::embedded();
    out.into_iter()
        .map(|(template, params)| MessageDraft {
            template,
            to: job.customer.phone.as_str().to_owned(),
            text: templates.render(template, &params),
            params,
        })
        .collect()
}

/// A phone number as logs may show it: the last four digits only.
pub fn masked(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("***{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_templates_parse_and_use_only_their_params() {
        let t = Templates::parse(TEMPLATES_JSON).unwrap();
        assert_eq!(t.0.len(), Template::ALL.len());
    }

    #[test]
    fn a_template_with_an_unknown_placeholder_is_refused() {
        let mut raw: Map<String, Value> = serde_json::from_str(TEMPLATES_JSON).unwrap();
        raw.insert("mailed_back".into(), json!("寄回 {tracking_no}"));
        let err = Templates::parse(&Value::Object(raw).to_string()).unwrap_err();
        assert!(
            err.to_string().contains("mailed_back uses {tracking_no}"),
            "{err}"
        );
    }

    #[test]
    fn rendering_fills_every_placeholder() {
        let t = Templates::parse(TEMPLATES_JSON).unwrap();
        let mut p = Map::new();
        for (k, v) in [
            ("code", "RN-1"),
            ("notice", "2"),
            ("station", "朝阳站"),
            ("station_address", "建国路1号"),
            ("station_phone", "010-1"),
        ] {
            p.insert(k.into(), json!(v));
        }
        let text = t.render(Template::PickupReminder, &p);
        assert!(
            text.contains("第2次提醒") && text.contains("朝阳站"),
            "{text}"
        );
        assert!(!text.contains('{'), "{text}");
    }

    #[test]
    fn retries_back_off_then_stop() {
        let now = Utc::now();
        assert_eq!(next_try(1, now), Some(now + Duration::seconds(30)));
        assert_eq!(next_try(5, now), Some(now + Duration::seconds(7200)));
        assert_eq!(next_try(6, now), None);
    }

    #[test]
    fn masked_keeps_the_last_four_digits() {
        assert_eq!(masked("13812345678"), "***5678");
        assert_eq!(masked("12"), "***12");
    }
}
