//! Job intake: the job request as an agent sends it, and its validation into
//! a [`JobInput`] (every problem reported at once, field by field).

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{Customer, CustomerDraft, Damage, ItemCondition, JobKind, RequestKind};
use super::warranty::WarrantyInput;
use crate::basic::{string_enum, FieldError, Fields, LatLon};
use crate::network::model::{Product, StationId};
use crate::places::{Crs, Gazetteer, GeoMatch};

/// How far ahead a slot may be booked.
pub const MAX_SLOT_DAYS: i64 = 30;

fn quality() -> String {
    "quality_problem".into()
}
fn no_damage() -> String {
    "none".into()
}

/// The item's condition as an agent records it; by default a used item with
/// its packaging, bought at the normal price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemDraft {
    #[serde(default)]
    pub resalable: bool,
    #[serde(default = "yes")]
    pub packaging_complete: bool,
    #[serde(default)]
    pub custom_made: bool,
    #[serde(default)]
    pub special_price: bool,
}

fn yes() -> bool {
    true
}

impl Default for ItemDraft {
    fn default() -> Self {
        ItemDraft {
            resalable: false,
            packaging_complete: true,
            custom_made: false,
            special_price: false,
        }
    }
}

impl From<ItemDraft> for ItemCondition {
    fn from(d: ItemDraft) -> Self {
        ItemCondition {
            resalable: d.resalable,
            packaging_complete: d.packaging_complete,
            custom_made: d.custom_made,
            special_price: d.special_price,
        }
    }
}

string_enum!(
    /// A half-day visit window.
    Period { Am => "am", Pm => "pm" }
);

impl Period {
    /// When the window starts on the local clock; a window that has started
    /// is no longer offered or booked.
    pub fn starts(self) -> chrono::NaiveTime {
        match self {
            Period::Am => chrono::NaiveTime::from_hms_opt(9, 0, 0),
            Period::Pm => chrono::NaiveTime::from_hms_opt(13, 0, 0),
        }
        .unwrap_or(chrono::NaiveTime::MIN)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Slot {
    pub date: NaiveDate,
    pub period: Period,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotDraft {
    pub date: String,
    pub period: String,
}

/// `POST /api/v1/jobs` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobDraft {
    /// `onsite` or `carry_in`.
    pub kind: String,
    pub customer: CustomerDraft,
    /// The customer's address as spoken; locates the job when no point is given.
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lon: Option<f64>,
    /// Coordinate system of lat/lon (default wgs84).
    #[serde(default)]
    pub crs: Option<String>,
    pub product: String,
    /// `YYYY-MM-DD`.
    pub purchase_date: String,
    /// `quality_problem` (default) or `no_reason_return`.
    #[serde(default = "quality")]
    pub request: String,
    /// `none` (default) or `customer`.
    #[serde(default = "no_damage")]
    pub damage: String,
    #[serde(default)]
    pub item: ItemDraft,
    #[serde(default)]
    pub problem: String,
    /// Carry-in: the receiving station (default: the nearest that repairs
    /// the product). On-site: ignored.
    #[serde(default)]
    pub station_id: Option<String>,
    /// On-site: the visit slot booked with the caller (default: today).
    #[serde(default)]
    pub slot: Option<SlotDraft>,
    /// Override the server's auto-assign setting for this job.
    #[serde(default)]
    pub auto_assign: Option<bool>,
}

/// A validated job request.
#[derive(Debug, Clone)]
pub struct JobInput {
    pub kind: JobKind,
    pub customer: Customer,
    /// WGS-84.
    pub point: LatLon,
    pub address: Option<String>,
    pub division: Option<GeoMatch>,
    pub product: Product,
    pub warranty: WarrantyInput,
    pub problem: String,
    pub station_id: Option<StationId>,
    pub slot: Option<Slot>,
    pub auto_assign: Option<bool>,
}

pub fn parse_date(field: &str, s: &str) -> Result<NaiveDate, FieldError> {
    // Years 1900-9999 only: chrono reads signed years up to ±262,142, and
    // date arithmetic near those ends would overflow.
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (1900..=9999).contains(&d.year()))
        .ok_or_else(|| {
            FieldError::new(
                field,
                format!("{field} must be a date YYYY-MM-DD (years 1900-9999), got {s:?}"),
            )
        })
}

/// The warranty-relevant fields, shared by job intake and the stand-alone
/// warranty check.
pub fn warranty_input(
    purchase_date: &str,
    request: &str,
    damage: &str,
    item: ItemDraft,
    f: &mut Fields,
) -> Option<WarrantyInput> {
    let purchase_date = f.take(parse_date("purchase_date", purchase_date));
    let request = f.take_as("request", request.parse::<RequestKind>());
    let damage = f.take_as("damage", damage.parse::<Damage>());
    Some(WarrantyInput {
        purchase_date: purchase_date?,
        request: request?,
        damage: damage?,
        item: item.into(),
    })
}

impl JobDraft {
    /// Validates every field; an address is resolved with the gazetteer when
    /// no point is given.
    pub fn validate(self, gaz: &Gazetteer, today: NaiveDate) -> Result<JobInput, Vec<FieldError>> {
        Fields::collect(|f| {
            let kind = f.take_as("kind", self.kind.parse::<JobKind>());
            let customer = Customer::try_from(self.customer)
                .map_err(|e| f.extend(e))
                .ok();
            let product = f.take_as("product", self.product.parse::<Product>());
            let warranty = warranty_input(
                &self.purchase_date,
                &self.request,
                &self.damage,
                self.item,
                f,
            );
            let problem = self.problem.trim().to_owned();
            f.check(
                problem.chars().count() <= 2000,
                "problem",
                "problem is longer than 2000 characters",
            );
            let address = self
                .address
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty());
            f.check(
                address
                    .as_ref()
                    .is_none_or(|a| a.chars().count() <= crate::places::MAX_ADDRESS_CHARS),
                "address",
                format!(
                    "address is longer than {} characters",
                    crate::places::MAX_ADDRESS_CHARS
                ),
            );
            let crs = f
                .opt("crs", self.crs.as_deref(), str::parse::<Crs>)
                .unwrap_or_default();
            let mut division = None;
            let point = match (self.lat, self.lon, &address) {
                (Some(lat), Some(lon), _) => f.take(LatLon::new(lat, lon).map(|p| crs.to_wgs84(p))),
                (None, None, Some(a)) => {
                    let g = gaz.geocode(a);
                    let m = f.take(g.matches.into_iter().next().ok_or_else(|| {
                        FieldError::new("address", format!("no division of China matches {a:?}"))
                    }));
                    let p = m.as_ref().and_then(|m| LatLon::new(m.lat, m.lon).ok());
                    division = m;
                    p
                }
                (None, None, None) => f.take(Err(FieldError::new(
                    "address",
                    "give the customer's address or lat and lon",
                ))),
                _ => f.take(Err(FieldError::new("lat", "lat and lon go together"))),
            };
            let station_id = f.opt("station_id", self.station_id.as_deref(), StationId::parse);
            let slot = match self.slot {
                None => None,
                Some(s) => {
                    let date = f.take(parse_date("slot.date", &s.date));
                    let period = f.take(s.period.parse::<Period>().map_err(|_| {
                        FieldError::new(
                            "slot.period",
                            format!("slot.period must be am or pm, got {:?}", s.period.trim()),
                        )
                    }));
                    if let Some(d) = date {
                        f.check(
                            d >= today && d <= today + Duration::days(MAX_SLOT_DAYS),
                            "slot.date",
                            format!(
                            "slot.date must be from today ({today}) to {MAX_SLOT_DAYS} days ahead"
                        ),
                        );
                    }
                    date.zip(period).map(|(date, period)| Slot { date, period })
                }
            };
            f.check(
                !(kind == Some(JobKind::CarryIn) && slot.is_some()),
                "slot",
                "a slot is booked only for onsite jobs",
            );
            Some(JobInput {
                kind: kind?,
                customer: customer?,
                point: point?,
                address,
                division,
                product: product?,
                warranty: warranty?,
                problem,
                station_id,
                slot,
                auto_assign: self.auto_assign,
            })
        })
    }
}

