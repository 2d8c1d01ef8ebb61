//! Station directory routes: nearest, list (JSON, GeoJSON, CSV), one station,
//! admin edits, bulk import, regions.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::Utc;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::auth::{Role, Scope};
use crate::basic::Adcode;
use crate::basic::{merge_patch, FieldError, Fields};
use crate::network::export;
use crate::network::import::{self, Format, RowError};
use crate::network::model::{Station, StationDraft, StationId};
use crate::network::query::{parse_crs, NearestParams, StationView};
use crate::network::BBox;
use crate::network::{Product, Service};
use crate::places::{Crs, Gazetteer, Region};
use crate::store::{self, stations as store_stations};

pub fn routes(cfg: &mut web::ServiceConfig) {
    // `nearest` and `import` are registered before `{id}` so they win.
    cfg.service(nearest)
        // Other methods on `nearest` are a 405, not an edit of station "nearest".
        .service(web::resource("/stations/nearest").to(|| async {
            HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, "GET"))
                .json(serde_json::json!({"error": {"code": "method_not_allowed",
                    "message": "/api/v1/stations/nearest answers GET only", "details": null}}))
        }))
        .service(import_stations)
        .service(list)
        .service(create)
        .service(get_one)
        .service(replace)
        .service(patch_one)
        .service(delete_one)
        .service(regions);
}

#[derive(Serialize, ToSchema)]
pub struct NearestResult<'a> {
    pub station: StationView<'a>,
    pub distance_m: f64,
}

#[derive(Serialize, ToSchema)]
pub struct NearestResponse<'a> {
    pub query: Value,
    pub results: Vec<NearestResult<'a>>,
}

/// The k stations nearest a point or an address, by exact great-circle
/// distance, filtered while searching.
#[utoipa::path(
    tag = "stations",
    params(NearestParams),
    responses((status = 200, body = NearestResponse), (status = 400, description = "bad input"))
)]
#[get("/stations/nearest")]
async fn nearest(
    state: web::Data<AppState>,
    params: web::Query<NearestParams>,
) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let q = params
        .resolve(Gazetteer::embedded(), now)
        .map_err(|e| ApiError::invalid_fields(&e))?;
    let index = state.index.load();
    let hits = q.run(&index);
    let shown = q.out_crs.from_wgs84(q.point);
    let mut query = json!({
        "lat": shown.lat, "lon": shown.lon, "crs": q.out_crs,
        "wgs84": {"lat": q.point.lat, "lon": q.point.lon},
        "k": q.k,
        "service": q.filter.service, "product": q.filter.product,
        "open_at": q.filter.open_at, "max_km": q.max_m.map(|m| m / 1000.0),
    });
    if let Some(d) = &q.division {
        query["division"] = json!(d);
        query["remainder"] = json!(q.remainder);
    }
    metrics::counter!("repairnet_nearest_queries_total").increment(1);
    Ok(HttpResponse::Ok().json(NearestResponse {
        query,
        results: hits
            .into_iter()
            .map(|h| NearestResult {
                station: StationView::new(h.station, q.out_crs, now),
                distance_m: (h.distance_m * 10.0).round() / 10.0,
            })
            .collect(),
    }))
}

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 5000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `minLon,minLat,maxLon,maxLat` (WGS-84; minLon > maxLon crosses the antimeridian).
    bbox: Option<String>,
    /// City name, e.g. 绵阳市.
    city: Option<String>,
    /// Adcode of a province, city or district: its whole area matches.
    adcode: Option<String>,
    /// Region code or Chinese name.
    region: Option<String>,
    service: Option<String>,
    product: Option<String>,
    /// Page size, 1-5000 (default 100).
    limit: Option<String>,
    /// `next_cursor` from the previous page.
    cursor: Option<String>,
    /// `json` (default), `geojson` or `csv`.
    format: Option<String>,
    /// Coordinate system of returned points.
    crs: Option<String>,
}

