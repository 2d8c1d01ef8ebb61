//! Directory queries shared by the API and the CLI: the nearest-station
//! request as the user types it (strings), its validation, and the station's
//! outward JSON shape.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model::{Product, Service, Station};
use super::{StationFilter, StationIndex};
use crate::basic::{FieldError, Fields, LatLon};
use crate::places::{Crs, Gazetteer, GeoMatch};

pub const DEFAULT_K: usize = 5;
pub const MAX_K: usize = 100;

/// `/stations/nearest` parameters exactly as received; every field is text
/// so a wrong value gets a precise message rather than a generic parse error.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NearestParams {
    /// Latitude of the customer, in `crs`.
    pub lat: Option<String>,
    /// Longitude of the customer, in `crs`.
    pub lon: Option<String>,
    /// Free-text Chinese address (or pinyin city name) instead of lat/lon.
    pub address: Option<String>,
    /// How many stations, 1-100 (default 5).
    pub k: Option<String>,
    /// `onsite` or `carry_in`.
    pub service: Option<String>,
    /// A product line, e.g. `notebook`.
    pub product: Option<String>,
    /// `true` to keep only stations open now.
    pub open_now: Option<String>,
    /// RFC 3339 time: keep only stations open then.
    pub open_at: Option<String>,
    /// Only stations within this many kilometres.
    pub max_km: Option<String>,
    /// Coordinate system of `lat`/`lon` and of the answer: wgs84 (default), gcj02, bd09.
    pub crs: Option<String>,
    /// Coordinate system of the answer when it differs from `crs` (e.g. a
    /// browser's WGS-84 position drawn on AMap tiles: `crs=wgs84&out_crs=gcj02`).
    pub out_crs: Option<String>,
}

/// A validated nearest-station query.
#[derive(Debug, Clone)]
pub struct NearestQuery {
    /// WGS-84.
    pub point: LatLon,
    pub crs: Crs,
    /// The system answers are given in.
    pub out_crs: Crs,
    pub k: usize,
    pub max_m: Option<f64>,
    pub filter: StationFilter,
    pub division: Option<GeoMatch>,
    pub remainder: Option<String>,
}

fn num(field: &str, v: &str) -> Result<f64, FieldError> {
    match v.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(FieldError::new(
            field,
            format!("{field} must be a finite number, got {v:?}"),
        )),
    }
}

pub fn parse_bool(field: &str, v: &str) -> Result<bool, FieldError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err(FieldError::new(
            field,
            format!("{field} must be true or false, got {v:?}"),
        )),
    }
}

pub fn parse_time(field: &str, v: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::parse_from_rfc3339(v.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            FieldError::new(
                field,
                format!(
                    "{field} must be an RFC 3339 time like 2026-11-23T10:00:00+08:00, got {v:?}"
                ),
            )
        })
}

pub fn parse_crs(v: Option<&str>) -> Result<Crs, FieldError> {
    v.map(str::parse::<Crs>)
        .transpose()
        .map(Option::unwrap_or_default)
}

