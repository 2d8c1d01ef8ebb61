//! Points on the sphere: a validated WGS-84 [`LatLon`], great-circle
//! distance (georust `geo`'s haversine on the same mean radius) and the
//! chord lengths our unit-vector R-tree searches by.

use geo::{Distance, Haversine, Point};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::FieldError;

/// Mean Earth radius (IUGG / GRS80), metres; all distances in repairnet use
/// it, and so does `geo::Haversine`.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

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

    /// The same point as a `geo` point (x = longitude, y = latitude).
    pub fn point(self) -> Point<f64> {
        Point::new(self.lon, self.lat)
    }

    /// Unit vector on the sphere; chord length between two of these is
    /// monotonic in great-circle distance, which makes a 3-D R-tree exact.
    pub fn to_unit_vector(self) -> [f64; 3] {
        let (lat, lon) = (self.lat.to_radians(), self.lon.to_radians());
        [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
    }

    /// Great-circle distance in metres (haversine).
    pub fn haversine_m(self, other: LatLon) -> f64 {
        let d = Haversine.distance(self.point(), other.point());
        // Near antipodes rounding can push the haversine term past 1, where
        // `asin` is NaN; the true distance there is half the circumference.
        if d.is_nan() {
            std::f64::consts::PI * EARTH_RADIUS_M
        } else {
            d
        }
    }
}

impl From<LatLon> for Point<f64> {
    fn from(p: LatLon) -> Self {
        p.point()
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
    fn haversine_is_finite_at_antipodes_and_agrees_with_the_chord() {
        let half = std::f64::consts::PI * EARTH_RADIUS_M;
        for (a, b) in [
            ((0.0, 0.0), (0.0, 180.0)),
            ((90.0, 0.0), (-90.0, 0.0)),
            ((31.2, 121.5), (-31.2, -58.5)),
        ] {
            let p = LatLon::new(a.0, a.1).unwrap();
            let q = LatLon::new(b.0, b.1).unwrap();
            let d = p.haversine_m(q);
            assert!((d - half).abs() < 1.0, "{d}");
        }
        // The R-tree's chord and the haversine agree to well under a millimetre.
        let p = LatLon::new(30.8, 106.08).unwrap();
        let q = LatLon::new(31.46, 104.75).unwrap();
        let (u, v) = (p.to_unit_vector(), q.to_unit_vector());
        let chord = ((u[0] - v[0]).powi(2) + (u[1] - v[1]).powi(2) + (u[2] - v[2]).powi(2)).sqrt();
        assert!((metres_for_chord(chord) - p.haversine_m(q)).abs() < 1e-3);
    }

    #[test]
    fn chord_round_trips_metres() {
        for m in [0.0, 1.0, 1_000.0, 1_000_000.0, 19_000_000.0] {
            let back = metres_for_chord(chord_for_metres(m));
            assert!((back - m).abs() < 1e-6 * m.max(1.0), "{m} -> {back}");
        }
    }
}