/// An adcode filter matches the division and everything under it.
fn adcode_matches(filter: Adcode, a: Adcode) -> bool {
    let f = filter.value();
    if f.is_multiple_of(10_000) {
        a.province() == filter
    } else if f.is_multiple_of(100) {
        a.prefecture() == filter
    } else {
        a == filter
    }
}

/// Stations, filtered and paged in id order; GeoJSON with
/// `Accept: application/geo+json` or `format=geojson`, CSV with `format=csv`.
#[utoipa::path(tag = "stations", params(ListParams), responses((status = 200, description = "a page of stations")))]
#[get("/stations")]
async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    p: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let mut errs = Fields::new();
    let bbox = errs.opt("bbox", p.bbox.as_deref(), BBox::parse);
    let adcode = errs.opt("adcode", p.adcode.as_deref(), Adcode::parse);
    let region = errs.opt("region", p.region.as_deref(), str::parse::<Region>);
    let service = errs.opt("service", p.service.as_deref(), str::parse::<Service>);
    let product = errs.opt("product", p.product.as_deref(), str::parse::<Product>);
    let crs = errs.take(parse_crs(p.crs.as_deref())).unwrap_or_default();
    let mut limit = errs.int_in("limit", p.limit.as_deref(), 1..=MAX_LIMIT, DEFAULT_LIMIT);
    let accept_geo = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/geo+json"));
    let format = match p.format.as_deref() {
        None if accept_geo => "geojson",
        None | Some("json") => "json",
        Some("geojson") => "geojson",
        Some("csv") => "csv",
        Some(other) => {
            errs.push(FieldError::new(
                "format",
                format!("format must be json, geojson or csv, got {other:?}"),
            ));
            "json"
        }
    };
    let cursor = errs.opt("cursor", p.cursor.as_deref(), |c| {
        crate::basic::read_cursor("stations", c)
    });
    errs.finish()?;
    // A CSV or GeoJSON download is the whole set, unless the caller pages
    // on purpose (a limit or a cursor).
    if format != "json" && p.limit.is_none() && p.cursor.is_none() {
        limit = usize::MAX - 1;
    }
    let index = state.index.load();
    let matches = |s: &Station| {
        p.city.as_deref().is_none_or(|c| s.city == c.trim())
            && adcode.is_none_or(|a| adcode_matches(a, s.adcode))
            && region.is_none_or(|r| s.region == r)
            && service.is_none_or(|v| s.offers(v))
            && product.is_none_or(|v| s.repairs(v))
    };
    let candidates: Vec<&Arc<Station>> = match &bbox {
        Some(b) => index.in_bbox(b),
        None => index.iter().collect(),
    };
    let mut page: Vec<&Arc<Station>> = candidates
        .into_iter()
        .filter(|s| cursor.as_deref().is_none_or(|c| s.id.as_str() > c))
        .filter(|s| matches(s))
        .take(limit + 1)
        .collect();
    let next_cursor = if page.len() > limit {
        page.truncate(limit);
        page.last()
            .map(|s| crate::basic::page_cursor("stations", s.id.as_str()))
    } else {
        None
    };
    let now = Utc::now();
    match format {
        "geojson" => {
            let mut fc = geojson::FeatureCollection {
                bbox: None,
                features: page
                    .iter()
                    .map(|s| {
                        let mut extra = serde_json::Map::new();
                        extra.insert("open_now".into(), json!(s.is_open(now)));
                        extra.insert("next_open_at".into(), json!(s.next_open(now)));
                        export::feature(s, crs, Some(extra))
                    })
                    .collect(),
                foreign_members: None,
            };
            let mut members = serde_json::Map::new();
            members.insert("next_cursor".into(), json!(next_cursor));
            fc.foreign_members = Some(members);
            Ok(HttpResponse::Ok()
                .content_type("application/geo+json")
                .body(fc.to_string()))
        }
        "csv" => {
            let csv = export::to_csv(page.iter().map(std::convert::AsRef::as_ref), crs)
                .map_err(|e| ApiError::Internal(e.into()))?;
            // A byte-order mark, or Excel in China reads UTF-8 as GBK.
            let mut bytes = "\u{feff}".as_bytes().to_vec();
            bytes.extend(csv);
            let mut res = HttpResponse::Ok();
            res.content_type("text/csv; charset=utf-8").insert_header((
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"stations.csv\"",
            ));
            if let Some(c) = &next_cursor {
                res.insert_header(("X-Next-Cursor", c.as_str()));
            }
            Ok(res.body(bytes))
        }
        _ => Ok(HttpResponse::Ok().json(json!({
            "items": page.iter().map(|s| StationView::new(s, crs, now)).collect::<Vec<_>>(),
            "next_cursor": next_cursor,
        }))),
    }
}

