//! Query-side predicates on the station directory: the lon/lat bounding box
//! of a map view and the service/product/opening filter of a nearest search.
//! Both are pure values so the HTTP layer can parse them and the index can
//! apply them without knowing where they came from.

use chrono::{DateTime, Utc};
use geo::{coord, Rect};

use super::model::{Product, Service, Station};
use crate::basic::{FieldError, LatLon};

/// A lon/lat rectangle as map clients send it. `min_lon > max_lon` means the
/// box crosses the antimeridian (e.g. 170,-10,-170,10 spans 20° of longitude).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

impl BBox {
    pub fn new(min_lon: f64, min_lat: f64, max_lon: f64, max_lat: f64) -> Result<BBox, FieldError> {
        for (name, v, limit) in [
            ("minLon", min_lon, 180.0),
            ("minLat", min_lat, 90.0),
            ("maxLon", max_lon, 180.0),
            ("maxLat", max_lat, 90.0),
        ] {
            if !v.is_finite() || v.abs() > limit {
                return Err(FieldError::new(
                    "bbox",
                    format!("{name} must be a number in [-{limit}, {limit}], got {v}"),
                ));
            }
        }
        if min_lat > max_lat {
            return Err(FieldError::new(
                "bbox",
                format!("minLat {min_lat} is greater than maxLat {max_lat}"),
            ));
        }
        Ok(BBox {
            min_lon,
            min_lat,
            max_lon,
            max_lat,
        })
    }

    /// Parses `minLon,minLat,maxLon,maxLat`.
    pub fn parse(s: &str) -> Result<BBox, FieldError> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let bad = || {
            FieldError::new(
                "bbox",
                format!("bbox must be four numbers minLon,minLat,maxLon,maxLat, got {s:?}"),
            )
        };
        if parts.len() != 4 {
            return Err(bad());
        }
        let mut v = [0.0; 4];
        for (slot, part) in v.iter_mut().zip(&parts) {
            *slot = part.parse::<f64>().map_err(|_| bad())?;
        }
        BBox::new(v[0], v[1], v[2], v[3])
    }

    /// Whether the box wraps across longitude ±180.
    pub fn crosses_antimeridian(&self) -> bool {
        self.min_lon > self.max_lon
    }

    /// The box as `geo` rectangles: one, or two when it wraps across ±180.
    pub fn rects(&self) -> Vec<Rect<f64>> {
        let rect = |w: f64, e: f64| {
            Rect::new(
                coord! { x: w, y: self.min_lat },
                coord! { x: e, y: self.max_lat },
            )
        };
        if self.crosses_antimeridian() {
            vec![rect(self.min_lon, 180.0), rect(-180.0, self.max_lon)]
        } else {
            vec![rect(self.min_lon, self.max_lon)]
        }
    }

    /// Exact membership, edges included. Plain comparisons: this runs per
    /// candidate on every bbox query, and equals `geo`'s
    /// `Intersects<Point>` on [`BBox::rects`] (checked in the tests).
    pub fn contains(&self, p: LatLon) -> bool {
        p.lat >= self.min_lat && p.lat <= self.max_lat && self.spans_lon(p.lon)
    }

    /// Whether longitude `lon` (degrees) lies in the box's longitude span.
    fn spans_lon(&self, lon: f64) -> bool {
        if self.crosses_antimeridian() {
            lon >= self.min_lon || lon <= self.max_lon
        } else {
            lon >= self.min_lon && lon <= self.max_lon
        }
    }

    /// An axis-aligned box in unit-vector space that contains every point of
    /// the sphere inside this lon/lat box. It is a superset (candidates still
    /// need [`BBox::contains`]), but never misses a point, which is what makes
    /// bbox queries on the 3-D tree exact.
    pub(crate) fn unit_vector_bounds(&self) -> ([f64; 3], [f64; 3]) {
        let (lat0, lat1) = (self.min_lat.to_radians(), self.max_lat.to_radians());
        // cos(lat) is at its largest at the equator, smallest at the edge
        // farther from it; it is never negative for lat in [-90, 90].
        let cos_lo = lat0.cos().min(lat1.cos()).max(0.0);
        let cos_hi = if lat0 <= 0.0 && lat1 >= 0.0 {
            1.0
        } else {
            lat0.cos().max(lat1.cos())
        };
        // Over a longitude span, cos and sin take their extremes at the span's
        // ends or at the quarter turns inside it.
        let mut cos_lon = (f64::INFINITY, f64::NEG_INFINITY);
        let mut sin_lon = (f64::INFINITY, f64::NEG_INFINITY);
        let mut take = |lon_deg: f64| {
            let (s, c) = lon_deg.to_radians().sin_cos();
            cos_lon = (cos_lon.0.min(c), cos_lon.1.max(c));
            sin_lon = (sin_lon.0.min(s), sin_lon.1.max(s));
        };
        take(self.min_lon);
        take(self.max_lon);
        for quarter in [-180.0, -90.0, 0.0, 90.0, 180.0] {
            if self.spans_lon(quarter) {
                take(quarter);
            }
        }
        // x = cos(lat)·cos(lon), y = cos(lat)·sin(lon) with cos(lat) ≥ 0:
        // the product's extremes are at the corners of the two ranges.
        let scale = |(lo, hi): (f64, f64)| {
            let c = [cos_lo * lo, cos_lo * hi, cos_hi * lo, cos_hi * hi];
            (
                c.iter().copied().fold(f64::INFINITY, f64::min),
                c.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            )
        };
        let (x, y) = (scale(cos_lon), scale(sin_lon));
        let z = (lat0.sin(), lat1.sin());
        // Widen by far more than the rounding of the trigonometry, so a point
        // exactly on an edge is never lost to the last bit.
        const SLACK: f64 = 1e-9;
        (
            [x.0 - SLACK, y.0 - SLACK, z.0 - SLACK],
            [x.1 + SLACK, y.1 + SLACK, z.1 + SLACK],
        )
    }
}

