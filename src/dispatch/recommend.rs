//! Technician recommendation for one on-site job, with a reason for every
//! nearby candidate that was turned down, so the dispatcher sees why.
//!
//! The caller fetches candidate stations nearest-first (with their
//! great-circle distance) and their technicians; this module checks each
//! station and technician, then ranks the eligible ones by travel time
//! (ETA rounded up to whole minutes), ties by load (booked / capacity) then id.

use std::cmp::Ordering;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::model::{Technician, TechnicianId};
use super::travel::TravelModel;
use crate::basic::LatLon;
use crate::network::model::{Product, Service, Station, StationId};

/// A nearby station as the spatial query found it.
#[derive(Debug, Clone, Copy)]
pub struct NearbyStation<'a> {
    pub station: &'a Station,
    pub distance_m: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct RecommendRequest<'a> {
    pub point: LatLon,
    pub product: Product,
    /// The service day (Asia/Shanghai calendar date), for capacity and hours.
    pub day: NaiveDate,
    pub stations: &'a [NearbyStation<'a>],
    /// Technicians of those stations (others are ignored).
    pub technicians: &'a [Technician],
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Candidate {
    pub station_id: StationId,
    pub technician_id: TechnicianId,
    /// Who will come, as the agent tells the caller.
    pub technician_name: String,
    /// Great-circle station -> customer.
    pub distance_m: f64,
    pub eta_minutes: u32,
    pub booked: u32,
    pub daily_capacity: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    OutOfRadius,
    NoOnsite,
    /// The station does not repair the product.
    NoProduct,
    /// The technician lacks the skill.
    NoSkill,
    OffDuty,
    /// Booked to capacity that day.
    Full,
    /// The station is not open at all that day.
    Closed,
    NoTechnicians,
}

impl RejectReason {
    /// The reason's name as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::OutOfRadius => "out_of_radius",
            RejectReason::NoOnsite => "no_onsite",
            RejectReason::NoProduct => "no_product",
            RejectReason::NoSkill => "no_skill",
            RejectReason::OffDuty => "off_duty",
            RejectReason::Full => "full",
            RejectReason::Closed => "closed",
            RejectReason::NoTechnicians => "no_technicians",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Rejected {
    pub station_id: StationId,
    pub technician_id: Option<TechnicianId>,
    pub reason: RejectReason,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, ToSchema)]
pub struct Recommendation {
    /// Best first.
    pub candidates: Vec<Candidate>,
    pub rejected: Vec<Rejected>,
}

/// Whether the station opens at any time on `day` on its own wall clock.
/// Opening hours are checked every 15 minutes of the local day, which is
/// finer than any station's published hours.
pub fn open_on(station: &Station, day: NaiveDate) -> bool {
    let Some(midnight) = station
        .timezone
        .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .earliest()
    else {
        return false;
    };
    let start = midnight.with_timezone(&Utc);
    (0..96).any(|i| station.is_open(start + Duration::minutes(15 * i)))
}

/// Ranks candidates; `eta_s[i]` is the travel time from `req.stations[i]` to
/// the customer, `booked(technician, day)` the jobs already booked.
pub fn recommend(
    req: &RecommendRequest<'_>,
    eta_s: &[f64],
    booked: impl Fn(TechnicianId, NaiveDate) -> u32,
) -> Recommendation {
    let mut out = Recommendation::default();
    for (i, near) in req.stations.iter().enumerate() {
        let s = near.station;
        let reject = |out: &mut Recommendation, t: Option<TechnicianId>, reason| {
            out.rejected.push(Rejected {
                station_id: s.id.clone(),
                technician_id: t,
                reason,
            });
        };
        let station_reason = if !s.offers(Service::Onsite) {
            Some(RejectReason::NoOnsite)
        } else if s
            .onsite_radius_km
            .is_none_or(|r| near.distance_m > r * 1000.0)
        {
            Some(RejectReason::OutOfRadius)
        } else if !s.repairs(req.product) {
            Some(RejectReason::NoProduct)
        } else if !open_on(s, req.day) {
            Some(RejectReason::Closed)
        } else {
            None
        };
        if let Some(r) = station_reason {
            reject(&mut out, None, r);
            continue;
        }
        let mut any = false;
        for t in req.technicians.iter().filter(|t| t.station_id == s.id) {
            any = true;
            let n = booked(t.id, req.day);
            let reason = if !t.on_duty {
                Some(RejectReason::OffDuty)
            } else if !t.can_repair(req.product) {
                Some(RejectReason::NoSkill)
            } else if n >= t.daily_capacity {
                Some(RejectReason::Full)
            } else {
                None
            };
            match reason {
                Some(r) => reject(&mut out, Some(t.id), r),
                None => out.candidates.push(Candidate {
                    station_id: s.id.clone(),
                    technician_id: t.id,
                    technician_name: t.name.clone(),
                    distance_m: near.distance_m,
                    eta_minutes: (eta_s.get(i).copied().unwrap_or(f64::INFINITY) / 60.0)
                        .ceil()
                        .min(f64::from(u32::MAX)) as u32,
                    booked: n,
                    daily_capacity: t.daily_capacity,
                }),
            }
        }
        if !any {
            reject(&mut out, None, RejectReason::NoTechnicians);
        }
    }
    out.candidates.sort_by(|a, b| {
        a.eta_minutes
            .cmp(&b.eta_minutes)
            // a.booked / a.cap vs b.booked / b.cap, exactly.
            .then_with(|| {
                (u64::from(a.booked) * u64::from(b.daily_capacity))
                    .cmp(&(u64::from(b.booked) * u64::from(a.daily_capacity)))
            })
            .then_with(|| a.technician_id.cmp(&b.technician_id))
            .then(Ordering::Equal)
    });
    out
}