fn station_id(raw: &str) -> Result<StationId, ApiError> {
    StationId::parse(raw).map_err(ApiError::from)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CrsParam {
    crs: Option<String>,
}

/// One station.
#[utoipa::path(tag = "stations", params(("id" = String, Path), CrsParam), responses((status = 200, body = StationView), (status = 404)))]
#[get("/stations/{id}")]
async fn get_one(
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<CrsParam>,
) -> Result<HttpResponse, ApiError> {
    let id = station_id(&id)?;
    let crs = parse_crs(q.crs.as_deref())?;
    let index = state.index.load();
    let s = index
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no station {id}")))?;
    Ok(HttpResponse::Ok().json(StationView::new(s, crs, Utc::now())))
}

fn validate(draft: StationDraft) -> Result<Station, ApiError> {
    Station::try_from(draft).map_err(|e| ApiError::invalid_fields(&e))
}

/// Writes through the store, then patches the live index, under the
/// process's directory-write lock.
/// 404 unless the station, as it is and as it would be, lies in `scope`.
fn check_scope(state: &AppState, scope: &Scope, s: &Station) -> Result<(), ApiError> {
    let now_in = state
        .index
        .load()
        .get(&s.id)
        .is_none_or(|old| scope.sees_station(&old.id, old.region));
    if now_in && scope.sees_station(&s.id, s.region) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("no station {}", s.id)))
    }
}

async fn write_station(
    state: &AppState,
    scope: &Scope,
    s: Station,
    create_only: bool,
) -> Result<bool, ApiError> {
    check_scope(state, scope, &s)?;
    let _guard = state.directory_writes.lock().await;
    let created = if create_only {
        store_stations::insert(&state.db, &s).await?;
        true
    } else {
        store_stations::upsert_many(&state.db, std::slice::from_ref(&s))
            .await?
            .inserted
            == 1
    };
    let s = Arc::new(s);
    state.index.update(|i| i.with_upserted(s.clone()));
    Ok(created)
}

fn created(s: &Station) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/stations/{}", s.id)))
        .json(StationView::new(s, Crs::default(), Utc::now()))
}

/// Adds a station (admin).
#[utoipa::path(tag = "stations", request_body = StationDraft, responses((status = 201, body = StationView), (status = 400), (status = 401), (status = 403), (status = 409)), security(("bearer" = [])))]
#[post("/stations")]
async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<StationDraft>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let s = validate(body.into_inner())?;
    write_station(&state, &caller.scope, s.clone(), true).await?;
    tracing::info!(station = %s.id, token = %caller.token_id, "station created");
    Ok(created(&s))
}