impl NearestParams {
    /// Validates every field, collecting all problems; `now` is the clock
    /// for `open_now`.
    pub fn resolve(
        &self,
        gaz: &Gazetteer,
        now: DateTime<Utc>,
    ) -> Result<NearestQuery, Vec<FieldError>> {
        let mut errs = Fields::new();
        // `take!` keeps an optional input's value or records its error.
        macro_rules! take {
            ($e:expr) => {
                errs.take($e).flatten()
            };
        }
        let crs = take!(parse_crs(self.crs.as_deref()).map(Some)).unwrap_or_default();
        let out_crs = match self.out_crs.as_deref() {
            None => crs,
            Some(v) => take!(v
                .parse::<Crs>()
                .map(Some)
                .map_err(|e| FieldError::new("out_crs", e.message)))
            .unwrap_or_default(),
        };
        let k = take!(self
            .k
            .as_deref()
            .map(|v| match v.trim().parse::<usize>() {
                Ok(k) if (1..=MAX_K).contains(&k) => Ok(k),
                _ => Err(FieldError::new(
                    "k",
                    format!("k must be a whole number from 1 to {MAX_K}, got {v:?}")
                )),
            })
            .transpose())
        .unwrap_or(DEFAULT_K);
        let service = take!(self
            .service
            .as_deref()
            .map(str::parse::<Service>)
            .transpose());
        let product = take!(self
            .product
            .as_deref()
            .map(str::parse::<Product>)
            .transpose());
        let open_now = take!(self
            .open_now
            .as_deref()
            .map(|v| parse_bool("open_now", v))
            .transpose());
        let open_at = take!(self
            .open_at
            .as_deref()
            .map(|v| parse_time("open_at", v))
            .transpose());
        if open_now == Some(true) && open_at.is_some() {
            errs.push(FieldError::new(
                "open_at",
                "give open_now or open_at, not both",
            ));
        }
        let max_m = take!(self
            .max_km
            .as_deref()
            .map(|v| num("max_km", v).and_then(|x| {
                if x > 0.0 && x <= 20_037.6 {
                    Ok(x * 1000.0)
                } else {
                    Err(FieldError::new(
                        "max_km",
                        format!("max_km must be in (0, 20037.6], got {v:?}"),
                    ))
                }
            }))
            .transpose());

        let mut division = None;
        let mut remainder = None;
        let point = match (&self.lat, &self.lon, &self.address) {
            (Some(_), Some(_), Some(_)) => {
                errs.push(FieldError::new(
                    "address",
                    "give lat/lon or address, not both",
                ));
                None
            }
            (Some(lat), Some(lon), None) => {
                let lat = take!(num("lat", lat).map(Some));
                let lon = take!(num("lon", lon).map(Some));
                match (lat, lon) {
                    (Some(lat), Some(lon)) => {
                        take!(LatLon::new(lat, lon).map(|p| Some(crs.to_wgs84(p))))
                    }
                    _ => None,
                }
            }
            (None, None, Some(addr)) if addr.chars().count() > crate::places::MAX_ADDRESS_CHARS => {
                errs.push(FieldError::new(
                    "address",
                    format!(
                        "address is longer than {} characters",
                        crate::places::MAX_ADDRESS_CHARS
                    ),
                ));
                None
            }
            (None, None, Some(addr)) => {
                let g = gaz.geocode(addr);
                if let Some(m) = g.matches.into_iter().next() {
                    let p = LatLon::new(m.lat, m.lon).ok();
                    remainder = Some(g.remainder).filter(|r| !r.is_empty());
                    division = Some(m);
                    p
                } else {
                    errs.push(FieldError::new(
                        "address",
                        format!("no division of China matches {addr:?}"),
                    ));
                    None
                }
            }
            (None, None, None) => {
                errs.push(FieldError::new("lat", "give lat and lon, or address"));
                None
            }
            _ => {
                errs.push(FieldError::new("lat", "lat and lon go together"));
                None
            }
        };
        let Some(point) = point else {
            return Err(errs.into_errors());
        };
        errs.finish()?;
        Ok(NearestQuery {
            point,
            crs,
            out_crs,
            k,
            max_m,
            filter: StationFilter {
                service,
                product,
                open_at: if open_now == Some(true) {
                    Some(now)
                } else {
                    open_at
                },
            },
            division,
            remainder,
        })
    }
}

impl NearestQuery {
    pub fn run<'a>(&self, index: &'a StationIndex) -> Vec<super::index::Hit<'a>> {
        index.nearest(self.point, self.k, self.max_m, &self.filter)
    }
}

/// A station as the API shows it: the stored fields, with the point in the
/// caller's coordinate system and whether it is open at the time asked.
/// It borrows from the station, so answering costs no copies.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StationView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub province: &'a str,
    pub city: &'a str,
    #[schema(value_type = String, example = "510703")]
    pub adcode: crate::basic::Adcode,
    pub region: &'a str,
    pub region_name: &'a str,
    pub address: &'a str,
    pub phone: &'a str,
    pub lat: f64,
    pub lon: f64,
    pub crs: Crs,
    #[schema(value_type = Vec<Service>)]
    pub services: &'a BTreeSet<Service>,
    #[schema(value_type = Vec<Product>)]
    pub products: &'a BTreeSet<Product>,
    pub opening_hours: &'a str,
    pub timezone: &'a str,
    pub onsite_radius_km: Option<f64>,
    pub open_now: bool,
    /// When a closed station next opens (null while it is open).
    pub next_open_at: Option<DateTime<Utc>>,
}

impl<'a> StationView<'a> {
    pub fn new(s: &'a Station, crs: Crs, now: DateTime<Utc>) -> Self {
        let p = crs.from_wgs84(s.location);
        StationView {
            id: s.id.as_str(),
            name: &s.name,
            province: &s.province,
            city: &s.city,
            adcode: s.adcode,
            region: s.region.code(),
            region_name: s.region.name_zh(),
            address: &s.address,
            phone: &s.phone,
            lat: p.lat,
            lon: p.lon,
            crs,
            services: &s.services,
            products: &s.products,
            opening_hours: s.opening_hours.as_str(),
            timezone: s.timezone.name(),
            onsite_radius_km: s.onsite_radius_km,
            open_now: s.is_open(now),
            next_open_at: s.next_open(now),
        }
    }
}