/// [`recommend`] with travel times from `model` (station -> customer).
pub async fn recommend_with(
    model: &TravelModel,
    req: &RecommendRequest<'_>,
    booked: impl Fn(TechnicianId, NaiveDate) -> u32,
) -> Recommendation {
    let from: Vec<LatLon> = req.stations.iter().map(|s| s.station.location).collect();
    let m = model.durations(&from, &[req.point]).await;
    let eta: Vec<f64> = (0..from.len()).map(|i| m.duration_s(i, 0)).collect();
    recommend(req, &eta, booked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::model::TechnicianDraft;
    use crate::network::model::StationDraft;
    use std::collections::HashMap;

    fn station(
        id: &str,
        lat: f64,
        services: &[&str],
        products: &[&str],
        hours: &str,
        radius: Option<f64>,
    ) -> Station {
        Station::try_from(StationDraft {
            id: id.into(),
            name: format!("站 {id}"),
            adcode: serde_json::json!("510703"),
            lat,
            lon: 104.75,
            services: services
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            products: products
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            opening_hours: hours.into(),
            timezone: "Asia/Shanghai".into(),
            onsite_radius_km: radius,
            ..Default::default()
        })
        .unwrap()
    }

    fn tech(id: i64, station: &str, skills: &[&str], cap: i64, on_duty: bool) -> Technician {
        Technician::try_from(TechnicianDraft {
            id: Some(id),
            station_id: station.into(),
            name: format!("师傅{id}"),
            skills: skills
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            daily_capacity: cap,
            on_duty,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn ranks_by_eta_then_load_and_explains_every_rejection() {
        let all = "Mo-Su 09:00-18:00";
        let stations = [
            station("A", 31.46, &["onsite"], &["notebook"], all, Some(30.0)),
            station(
                "B",
                31.50,
                &["onsite", "carry_in"],
                &["notebook"],
                all,
                Some(30.0),
            ),
            station("C", 31.40, &["carry_in"], &["notebook"], all, None),
            station("D", 31.40, &["onsite"], &["printer"], all, Some(30.0)),
            station(
                "E",
                31.40,
                &["onsite"],
                &["notebook"],
                "Mo-Fr 09:00-18:00",
                Some(30.0),
            ),
            station("F", 31.40, &["onsite"], &["notebook"], all, Some(5.0)),
            station("G", 31.40, &["onsite"], &["notebook"], all, Some(30.0)),
        ];
        let customer = LatLon::new(31.45, 104.75).unwrap();
        let near: Vec<NearbyStation> = stations
            .iter()
            .map(|s| NearbyStation {
                station: s,
                distance_m: s.location.haversine_m(customer),
            })
            .collect();
        let techs = [
            tech(1, "A", &["notebook"], 4, true),
            tech(2, "A", &["notebook"], 4, true),
            tech(3, "A", &["desktop"], 4, true),
            tech(4, "A", &["notebook"], 4, false),
            tech(5, "A", &["notebook"], 2, true),
            tech(6, "B", &["notebook"], 4, true),
            tech(7, "E", &["notebook"], 4, true),
        ];
        let booked: HashMap<i64, u32> = [(1, 2), (2, 1), (5, 2)].into();
        // 2026-11-28 is a Saturday: E (weekdays only) is closed.
        let day: NaiveDate = "2026-11-28".parse().unwrap();
        let req = RecommendRequest {
            point: customer,
            product: Product::Notebook,
            day,
            stations: &near,
            technicians: &techs,
        };
        let rec = recommend_with(&TravelModel::default(), &req, |t, d| {
            assert_eq!(d, day);
            booked.get(&t.value()).copied().unwrap_or(0)
        })
        .await;
        let order: Vec<i64> = rec
            .candidates
            .iter()
            .map(|c| c.technician_id.value())
            .collect();
        // A is 1.1 km away, B 5.6 km: A's two free technicians first, lighter load first.
        assert_eq!(order, [2, 1, 6]);
        assert!(rec.candidates[0].eta_minutes < rec.candidates[2].eta_minutes);
        let mut why: Vec<(String, Option<i64>, RejectReason)> = rec
            .rejected
            .iter()
            .map(|r| {
                (
                    r.station_id.to_string(),
                    r.technician_id
                        .map(super::super::model::TechnicianId::value),
                    r.reason,
                )
            })
            .collect();
        why.sort_by_key(|a| (a.0.clone(), a.1));
        use RejectReason::*;
        assert_eq!(
            why,
            [
                ("A".into(), Some(3), NoSkill),
                ("A".into(), Some(4), OffDuty),
                ("A".into(), Some(5), Full),
                ("C".into(), None, NoOnsite),
                ("D".into(), None, NoProduct),
                ("E".into(), None, Closed),
                ("F".into(), None, OutOfRadius),
                ("G".into(), None, NoTechnicians),
            ]
        );
        // On a Monday E is open and its technician is a candidate.
        let monday = RecommendRequest {
            day: "2026-11-30".parse().unwrap(),
            ..req
        };
        let eta = vec![600.0; near.len()];
        let rec = recommend(&monday, &eta, |_, _| 0);
        assert!(rec.candidates.iter().any(|c| c.technician_id.value() == 7));
        // Equal ETA everywhere: ties broken by load then id.
        assert_eq!(rec.candidates[0].technician_id.value(), 1);
    }
}
