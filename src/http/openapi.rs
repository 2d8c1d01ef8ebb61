//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    calendar, feed, intake, jobs, ops, optimize, places, reports, stations, technicians, tokens,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "repairnet API",
        description = "Service-station directory, exact nearest search and repair dispatch. \
                       Errors are always {\"error\": {\"code\", \"message\", \"details\"}}; \
                       `details` is null or an object: `fields` (a list of {field, message}) for \
                       invalid_input, `problems` for technician_unsuitable, the import report for \
                       invalid_rows, `retry_after_s` for rate_limited (429, with Retry-After)."
    ),
    paths(ops::healthz, ops::readyz),
    nest((path = "/api/v1", api = V1)),
    modifiers(&BearerAuth),
    tags((name = "stations", description = "the station directory"), (name = "places", description = "geocoding"), (name = "dispatch", description = "technicians, jobs, assignment"), (name = "tokens", description = "API tokens (admin)"), (name = "reports", description = "KPIs"), (name = "ops", description = "operations"))
)]
pub struct ApiDoc;

/// Everything under `/api/v1`.
#[derive(OpenApi)]
#[openapi(paths(
    stations::nearest,
    stations::list,
    stations::get_one,
    stations::create,
    stations::replace,
    stations::patch_one,
    stations::delete_one,
    stations::import_stations,
    stations::regions,
    places::geocode,
    technicians::list,
    technicians::create,
    technicians::patch_one,
    technicians::technician_day,
    jobs::create_job,
    jobs::list_jobs,
    jobs::get_job,
    feed::job_changes,
    jobs::assign_job,
    jobs::reschedule_job,
    jobs::correct_job,
    jobs::post_event,
    jobs::recontact,
    jobs::notifications,
    jobs::job_recommendation,
    intake::slots,
    intake::intake_options,
    intake::warranty_check,
    jobs::track,
    jobs::survey,
    reports::kpi,
    calendar::calendar,
    optimize::run,
    tokens::session,
    tokens::list,
    tokens::revoke,
))]
struct V1;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
