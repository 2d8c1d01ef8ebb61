//! Report routes: `GET /api/v1/kpi`, JSON or CSV.

use actix_web::{get, http::header, web, HttpResponse};
use chrono::Duration;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::auth::Role;
use crate::basic::Fields;
use crate::dispatch::intake::parse_date;
use crate::network::StationId;
use crate::places::Region;
use crate::reports::kpi::Granularity;
use crate::reports::targets::Targets;
use crate::reports::{service, KpiQuery};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(kpi);
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct KpiParams {
    /// `YYYY-MM-DD`, Asia/Shanghai, inclusive (default: 6 days before `to`).
    from: Option<String>,
    /// `YYYY-MM-DD`, inclusive (default: today).
    to: Option<String>,
    region: Option<String>,
    station_id: Option<String>,
    /// `none` (default), `day`, `week` (ISO), `month`.
    granularity: Option<String>,
    /// `json` (default) or `csv` (UTF-8 with a BOM).
    format: Option<String>,
    /// `false` leaves the station rows out (trend charts); default `true`.
    stations: Option<String>,
}

/// KPIs per network, region and station with their targets and status
/// (manager, dispatcher; within scope: another region is a 404). Each KPI's
/// definition is in the `reports::kpi` module documentation: counts by the
/// day of the event; rates 0–1 over the jobs the event happened to in the
/// period; deadlines move by time on hold; `pickup_backlog` at the period's
/// end; stations ranked within their region by a weighted composite.
#[utoipa::path(tag = "reports", params(KpiParams), responses((status = 200, description = "{from, to, granularity, rows: [{scope, region, station_id, station_name, period, kpis: {NAME: {value, target, status}}, score, rank}]}"), (status = 400), (status = 404)), security(("bearer" = [])))]
#[get("/kpi")]
async fn kpi(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<KpiParams>,
) -> Result<HttpResponse, ApiError> {
    let who = caller.principal(&[Role::Manager, Role::Dispatcher])?;
    let mut f = Fields::new();
    let from = f.opt("from", p.from.as_deref(), |v| parse_date("from", v));
    let to = f.opt("to", p.to.as_deref(), |v| parse_date("to", v));
    let region = f.opt("region", p.region.as_deref(), str::parse::<Region>);
    let station_id = f.opt("station_id", p.station_id.as_deref(), StationId::parse);
    let granularity = f.opt("granularity", p.granularity.as_deref(), |v| {
        v.parse::<Granularity>()
            .map_err(|e| crate::basic::FieldError::new("granularity", e.message))
    });
    let stations = f.opt("stations", p.stations.as_deref(), |v| {
        crate::network::query::parse_bool("stations", v)
    });
    let csv = match p.format.as_deref().map(str::trim) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            f.push(crate::basic::FieldError::new(
                "format",
                format!("format must be json or csv, got {other:?}"),
            ));
            false
        }
    };
    f.finish()?;
    let to = to.unwrap_or_else(|| state.dispatch.today());
    let q = KpiQuery {
        from: from.unwrap_or(to - Duration::days(6)),
        to,
        region,
        station_id,
        granularity: granularity.unwrap_or(Granularity::None),
        stations: stations.unwrap_or(true),
    };
    let ctx = state.dispatch.context();
    let report = service::kpi_report(
        &state.db,
        &state.index,
        Targets::shipped(),
        ctx.calendar.timezone(),
        ctx.policy.sla.warning_share,
        &who,
        &q,
        state.dispatch.now(),
    )
    .await?;
    if csv {
        Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"kpi-{}-{}.csv\"", q.from, q.to),
            ))
            .body(report.to_csv()))
    } else {
        Ok(HttpResponse::Ok().json(report))
    }
}
