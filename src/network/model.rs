//! Station directory types. Every value here is validated on construction, so
//! the rest of the program never re-checks a coordinate, an adcode or an id.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::places::Region;

/// Mean Earth radius (IUGG), metres; all distances in repairnet use it.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Why a value was rejected; `field` names the input field for error reports.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, ToSchema)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A WGS-84 point. Latitude in [-90, 90], longitude in [-180, 180], both finite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

impl LatLon {
    pub fn new(lat: f64, lon: f64) -> Result<Self, FieldError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(FieldError::new(
                "lat",
                format!("latitude must be a number in [-90, 90], got {lat}"),
            ));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(FieldError::new(
                "lon",
                format!("longitude must be a number in [-180, 180], got {lon}"),
            ));
        }
        Ok(Self { lat, lon })
    }

    /// Unit vector on the sphere; chord length between two of these is
    /// monotonic in great-circle distance, which makes a 3-D R-tree exact.
    pub fn to_unit_vector(self) -> [f64; 3] {
        let (lat, lon) = (self.lat.to_radians(), self.lon.to_radians());
        [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
    }

    /// Great-circle distance in metres (haversine).
    pub fn haversine_m(self, other: LatLon) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
    }
}

impl<'de> Deserialize<'de> for LatLon {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            lat: f64,
            lon: f64,
        }
        let raw = Raw::deserialize(d)?;
        LatLon::new(raw.lat, raw.lon).map_err(serde::de::Error::custom)
    }
}

/// Chord length (unit sphere) that corresponds to a great-circle distance.
pub fn chord_for_metres(m: f64) -> f64 {
    let angle = (m / EARTH_RADIUS_M).min(std::f64::consts::PI);
    2.0 * (angle / 2.0).sin()
}

/// Great-circle metres for a chord length on the unit sphere.
pub fn metres_for_chord(chord: f64) -> f64 {
    2.0 * (chord / 2.0).clamp(-1.0, 1.0).asin() * EARTH_RADIUS_M
}

/// A station's stable identifier: 1–64 characters of `A-Z a-z 0-9 _ -`,
/// so it is safe in URLs, CSV and logs without escaping.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(transparent)]
pub struct StationId(String);

impl StationId {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::new(
                "id",
                format!(
                    "station id must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-', got {s:?}"
                ),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for StationId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        StationId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A six-digit GB/T 2260 administrative division code (e.g. 510703).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ToSchema)]
#[schema(value_type = String, example = "510703")]
pub struct Adcode(u32);

impl Adcode {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        match s.parse::<u32>() {
            Ok(v) if s.len() == 6 && (110000..=829999).contains(&v) => Ok(Self(v)),
            _ => Err(FieldError::new(
                "adcode",
                format!("adcode must be 6 digits between 110000 and 829999, got {s:?}"),
            )),
        }
    }
    pub fn from_u32(v: u32) -> Result<Self, FieldError> {
        Self::parse(&format!("{v:06}"))
    }
    pub fn value(self) -> u32 {
        self.0
    }
    /// The two-digit province prefix (e.g. 51 for 四川).
    pub fn province_code(self) -> u32 {
        self.0 / 10_000
    }
    /// The province-level adcode (e.g. 510000).
    pub fn province(self) -> Adcode {
        Adcode(self.0 / 10_000 * 10_000)
    }
    /// The prefecture-level adcode (e.g. 510700).
    pub fn prefecture(self) -> Adcode {
        Adcode(self.0 / 100 * 100)
    }
}

impl fmt::Display for Adcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl FromStr for Adcode {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Adcode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Adcode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            N(u32),
        }
        match Raw::deserialize(d)? {
            Raw::S(s) => Adcode::parse(&s),
            Raw::N(n) => Adcode::from_u32(n),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// Generates a closed string enum with snake_case names, `FromStr`, `Display`
/// and an `ALL` list, so query parameters, CSV cells and JSON agree.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = FieldError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim() {
                    $($text => Ok($name::$variant),)+
                    other => Err(FieldError::new(
                        stringify!($name).to_ascii_lowercase(),
                        format!(
                            "unknown value {other:?}; expected one of: {}",
                            [$($text),+].join(", ")
                        ),
                    )),
                }
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// How a station serves customers.
    Service { Onsite => "onsite", CarryIn => "carry_in" }
);

