//! Station directory types. Every value here is validated on construction, so
//! the rest of the program never re-checks a coordinate, an adcode or an id.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::basic::{string_enum, Adcode, FieldError, Fields, LatLon};
use crate::places::Region;

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
    (i64, u64),
    HashMap<(usize, chrono_tz::Tz), (Arc<HoursInner>, bool)>,
);

/// The public holidays `PH` means in opening hours (`Mo-Fr 09:00-18:00;
/// PH off`), with a generation number so per-minute answers are forgotten
/// when the list changes. One list per process: the one the dispatch
/// calendar uses, set at start ([`use_public_holidays`]). Make-up working
/// days (调休) have no OSM syntax; a station open on one writes it as a
/// date rule (`2026 Sep 27 09:00-18:00`).
static PUBLIC_HOLIDAYS: std::sync::RwLock<Option<opening_hours::Context>> =
    std::sync::RwLock::new(None);
static HOLIDAYS_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Makes `PH` in every station's opening hours mean these dates.
pub fn use_public_holidays(dates: impl IntoIterator<Item = chrono::NaiveDate>) {
    let mut cal = compact_calendar::CompactCalendar::default();
    for d in dates {
        cal.insert(d);
    }
    let holidays = opening_hours::ContextHolidays::new(
        Arc::new(cal),
        Arc::new(compact_calendar::CompactCalendar::default()),
    );
    let ctx = opening_hours::Context::default().with_holidays(holidays);
    *PUBLIC_HOLIDAYS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ctx);
    HOLIDAYS_GENERATION.fetch_add(1, std::sync::atomic::Ordering::Release);
}

/// The schedule evaluated with the public holidays.
fn with_holidays(parsed: &opening_hours::OpeningHours) -> opening_hours::OpeningHours {
    let g = PUBLIC_HOLIDAYS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match &*g {
        Some(ctx) => parsed.clone().with_context(ctx.clone()),
        None => parsed.clone(),
    }
}

thread_local! {
    static OPEN_NOW: RefCell<OpenCache> = RefCell::new(((i64::MIN, 0), HashMap::new()));
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
        if let Some(hit) = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(raw)
        {
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
        let mut map = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
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
        let generation = HOLIDAYS_GENERATION.load(std::sync::atomic::Ordering::Acquire);
        OPEN_NOW.with(|c| {
            let mut c = c.borrow_mut();
            if c.0 != (minute, generation) {
                c.0 = (minute, generation);
                c.1.clear();
            }
            if let Some((_, open)) = c.1.get(&key) {
                return *open;
            }
            let start = DateTime::<Utc>::from_timestamp(minute * 60, 0).unwrap_or(at);
            let open =
                with_holidays(&self.0.parsed).is_open(start.with_timezone(&tz).naive_local());
            c.1.insert(key, (self.0.clone(), open));
            open
        })
    }
}

/// How far ahead the next opening is looked for: a station closed for more
/// than a year has none to show.
const NEXT_OPEN_HORIZON_DAYS: i64 = 400;