/// What a nearest search may return: all set conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct StationFilter {
    pub service: Option<Service>,
    pub product: Option<Product>,
    /// Open at this instant, on the station's own wall clock.
    pub open_at: Option<DateTime<Utc>>,
}

impl StationFilter {
    pub fn matches(&self, s: &Station) -> bool {
        self.service.is_none_or(|v| s.offers(v))
            && self.product.is_none_or(|v| s.repairs(v))
            && self.open_at.is_none_or(|t| s.is_open(t))
    }

    /// True when the filter lets every station through.
    pub fn is_empty(&self) -> bool {
        self.service.is_none() && self.product.is_none() && self.open_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).unwrap()
    }

    #[test]
    fn parse_and_validate() {
        let b = BBox::parse(" 73, 18 ,135,54").unwrap();
        assert_eq!(
            (b.min_lon, b.min_lat, b.max_lon, b.max_lat),
            (73.0, 18.0, 135.0, 54.0)
        );
        assert!(BBox::parse("73,18,135").is_err());
        assert!(BBox::parse("73,18,135,54,1").is_err());
        assert!(BBox::parse("a,18,135,54").is_err());
        assert!(BBox::parse("73,54,135,18").is_err(), "minLat > maxLat");
        assert!(BBox::parse("73,18,181,54").is_err());
        assert!(BBox::parse("73,-91,135,54").is_err());
        assert!(BBox::parse("NaN,18,135,54").is_err());
        assert!(BBox::parse("170,-10,-170,10").is_ok(), "antimeridian box");
    }

    #[test]
    fn contains_equals_geo_rect_intersection_edges_included() {
        use geo::Intersects;
        let boxes = [
            BBox::new(100.0, 20.0, 120.0, 40.0).unwrap(),
            BBox::new(170.0, -10.0, -170.0, 10.0).unwrap(),
            BBox::new(-180.0, -90.0, 180.0, 90.0).unwrap(),
        ];
        for b in boxes {
            let mut lat = -90.0;
            while lat <= 90.0 {
                let mut lon = -180.0;
                while lon <= 180.0 {
                    let pt = p(lat, lon);
                    let by_geo = b.rects().iter().any(|r| r.intersects(&pt.point()));
                    assert_eq!(b.contains(pt), by_geo, "{b:?} {pt:?}");
                    lon += 2.5;
                }
                lat += 2.5;
            }
        }
    }

    #[test]
    fn contains_handles_edges_and_antimeridian() {
        let b = BBox::new(100.0, 20.0, 110.0, 30.0).unwrap();
        assert!(b.contains(p(20.0, 100.0)));
        assert!(b.contains(p(30.0, 110.0)));
        assert!(!b.contains(p(30.0001, 105.0)));
        assert!(!b.contains(p(25.0, 99.999)));
        let w = BBox::new(170.0, -10.0, -170.0, 10.0).unwrap();
        assert!(w.contains(p(0.0, 180.0)));
        assert!(w.contains(p(0.0, -180.0)));
        assert!(w.contains(p(5.0, 175.0)));
        assert!(w.contains(p(5.0, -175.0)));
        assert!(!w.contains(p(5.0, 0.0)));
        assert!(!w.contains(p(5.0, -169.0)));
    }

    #[test]
    fn unit_vector_bounds_contain_the_box_surface() {
        let boxes = [
            BBox::new(73.0, 18.0, 135.0, 54.0).unwrap(),
            BBox::new(170.0, -10.0, -170.0, 10.0).unwrap(),
            BBox::new(-180.0, -90.0, 180.0, 90.0).unwrap(),
            BBox::new(-30.0, 80.0, 30.0, 90.0).unwrap(),
            BBox::new(10.0, -60.0, 10.0, -60.0).unwrap(),
        ];
        for b in boxes {
            let (lo, hi) = b.unit_vector_bounds();
            let lon_span = if b.crosses_antimeridian() {
                b.max_lon + 360.0 - b.min_lon
            } else {
                b.max_lon - b.min_lon
            };
            for i in 0..=40 {
                for j in 0..=40 {
                    let lat = b.min_lat + (b.max_lat - b.min_lat) * f64::from(i) / 40.0;
                    let mut lon = b.min_lon + lon_span * f64::from(j) / 40.0;
                    if lon > 180.0 {
                        lon -= 360.0;
                    }
                    let v = p(lat, lon).to_unit_vector();
                    for d in 0..3 {
                        assert!(lo[d] <= v[d] && v[d] <= hi[d], "{b:?} {lat},{lon} axis {d}");
                    }
                }
            }
            // The bounds are tight enough to be useful: a small box gives a
            // small envelope.
            if b.max_lat - b.min_lat < 1.0 {
                assert!(hi[2] - lo[2] < 1e-3);
            }
        }
    }
}