string_enum!(
    /// Product lines a station or technician can repair.
    Product {
        Notebook => "notebook",
        Desktop => "desktop",
        AllInOne => "all_in_one",
        Monitor => "monitor",
        Tablet => "tablet",
        Printer => "printer",
        Server => "server",
    }
);

/// Parses a list like `notebook;desktop` or `notebook,desktop` (CSV cells).
pub fn parse_list<T: FromStr<Err = FieldError> + Ord>(
    field: &str,
    s: &str,
) -> Result<BTreeSet<T>, FieldError> {
    s.split([';', ',', '|'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<T>()
                .map_err(|e| FieldError::new(field, e.message))
        })
        .collect()
}

/// Joins list values the way CSV cells and the database store them: `a;b`.
pub fn join_list<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

/// Collects every problem found while parsing optional inputs, so one
/// response can list them all.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    /// Parses `value` when present; a failure is recorded under `field`.
    pub fn opt<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        match value.map(parse) {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                self.0.push(FieldError::new(field, e.message));
                None
            }
        }
    }

    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// OSM `opening_hours`, parsed once; evaluated in the station's time zone.
///
/// A network uses a handful of distinct hour strings for hundreds of
/// thousands of stations, so parsed values are shared (parsing was a third
/// of import time) and each thread remembers, for the current minute,
/// whether a given schedule is open (state can only change on a whole
/// minute in this syntax).
#[derive(Clone)]
pub struct OpeningHours(Arc<HoursInner>);

struct HoursInner {
    raw: String,
    parsed: opening_hours::OpeningHours,
}

/// Distinct schedules kept for sharing; past this the cache starts afresh.
const HOURS_CACHE_LIMIT: usize = 4096;

type OpenCache = (
    i64,
    HashMap<(usize, chrono_tz::Tz), (Arc<HoursInner>, bool)>,
);

thread_local! {
    static OPEN_NOW: RefCell<OpenCache> = RefCell::new((i64::MIN, HashMap::new()));
}

impl OpeningHours {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        static PARSED: OnceLock<Mutex<HashMap<String, Arc<HoursInner>>>> = OnceLock::new();
        let raw = s.trim();
        if raw.is_empty() || raw.len() > 255 {
            return Err(FieldError::new(
                "opening_hours",
                "opening_hours must be 1-255 characters of OSM opening_hours syntax",
            ));
        }
        let cache = PARSED.get_or_init(Default::default);
        if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(raw) {
            return Ok(Self(hit.clone()));
        }
        let parsed = raw.parse::<opening_hours::OpeningHours>().map_err(|e| {
            FieldError::new(
                "opening_hours",
                format!("not valid OSM opening_hours ({raw:?}): {e}"),
            )
        })?;
        let inner = Arc::new(HoursInner {
            raw: raw.to_owned(),
            parsed,
        });
        let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= HOURS_CACHE_LIMIT {
            map.clear();
        }
        map.insert(raw.to_owned(), inner.clone());
        Ok(Self(inner))
    }

    pub fn as_str(&self) -> &str {
        &self.0.raw
    }

    /// Whether the station is open at `at`, read on the wall clock of `tz`.
    pub fn is_open(&self, at: DateTime<Utc>, tz: chrono_tz::Tz) -> bool {
        let minute = at.timestamp().div_euclid(60);
        // The key holds the Arc, so its address cannot be reused while cached.
        let key = (Arc::as_ptr(&self.0) as usize, tz);
        OPEN_NOW.with(|c| {
            let mut c = c.borrow_mut();
            if c.0 != minute {
                c.0 = minute;
                c.1.clear();
            }
            if let Some((_, open)) = c.1.get(&key) {
                return *open;
            }
            let start = DateTime::<Utc>::from_timestamp(minute * 60, 0).unwrap_or(at);
            let open = self
                .0
                .parsed
                .is_open(start.with_timezone(&tz).naive_local());
            c.1.insert(key, (self.0.clone(), open));
            open
        })
    }
}

