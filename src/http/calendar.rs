//! `GET /api/v1/calendar`: the business calendar for people on the phone
//! ("can a technician come on the 2nd?").

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::auth::Role;
use crate::basic::{FieldError, Fields};
use crate::dispatch::intake::parse_date;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(calendar);
}

/// The longest range one request may ask for (days).
const MAX_DAYS: i64 = 366;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CalendarParams {
    /// `YYYY-MM-DD`, inclusive (default: today, Asia/Shanghai).
    from: Option<String>,
    /// `YYYY-MM-DD`, inclusive (default: 13 days after `from`).
    to: Option<String>,
}

/// Working days, weekends, public holidays and make-up working days (调休)
/// of `from..=to` (at most 366 days; agent and up), with the day the
/// holiday list covers up to: after it, holidays are not known and a day
/// is a working day by its weekday alone (`beyond_coverage`).
#[utoipa::path(tag = "dispatch", params(CalendarParams), responses((status = 200, description = "{from, to, covered_until, days: [{date, working, kind: workday|weekend|holiday|makeup_workday, name?, beyond_coverage}]}"), (status = 400), (status = 401)), security(("bearer" = [])))]
#[get("/calendar")]
async fn calendar(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<CalendarParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[
        Role::Agent,
        Role::Dispatcher,
        Role::Manager,
        Role::Technician,
    ])?;
    let cal = &state.dispatch.context().calendar;
    let mut f = Fields::new();
    let from = f.opt("from", p.from.as_deref(), |v| parse_date("from", v));
    let to = f.opt("to", p.to.as_deref(), |v| parse_date("to", v));
    f.finish()?;
    let from = from.unwrap_or_else(|| cal.local_date(state.dispatch.now()));
    let to = match to {
        Some(t) => t,
        None => from
            .checked_add_signed(chrono::Duration::days(13))
            .ok_or_else(|| ApiError::from(FieldError::new("from", "from is too late")))?,
    };
    if to < from || (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::from(FieldError::new(
            "to",
            format!("to must be on or after from and at most {MAX_DAYS} days later"),
        )));
    }
    let days: Vec<_> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|d| {
            let mut v = json!(cal.day_info(d));
            v["beyond_coverage"] = json!(cal.beyond_coverage(d));
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "from": from,
        "to": to,
        "covered_until": cal.covered_until(),
        "days": days,
    })))
}