/// `POST /api/v1/warranty/check` body: the warranty fields of a job; other
/// job fields may be sent too and are ignored.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct WarrantyDraft {
    pub purchase_date: String,
    #[serde(default = "quality")]
    pub request: String,
    #[serde(default = "no_damage")]
    pub damage: String,
    #[serde(default)]
    pub item: ItemDraft,
}

impl WarrantyDraft {
    pub fn validate(self) -> Result<WarrantyInput, Vec<FieldError>> {
        let mut f = Fields::new();
        let w = warranty_input(
            &self.purchase_date,
            &self.request,
            &self.damage,
            self.item,
            &mut f,
        );
        match w {
            Some(w) if f.is_empty() => Ok(w),
            _ => Err(f.into_errors()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> JobDraft {
        serde_json::from_value(serde_json::json!({
            "kind": "onsite",
            "customer": {"name": "王芳", "phone": "138 0000 1234"},
            "address": "绵阳涪城临园路",
            "product": "notebook",
            "purchase_date": "2026-10-01",
            "problem": "不开机"
        }))
        .unwrap()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn an_address_locates_the_job() {
        let j = draft().validate(Gazetteer::embedded(), today()).unwrap();
        assert_eq!(j.division.as_ref().unwrap().adcode.to_string(), "510703");
        assert_eq!(j.customer.phone_last4(), "1234");
        assert!(j.item_default_ok());
    }

    impl JobInput {
        fn item_default_ok(&self) -> bool {
            self.warranty.item.packaging_complete && !self.warranty.item.resalable
        }
    }

    #[test]
    fn every_bad_field_is_reported() {
        let mut d = draft();
        d.kind = "teleport".into();
        d.product = "toaster".into();
        d.purchase_date = "01/10/2026".into();
        d.customer.phone = "12".into();
        d.slot = Some(SlotDraft {
            date: "2020-01-01".into(),
            period: "noon".into(),
        });
        let errs = d.validate(Gazetteer::embedded(), today()).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "kind",
            "product",
            "purchase_date",
            "customer.phone",
            "slot.date",
            "slot.period",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn a_point_needs_both_coordinates_and_converts_from_gcj02() {
        let mut d = draft();
        d.address = None;
        d.lat = Some(31.46);
        let errs = d
            .clone()
            .validate(Gazetteer::embedded(), today())
            .unwrap_err();
        assert_eq!(errs[0].field, "lat");
        d.lon = Some(104.75);
        d.crs = Some("gcj02".into());
        let j = d.validate(Gazetteer::embedded(), today()).unwrap();
        assert!(j.point.haversine_m(LatLon::new(31.46, 104.75).unwrap()) > 100.0);
    }
}