impl fmt::Debug for OpeningHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpeningHours({:?})", self.0.raw)
    }
}

impl PartialEq for OpeningHours {
    fn eq(&self, other: &Self) -> bool {
        self.0.raw == other.0.raw
    }
}

/// A validated station. Build one from a [`StationDraft`] with `TryFrom`.
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    pub id: StationId,
    pub name: String,
    pub province: String,
    pub city: String,
    pub adcode: Adcode,
    pub region: Region,
    pub address: String,
    pub phone: String,
    pub location: LatLon,
    pub services: BTreeSet<Service>,
    pub products: BTreeSet<Product>,
    pub opening_hours: OpeningHours,
    pub timezone: chrono_tz::Tz,
    /// Present exactly when the station offers on-site repair.
    pub onsite_radius_km: Option<f64>,
}

impl Station {
    pub fn offers(&self, service: Service) -> bool {
        self.services.contains(&service)
    }
    pub fn repairs(&self, product: Product) -> bool {
        self.products.contains(&product)
    }
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.opening_hours.is_open(at, self.timezone)
    }
}

/// The wire and file form of a station: plain fields, as JSON, CSV and
/// GeoJSON carry them. Validation turns it into a [`Station`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StationDraft {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub province: String,
    #[serde(default)]
    pub city: String,
    #[schema(value_type = String, example = "510703")]
    pub adcode: serde_json::Value,
    /// Derived from the adcode's province when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone: String,
    pub lat: f64,
    pub lon: f64,
    pub services: Vec<String>,
    pub products: Vec<String>,
    #[serde(default = "default_hours")]
    pub opening_hours: String,
    #[serde(default = "default_tz")]
    pub timezone: String,
    #[serde(default)]
    pub onsite_radius_km: Option<f64>,
}

fn default_hours() -> String {
    "Mo-Su 09:00-18:00".to_owned()
}
fn default_tz() -> String {
    "Asia/Shanghai".to_owned()
}

fn text(field: &str, s: &str, max: usize, required: bool) -> Result<String, FieldError> {
    let t = s.trim();
    if required && t.is_empty() {
        return Err(FieldError::new(field, format!("{field} is required")));
    }
    if t.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            format!("{field} contains control characters"),
        ));
    }
    Ok(t.to_owned())
}

impl TryFrom<StationDraft> for Station {
    /// Every problem with the draft, not just the first, so an import report
    /// can list them all at once.
    type Error = Vec<FieldError>;