/// Creates or replaces a station (admin); the id comes from the path.
#[utoipa::path(tag = "stations", params(("id" = String, Path)), request_body = StationDraft, responses((status = 200, body = StationView), (status = 201, body = StationView)), security(("bearer" = [])))]
#[put("/stations/{id}")]
async fn replace(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<serde_json::Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = station_id(&id)?;
    let mut body = body.into_inner();
    match body.get("id") {
        Some(Value::String(b)) if b != id.as_str() => {
            return Err(ApiError::bad_request(
                "id_mismatch",
                format!("body id {b:?} differs from path id {id}"),
            ))
        }
        _ => {
            body.insert("id".into(), json!(id.as_str()));
        }
    }
    let draft: StationDraft = serde_json::from_value(Value::Object(body))
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    let s = validate(draft)?;
    let was_created = write_station(&state, &caller.scope, s.clone(), false).await?;
    tracing::info!(station = %s.id, token = %caller.token_id, "station replaced");
    if was_created {
        Ok(created(&s))
    } else {
        Ok(HttpResponse::Ok().json(StationView::new(&s, Crs::default(), Utc::now())))
    }
}

/// Changes some fields of a station (admin): a JSON merge patch (RFC 7396).
#[utoipa::path(tag = "stations", params(("id" = String, Path)), request_body = Object, responses((status = 200, body = StationView), (status = 404)), security(("bearer" = [])))]
#[patch("/stations/{id}")]
async fn patch_one(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<serde_json::Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = station_id(&id)?;
    let current = store_stations::get(&state.db, &id)
        .await
        .map_err(|e| match e {
            store::StoreError::NotFound => ApiError::NotFound(format!("no station {id}")),
            other => other.into(),
        })?;
    check_scope(&state, &caller.scope, &current)?;
    let patch = Value::Object(body.into_inner());
    if patch
        .get("id")
        .is_some_and(|v| v.as_str() != Some(id.as_str()))
    {
        return Err(ApiError::bad_request(
            "id_mismatch",
            "a station's id cannot be changed",
        ));
    }
    let mut merged = json!(StationDraft::from(&current));
    merge_patch(&mut merged, &patch);
    let draft: StationDraft = serde_json::from_value(merged)
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    let s = validate(draft)?;
    write_station(&state, &caller.scope, s.clone(), false).await?;
    tracing::info!(station = %s.id, token = %caller.token_id, "station patched");
    Ok(HttpResponse::Ok().json(StationView::new(&s, Crs::default(), Utc::now())))
}

