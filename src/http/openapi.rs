//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{ops, places, stations};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "repairnet API",
        description = "Service-station directory, exact nearest search and repair dispatch. \
                       Errors are always {\"error\": {\"code\", \"message\", \"details\"}}."
    ),
    paths(ops::healthz, ops::readyz),
    nest((path = "/api/v1", api = V1)),
    modifiers(&BearerAuth),
    tags((name = "stations", description = "the station directory"), (name = "places", description = "geocoding"), (name = "ops", description = "operations"))
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
