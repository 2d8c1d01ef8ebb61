//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    calendar, error, feed, intake, jobs, ops, optimize, places, reports, stations, technicians,
    tokens,
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
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    modifiers(&BearerAuth, &ErrorResponses),
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

/// The error answers every operation can give, each with the error JSON:
/// what any request can meet (bad input, an unknown object, limits, a
/// database that is down, a timeout), the log-in answers where a token is
/// needed, and the write answers where a body is sent. Statuses an
/// operation already lists keep their description and gain the schema.
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let content = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                (false, item.get.as_mut()),
                (true, item.put.as_mut()),
                (true, item.post.as_mut()),
                (true, item.delete.as_mut()),
                (true, item.patch.as_mut()),
            ];
            for (writes, op) in ops {
                let Some(op) = op else { continue };
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let body = op.request_body.is_some();
                let mut statuses: Vec<(&str, &str)> = vec![
                    ("400", "invalid input (`details.fields` names each field)"),
                    ("404", "no such object or endpoint"),
                    ("414", "the address is too long"),
                    ("429", "too many requests from this client; see Retry-After"),
                    ("431", "the request headers are too large"),
                    (
                        "503",
                        "the database is unavailable or the request timed out; see Retry-After",
                    ),
                ];
                if secured {
                    statuses.push(("401", "missing, unknown, revoked or expired token"));
                    statuses.push(("403", "the token's role or scope does not allow this"));
                }
                if writes {
                    statuses.push(("409", "conflicts with the current state (stale version, duplicate, still referenced)"));
                }
                if body {
                    statuses.push(("413", "the body is too large"));
                    statuses.push(("415", "the body's Content-Type is not accepted"));
                    statuses.push(("422", "well-formed but refused (see the code)"));
                }
                for (status, description) in statuses {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| {
                            RefOr::T(ResponseBuilder::new().description(description).build())
                        });
                }
                for (status, response) in &mut op.responses.responses {
                    if !status.starts_with('4') && !status.starts_with('5') {
                        continue;
                    }
                    if let RefOr::T(r) = response {
                        r.content.insert("application/json".to_owned(), content());
                    }
                }
            }
        }
    }
}