    fn try_from(d: StationDraft) -> Result<Self, Self::Error> {
        let mut errs = Vec::new();
        macro_rules! take {
            ($e:expr) => {
                match $e {
                    Ok(v) => Some(v),
                    Err(e) => {
                        errs.push(e);
                        None
                    }
                }
            };
        }
        let id = take!(StationId::parse(d.id.trim()));
        let name = take!(text("name", &d.name, 120, true));
        let province = take!(text("province", &d.province, 40, false));
        let city = take!(text("city", &d.city, 40, false));
        let address = take!(text("address", &d.address, 200, false));
        let phone = take!(text("phone", &d.phone, 40, false));
        let adcode = take!(match &d.adcode {
            serde_json::Value::String(s) => Adcode::parse(s),
            serde_json::Value::Number(n) => n
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .map(Adcode::from_u32)
                .unwrap_or_else(|| Err(FieldError::new("adcode", "adcode must be 6 digits"))),
            _ => Err(FieldError::new("adcode", "adcode must be 6 digits")),
        });
        let location = take!(LatLon::new(d.lat, d.lon));
        let services: Option<BTreeSet<Service>> = take!(d
            .services
            .iter()
            .map(|s| s.parse::<Service>())
            .collect::<Result<_, _>>()
            .map_err(|e| FieldError::new("services", e.message)));
        let products: Option<BTreeSet<Product>> = take!(d
            .products
            .iter()
            .map(|s| s.parse::<Product>())
            .collect::<Result<_, _>>()
            .map_err(|e| FieldError::new("products", e.message)));
        if services.as_ref().is_some_and(BTreeSet::is_empty) {
            errs.push(FieldError::new(
                "services",
                "at least one service is required",
            ));
        }
        if products.as_ref().is_some_and(BTreeSet::is_empty) {
            errs.push(FieldError::new(
                "products",
                "at least one product is required",
            ));
        }
        let opening_hours = take!(OpeningHours::parse(&d.opening_hours));
        let timezone = take!(d.timezone.trim().parse::<chrono_tz::Tz>().map_err(|_| {
            FieldError::new(
                "timezone",
                format!("unknown IANA time zone {:?}", d.timezone),
            )
        }));
        let onsite = services
            .as_ref()
            .is_some_and(|s| s.contains(&Service::Onsite));
        let onsite_radius_km = match (onsite, d.onsite_radius_km) {
            (true, Some(r)) if r.is_finite() && r > 0.0 && r <= 500.0 => Some(r),
            (true, Some(r)) => {
                errs.push(FieldError::new(
                    "onsite_radius_km",
                    format!("onsite_radius_km must be in (0, 500], got {r}"),
                ));
                None
            }
            (true, None) => {
                errs.push(FieldError::new(
                    "onsite_radius_km",
                    "a station offering onsite repair needs onsite_radius_km",
                ));
                None
            }
            (false, Some(_)) => {
                errs.push(FieldError::new(
                    "onsite_radius_km",
                    "onsite_radius_km is only allowed with the onsite service",
                ));
                None
            }
            (false, None) => None,
        };
        let region = match (&d.region, adcode) {
            (Some(r), Some(a)) if !r.trim().is_empty() => match r.parse::<Region>() {
                Ok(reg) if Region::of_adcode(a) == Some(reg) => Some(reg),
                Ok(reg) => {
                    errs.push(FieldError::new(
                        "region",
                        format!("region {reg} does not contain adcode {a}"),
                    ));
                    None
                }
                Err(e) => {
                    errs.push(FieldError::new("region", e.message));
                    None
                }
            },
            (_, Some(a)) => match Region::of_adcode(a) {
                Some(r) => Some(r),
                None => {
                    errs.push(FieldError::new(
                        "adcode",
                        format!("adcode {a} is not in a mainland service region"),
                    ));
                    None
                }
            },
            (_, None) => None,
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        // All `take!`s succeeded when `errs` is empty.
        Ok(Station {
            id: id.expect("checked"),
            name: name.expect("checked"),
            province: province.expect("checked"),
            city: city.expect("checked"),
            adcode: adcode.expect("checked"),
            region: region.expect("checked"),
            address: address.expect("checked"),
            phone: phone.expect("checked"),
            location: location.expect("checked"),
            services: services.expect("checked"),
            products: products.expect("checked"),
            opening_hours: opening_hours.expect("checked"),
            timezone: timezone.expect("checked"),
            onsite_radius_km,
        })
    }
}

impl From<&Station> for StationDraft {
    fn from(s: &Station) -> Self {
        StationDraft {
            id: s.id.to_string(),
            name: s.name.clone(),
            province: s.province.clone(),
            city: s.city.clone(),
            adcode: serde_json::Value::String(s.adcode.to_string()),
            region: Some(s.region.code().to_owned()),
            address: s.address.clone(),
            phone: s.phone.clone(),
            lat: s.location.lat,
            lon: s.location.lon,
            services: s.services.iter().map(|v| v.to_string()).collect(),
            products: s.products.iter().map(|v| v.to_string()).collect(),
            opening_hours: s.opening_hours.as_str().to_owned(),
            timezone: s.timezone.name().to_owned(),
            onsite_radius_km: s.onsite_radius_km,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latlon_rejects_out_of_range_and_nan() {
        assert!(LatLon::new(91.0, 0.0).is_err());
        assert!(LatLon::new(0.0, 180.5).is_err());
        assert!(LatLon::new(f64::NAN, 0.0).is_err());
        assert!(LatLon::new(0.0, f64::INFINITY).is_err());
        assert!(LatLon::new(-90.0, -180.0).is_ok());
    }

    #[test]
    fn haversine_matches_known_distance() {
        // Beijing Tiananmen to Shanghai People's Square: about 1,067 km.
        let bj = LatLon::new(39.9087, 116.3975).unwrap();
        let sh = LatLon::new(31.2304, 121.4737).unwrap();
        let d = bj.haversine_m(sh);
        assert!((d - 1_067_000.0).abs() < 5_000.0, "{d}");
    }

    #[test]
    fn chord_round_trips_metres() {
        for m in [0.0, 1.0, 1_000.0, 1_000_000.0, 19_000_000.0] {
            let back = metres_for_chord(chord_for_metres(m));
            assert!((back - m).abs() < 1e-6 * m.max(1.0), "{m} -> {back}");
        }
    }

    #[test]
    fn adcode_and_id_validation() {
        assert_eq!(Adcode::parse("510703").unwrap().value(), 510703);
        assert_eq!(
            Adcode::parse("510703").unwrap().prefecture().to_string(),
            "510700"
        );
        assert!(Adcode::parse("51070").is_err());
        assert!(Adcode::parse("abcdef").is_err());
        assert!(StationId::parse("S-510703_01").is_ok());
        assert!(StationId::parse("bad id").is_err());
        assert!(StationId::parse("").is_err());
    }

    #[test]
    fn enums_parse_their_names_only() {
        assert_eq!("carry_in".parse::<Service>().unwrap(), Service::CarryIn);
        assert!("teleport".parse::<Service>().is_err());
        assert_eq!("notebook".parse::<Product>().unwrap(), Product::Notebook);
    }

    fn draft() -> StationDraft {
        StationDraft {
            id: "S1".into(),
            name: "绵阳涪城服务站".into(),
            adcode: serde_json::json!("510703"),
            lat: 31.46,
            lon: 104.75,
            services: vec!["onsite".into(), "carry_in".into()],
            products: vec!["notebook".into()],
            opening_hours: "Mo-Su 09:00-18:00".into(),
            timezone: "Asia/Shanghai".into(),
            onsite_radius_km: Some(30.0),
            ..Default::default()
        }
    }

    #[test]
    fn draft_validates_and_collects_every_error() {
        let s = Station::try_from(draft()).unwrap();
        assert_eq!(s.region, Region::Southwest);
        let mut bad = draft();
        bad.lat = 123.0;
        bad.services = vec!["carry_in".into()];
        bad.opening_hours = "whenever".into();
        let errs = Station::try_from(bad).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"lat"));
        assert!(fields.contains(&"opening_hours"));
        assert!(fields.contains(&"onsite_radius_km"), "{fields:?}");
    }

    #[test]
    fn opening_hours_evaluated_in_station_time_zone() {
        let oh = OpeningHours::parse("Mo-Sa 09:00-18:00").unwrap();
        let tz = chrono_tz::Asia::Shanghai;
        // 2026-11-23 is a Monday; 02:00 UTC is 10:00 in Shanghai.
        let at = "2026-11-23T02:00:00Z".parse().unwrap();
        assert!(oh.is_open(at, tz));
        // 12:00 UTC is 20:00 in Shanghai: closed.
        let at = "2026-11-23T12:00:00Z".parse().unwrap();
        assert!(!oh.is_open(at, tz));
        // Sunday 10:00 local.
        let at = "2026-11-29T02:00:00Z".parse().unwrap();
        assert!(!oh.is_open(at, tz));
    }
}