impl OpeningHours {
    /// When the station next opens after `at` (read on the wall clock of
    /// `tz`), or `None` when it is open at `at` or does not open within
    /// [`NEXT_OPEN_HORIZON_DAYS`].
    pub fn next_open(&self, at: DateTime<Utc>, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
        if self.is_open(at, tz) {
            return None;
        }
        let local = at.with_timezone(&tz).naive_local();
        // Only so far ahead: for a rule that never opens (`Mo 09:00-10:00
        // off`, found by fuzzing) `next_change` walks every day to the
        // year 10000, seconds per station in every listing.
        let horizon = local + chrono::Duration::days(NEXT_OPEN_HORIZON_DAYS);
        let closed = with_holidays(&self.0.parsed)
            .iter_range(local, horizon)
            .next()?;
        let next = closed.range.end;
        if next >= horizon {
            return None;
        }
        // A change out of "closed" is an opening; a local time that a
        // clock change skips opens at the earliest real instant after it.
        tz.from_local_datetime(&next)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
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
    /// When the station next opens (`None` when it is open at `at`).
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.opening_hours.next_open(at, self.timezone)
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
        Fields::collect(|f| {
            let id = f.take(StationId::parse(d.id.trim()));
            let name = f.take(text("name", &d.name, 120, true));
            let province = f.take(text("province", &d.province, 40, false));
            let city = f.take(text("city", &d.city, 40, false));
            let address = f.take(text("address", &d.address, 200, false));
            let phone = f.take(text("phone", &d.phone, 40, false));
            let adcode = f.take(Adcode::from_json(&d.adcode));
            let location = f.take(LatLon::new(d.lat, d.lon));
            let services: Option<BTreeSet<Service>> = f.take_as(
                "services",
                d.services.iter().map(|s| s.parse::<Service>()).collect(),
            );
            let products: Option<BTreeSet<Product>> = f.take_as(
                "products",
                d.products.iter().map(|s| s.parse::<Product>()).collect(),
            );
            f.check(
                !services.as_ref().is_some_and(BTreeSet::is_empty),
                "services",
                "at least one service is required",
            );
            f.check(
                !products.as_ref().is_some_and(BTreeSet::is_empty),
                "products",
                "at least one product is required",
            );
            let opening_hours = f.take(OpeningHours::parse(&d.opening_hours));
            let timezone = f.take(d.timezone.trim().parse::<chrono_tz::Tz>().map_err(|_| {
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
                (true, Some(r)) => f.take(Err(FieldError::new(
                    "onsite_radius_km",
                    format!("onsite_radius_km must be in (0, 500], got {r}"),
                ))),
                (true, None) => f.take(Err(FieldError::new(
                    "onsite_radius_km",
                    "a station offering onsite repair needs onsite_radius_km",
                ))),
                (false, Some(_)) => f.take(Err(FieldError::new(
                    "onsite_radius_km",
                    "onsite_radius_km is only allowed with the onsite service",
                ))),
                (false, None) => None,
            };
            let region = match (&d.region, adcode) {
                (Some(r), Some(a)) if !r.trim().is_empty() => f.take_as(
                    "region",
                    r.parse::<Region>().and_then(|reg| {
                        if Region::of_adcode(a) == Some(reg) {
                            Ok(reg)
                        } else {
                            Err(FieldError::new(
                                "region",
                                format!("region {reg} does not contain adcode {a}"),
                            ))
                        }
                    }),
                ),
                (_, Some(a)) => f.take(Region::of_adcode(a).ok_or_else(|| {
                    FieldError::new(
                        "adcode",
                        format!("adcode {a} is not in a mainland service region"),
                    )
                })),
                (_, None) => None,
            };
            Some(Station {
                id: id?,
                name: name?,
                province: province?,
                city: city?,
                adcode: adcode?,
                region: region?,
                address: address?,
                phone: phone?,
                location: location?,
                services: services?,
                products: products?,
                opening_hours: opening_hours?,
                timezone: timezone?,
                onsite_radius_km,
            })
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
            services: s
                .services
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            products: s
                .products
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
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
    fn station_id_validation() {
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
    fn next_open_is_the_next_opening_on_the_station_clock() {
        let oh = OpeningHours::parse("Mo-Sa 09:00-18:00").unwrap();
        let tz = chrono_tz::Asia::Shanghai;
        // Monday 20:00 in Shanghai: opens Tuesday 09:00 (01:00 UTC).
        let at = "2026-11-23T12:00:00Z".parse().unwrap();
        assert_eq!(
            oh.next_open(at, tz),
            Some("2026-11-24T01:00:00Z".parse().unwrap())
        );
        // Saturday 19:00: closed Sunday, opens Monday 09:00.
        let at = "2026-11-28T11:00:00Z".parse().unwrap();
        assert_eq!(
            oh.next_open(at, tz),
            Some("2026-11-30T01:00:00Z".parse().unwrap())
        );
        // Open now: nothing to wait for.
        assert_eq!(
            oh.next_open("2026-11-23T02:00:00Z".parse().unwrap(), tz),
            None
        );
    }

    #[test]
    fn a_station_that_never_opens_has_no_next_opening() {
        let tz = chrono_tz::Asia::Shanghai;
        let at = "2026-12-02T12:00:00Z".parse().unwrap();
        // Valid OSM that is closed at every hour (fuzzing found the first
        // one taking seconds: the search walked to the year 10000).
        for raw in ["Mo 09:00-10:00 off", "Mo-Fr 08:30-12:00,13:30-17:08 off"] {
            let oh = OpeningHours::parse(raw).unwrap();
            assert!(!oh.is_open(at, tz), "{raw}");
            assert_eq!(oh.next_open(at, tz), None, "{raw}");
        }
        // Closed for the holidays, then open: the opening after them.
        let oh = OpeningHours::parse("Mo-Su 09:00-18:00; Dec 01-Dec 31 off").unwrap();
        assert_eq!(
            oh.next_open(at, tz),
            Some("2027-01-01T01:00:00Z".parse().unwrap())
        );
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