/// Removes a station (admin).
#[utoipa::path(tag = "stations", params(("id" = String, Path)), responses((status = 204), (status = 404)), security(("bearer" = [])))]
#[delete("/stations/{id}")]
async fn delete_one(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = station_id(&id)?;
    if let Some(s) = state.index.load().get(&id) {
        check_scope(&state, &caller.scope, s)?;
    }
    let _guard = state.directory_writes.lock().await;
    store_stations::delete(&state.db, &id)
        .await
        .map_err(|e| match e {
            store::StoreError::NotFound => ApiError::NotFound(format!("no station {id}")),
            other => other.into(),
        })?;
    state.index.update(|i| i.with_removed(&id));
    tracing::info!(station = %id, token = %caller.token_id, "station deleted");
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ImportParams {
    /// `all_or_nothing` (default) or `skip_invalid`.
    mode: Option<String>,
    /// `true` to validate and report without writing.
    dry_run: Option<String>,
    /// The points' coordinate system where a row has no `crs` of its own:
    /// `wgs84` (default, GPS), `gcj02` (AMap, Tencent) or `bd09` (Baidu).
    crs: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub mode: &'static str,
    pub dry_run: bool,
    pub total: usize,
    pub valid: usize,
    pub inserted: usize,
    pub updated: usize,
    pub skipped: usize,
    pub errors: Vec<RowError>,
}

/// Loads stations from a CSV (`text/csv`) or GeoJSON (`application/geo+json`)
/// body (admin). All-or-nothing unless `mode=skip_invalid`.
#[utoipa::path(tag = "stations", params(ImportParams), request_body(content = String, content_type = "text/csv"), responses((status = 200, body = ImportReport), (status = 422, description = "invalid rows; nothing written")), security(("bearer" = [])))]
#[post("/stations/import")]
async fn import_stations(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ImportParams>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    if caller.scope != Scope::All {
        return Err(ApiError::NotPermitted(
            "a scoped token cannot import the directory; use an unscoped admin token".into(),
        ));
    }
    let skip_invalid = match q.mode.as_deref() {
        None | Some("all_or_nothing") => false,
        Some("skip_invalid") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("mode must be all_or_nothing or skip_invalid, got {other:?}"),
            ))
        }
    };
    let dry_run = q
        .dry_run
        .as_deref()
        .map(|v| crate::network::query::parse_bool("dry_run", v))
        .transpose()?
        .unwrap_or(false);
    let crs = parse_crs(q.crs.as_deref())?;
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let format = if ctype.starts_with("text/csv") {
        Format::Csv
    } else if ctype.starts_with("application/geo+json") || ctype.starts_with("application/json") {
        Format::GeoJson
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "send text/csv or application/geo+json".into(),
        ));
    };
    let limit = state.settings.import_limit;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    let parsed = import::parse_in(format, &body, crs).map_err(|e| ApiError::Unprocessable {
        code: "invalid_file",
        message: e.to_string(),
        details: None,
    })?;
    let mut report = ImportReport {
        mode: if skip_invalid {
            "skip_invalid"
        } else {
            "all_or_nothing"
        },
        dry_run,
        total: parsed.total(),
        valid: parsed.stations.len(),
        inserted: 0,
        updated: 0,
        skipped: parsed.errors.len(),
        errors: parsed.errors,
    };
    if !report.errors.is_empty() && !skip_invalid {
        report.skipped = report.total;
        return Err(ApiError::Unprocessable {
            code: "invalid_rows",
            message: format!(
                "{} of {} rows are invalid; nothing was imported (use mode=skip_invalid to import the valid rows)",
                report.errors.len(),
                report.total
            ),
            details: Some(json!(report)),
        });
    }
    if !dry_run && !parsed.stations.is_empty() {
        let _guard = state.directory_writes.lock().await;
        let counts = store_stations::upsert_many(&state.db, &parsed.stations).await?;
        report.inserted = counts.inserted;
        report.updated = counts.updated;
        let all = store_stations::load_all(&state.db).await?;
        state.index.store(crate::network::index::StationIndex::new(
            all.into_iter().map(Arc::new).collect(),
        ));
        tracing::info!(inserted = counts.inserted, updated = counts.updated, skipped = report.skipped, token = %caller.token_id, "stations imported");
    }
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Serialize, ToSchema)]
pub struct RegionView {
    pub code: String,
    pub name: String,
    pub provinces: Vec<Value>,
    pub station_count: usize,
    pub onsite_station_count: usize,
}

/// The seven regions, as `GET /regions` answers them.
#[derive(Serialize, ToSchema)]
pub struct RegionList {
    pub items: Vec<RegionView>,
}

/// The seven service regions with their provinces and station counts.
#[utoipa::path(tag = "stations", responses((status = 200, body = RegionList)))]
#[get("/regions")]
async fn regions(state: web::Data<AppState>) -> web::Json<RegionList> {
    let index = state.index.load();
    let gaz = Gazetteer::embedded();
    let items: Vec<RegionView> = Region::ALL
        .iter()
        .map(|&r| {
            let in_region = || index.iter().filter(move |s| s.region == r);
            RegionView {
                code: r.code().to_owned(),
                name: r.name_zh().to_owned(),
                provinces: r
                    .province_codes()
                    .iter()
                    .filter_map(|p| Adcode::from_u32(p * 10_000).ok())
                    .map(|a| {
                        let name = gaz.get(a).map(|d| d.name.clone()).unwrap_or_default();
                        json!({"adcode": a, "name": name})
                    })
                    .collect(),
                station_count: in_region().count(),
                onsite_station_count: in_region().filter(|s| s.offers(Service::Onsite)).count(),
            }
        })
        .collect();
    web::Json(RegionList { items })
}
