//! Coordinate reference systems used by Chinese web maps.
//!
//! * WGS-84: GPS, OpenStreetMap, repairnet's storage.
//! * GCJ-02: the obfuscated system mandated for maps of mainland China
//!   (AMap/Gaode, Tencent, Google Maps China). Forward transform: the widely
//!   published "eviltransform" formula (Krasovsky ellipsoid constants
//!   `a = 6378245.0`, `ee = 0.00669342162296594323`).
//! * BD-09: Baidu's further offset of GCJ-02 (`x_pi = π·3000/180`).
//!
//! The forward transforms have no closed-form inverse, so `to_wgs84` solves
//! `forward(x) = p` by fixed-point iteration until the residual is below
//! 1 mm (the requirement is 1 cm), rather than the common one-step
//! approximation that leaves errors of a metre or more.
//!
//! ## Where GCJ-02 applies ([`is_shifted`])
//!
//! The offset applies on the mainland only. The rule is a coarse polygon
//! around the mainland's land borders and coastal waters (including Hainan and
//! the South China Sea islands), minus coarse polygons around Hong Kong, Macau
//! and Taiwan (with Penghu). AMap and Tencent show those three in WGS-84 (their
//! map data comes from local sources and the mainland regulation does not
//! apply there), so a point copied from AMap there is already WGS-84.
//! Kinmen and Matsu, next to the Fujian coast, fall inside the mainland polygon.
//! The usual `outOfChina` bounding box (lon 72.004–137.8347, lat
//! 0.8293–55.8271) is not used because it shifts Seoul, Hanoi, Ulaanbaatar and
//! the three excluded regions too. The polygons are accurate to a few
//! kilometres; a point within that distance of a land border may be classified
//! on the wrong side, which costs at most the offset (~300–700 m).

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use geo::{Contains, LineString, Polygon};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::basic::{FieldError, LatLon};

/// The coordinate system a caller's point is given in (or wants back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Crs {
    #[default]
    Wgs84,
    Gcj02,
    Bd09,
}

impl Crs {
    pub const ALL: [Crs; 3] = [Crs::Wgs84, Crs::Gcj02, Crs::Bd09];

    pub fn as_str(self) -> &'static str {
        match self {
            Crs::Wgs84 => "wgs84",
            Crs::Gcj02 => "gcj02",
            Crs::Bd09 => "bd09",
        }
    }

    /// Converts a point given in `self` to WGS-84.
    pub fn to_wgs84(self, p: LatLon) -> LatLon {
        match self {
            Crs::Wgs84 => p,
            Crs::Gcj02 => gcj02_to_wgs84(p),
            Crs::Bd09 => gcj02_to_wgs84(bd09_to_gcj02(p)),
        }
    }

    /// Converts a WGS-84 point to `self`.
    pub fn from_wgs84(self, p: LatLon) -> LatLon {
        match self {
            Crs::Wgs84 => p,
            Crs::Gcj02 => wgs84_to_gcj02(p),
            Crs::Bd09 => gcj02_to_bd09(wgs84_to_gcj02(p)),
        }
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Crs {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Crs::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                FieldError::new(
                    "crs",
                    format!(
                        "unknown coordinate system {t:?}; expected wgs84 (GPS), \
                         gcj02 (AMap, Tencent) or bd09 (Baidu)"
                    ),
                )
            })
    }
}

/// Semi-major axis of the Krasovsky 1940 ellipsoid, as used by GCJ-02.
const A: f64 = 6378245.0;
/// Eccentricity squared of the Krasovsky 1940 ellipsoid, written exactly as
/// published (the extra digits are beyond f64 precision).
#[allow(clippy::excessive_precision)]
const EE: f64 = 0.006_693_421_622_965_943_23;
/// Baidu's constant.
const X_PI: f64 = PI * 3000.0 / 180.0;

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// The GCJ-02 offset (degrees) at a WGS-84 point, without the area rule.
fn gcj_delta(lat: f64, lon: f64) -> (f64, f64) {
    let d_lat = transform_lat(lon - 105.0, lat - 35.0);
    let d_lon = transform_lon(lon - 105.0, lat - 35.0);
    let rad_lat = lat / 180.0 * PI;
    let magic = 1.0 - EE * rad_lat.sin() * rad_lat.sin();
    let sqrt_magic = magic.sqrt();
    let d_lat = (d_lat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let d_lon = (d_lon * 180.0) / (A / sqrt_magic * rad_lat.cos() * PI);
    (d_lat, d_lon)
}

/// Builds a point from numbers that are in range by construction (offsets of
/// at most a few hundredths of a degree, applied only inside China).
fn point(lat: f64, lon: f64) -> LatLon {
    LatLon {
        lat: lat.clamp(-90.0, 90.0),
        lon: lon.clamp(-180.0, 180.0),
    }
}

fn wgs84_to_gcj02(p: LatLon) -> LatLon {
    if !is_shifted(p) {
        return p;
    }
    let (d_lat, d_lon) = gcj_delta(p.lat, p.lon);
    point(p.lat + d_lat, p.lon + d_lon)
}

/// Inverts [`wgs84_to_gcj02`] by fixed-point iteration: `x ← x + (p − f(x))`.
/// The offset changes by ~1e-5 per degree, so each step gains about five
/// orders of magnitude; two or three steps reach 0.1 mm.
fn gcj02_to_wgs84(p: LatLon) -> LatLon {
    let (d_lat, d_lon) = gcj_delta(p.lat, p.lon);
    let mut x = point(p.lat - d_lat, p.lon - d_lon);
    for _ in 0..20 {
        let (d_lat, d_lon) = gcj_delta(x.lat, x.lon);
        let (err_lat, err_lon) = (x.lat + d_lat - p.lat, x.lon + d_lon - p.lon);
        x = point(x.lat - err_lat, x.lon - err_lon);
        // 1e-9 degrees is ~0.1 mm.
        if err_lat.abs() < 1e-9 && err_lon.abs() < 1e-9 {
            break;
        }
    }
    // The area rule is applied on the WGS-84 side, as the forward transform
    // does: if the solution lies outside the shifted area, the forward
    // transform there is the identity and `p` is its own preimage.
    if is_shifted(x) {
        x
    } else {
        p
    }
}

fn gcj02_to_bd09(p: LatLon) -> LatLon {
    let (x, y) = (p.lon, p.lat);
    let z = (x * x + y * y).sqrt() + 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) + 0.000003 * (x * X_PI).cos();
    point(z * theta.sin() + 0.006, z * theta.cos() + 0.0065)
}

/// Inverts [`gcj02_to_bd09`] by fixed-point iteration (Baidu's own one-step
/// inverse is off by up to a few decimetres).
fn bd09_to_gcj02(p: LatLon) -> LatLon {
    let mut x = one_step_bd09_to_gcj02(p);
    for _ in 0..20 {
        let f = gcj02_to_bd09(x);
        let (err_lat, err_lon) = (f.lat - p.lat, f.lon - p.lon);
        x = point(x.lat - err_lat, x.lon - err_lon);
        if err_lat.abs() < 1e-9 && err_lon.abs() < 1e-9 {
            break;
        }
    }
    x
}

fn one_step_bd09_to_gcj02(p: LatLon) -> LatLon {
    let (x, y) = (p.lon - 0.0065, p.lat - 0.006);
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    point(z * theta.sin(), z * theta.cos())
}

/// Coarse outline of mainland China with its coastal waters and islands,
/// `(lon, lat)`, clockwise from the Argun river in the north-east.
const MAINLAND: &[(f64, f64)] = &[
    (121.2, 53.35),
    (123.5, 53.65),
    (125.6, 53.2),
    (126.7, 52.0),
    (127.3, 50.35),
    (127.65, 50.2),
    (128.5, 49.7),
    (129.5, 49.45),
    (130.8, 48.9),
    (132.5, 47.8),
    (133.5, 48.2),
    (134.8, 48.5),
    (134.4, 47.3),
    (134.15, 46.8),
    (133.1, 45.8),
    (132.9, 45.0),
    (131.8, 45.2),
    (131.25, 44.9),
    (131.35, 43.6),
    (131.2, 42.9),
    (130.75, 42.35),
    (130.25, 42.75),
    (129.6, 42.4),
    (128.9, 42.0),
    (128.25, 41.35),
    (127.0, 41.6),
    (126.3, 41.05),
    (125.3, 40.55),
    (124.45, 40.0),
    (124.2, 39.55),
    (123.4, 38.4),
    (123.5, 36.0),
    (123.8, 31.5),
    (123.3, 28.0),
    (122.0, 26.2),
    (120.8, 25.7),
    (119.2, 24.0),
    (118.0, 21.5),
    (118.0, 15.0),
    (117.5, 10.0),
    (114.0, 7.0),
    (112.0, 3.5),
    (110.0, 5.0),
    (111.5, 10.0),
    (110.6, 15.5),
    (108.2, 17.6),
    (108.0, 19.5),
    (108.2, 21.45),
    (107.97, 21.535),
    (107.85, 21.58),
    (107.3, 21.75),
    (106.6, 22.2),
    (106.7, 22.9),
    (105.8, 23.0),
    (105.35, 23.45),
    (104.8, 23.15),
    (104.1, 22.75),
    (103.99, 22.52),
    (103.93, 22.50),
    (103.4, 22.6),
    (102.9, 22.4),
    (102.4, 22.45),
    (101.75, 22.1),
    (101.8, 21.2),
    (101.2, 21.1),
    (100.2, 21.4),
    (99.2, 22.0),
    (99.4, 22.9),
    (98.7, 23.8),
    (97.6, 23.85),
    (97.5, 24.8),
    (97.6, 25.4),
    (98.6, 27.5),
    (98.6, 28.2),
    (97.5, 28.3),
    (96.1, 29.3),
    (94.0, 29.2),
    (92.0, 27.75),
    (91.5, 27.9),
    (90.0, 28.25),
    (88.9, 27.3),
    (88.7, 28.0),
    (88.1, 27.85),
    (86.0, 27.95),
    (84.0, 29.2),
    (82.0, 30.1),
    (81.0, 30.15),
    (79.5, 30.9),
    (78.6, 32.5),
    (79.4, 33.2),
    (78.1, 34.6),
    (77.8, 35.5),
    (75.8, 36.7),
    (74.5, 37.0),
    (74.9, 37.4),
    (74.8, 38.5),
    (73.5, 39.45),
    (73.9, 39.8),
    (74.9, 40.5),
    (76.5, 40.3),
    (78.0, 41.0),
    (80.2, 42.0),
    (80.3, 42.9),
    (80.8, 43.2),
    (80.3, 44.2),
    (80.6, 45.1),
    (82.5, 45.3),
    (82.3, 46.0),
    (83.0, 47.3),
    (85.5, 47.1),
    (85.7, 48.4),
    (87.0, 49.2),
    (87.8, 49.2),
    (89.0, 48.5),
    (90.0, 47.9),
    (91.0, 46.2),
    (90.9, 45.3),
    (93.5, 45.1),
    (95.3, 44.3),
    (96.4, 42.8),
    (100.0, 42.7),
    (103.0, 42.0),
    (105.0, 41.65),
    (107.0, 42.45),
    (110.5, 42.7),
    (112.0, 43.7),
    (114.0, 44.9),
    (116.5, 46.0),
    (118.0, 46.75),
    (119.9, 46.7),
    (119.7, 47.6),
    (118.5, 48.0),
    (117.3, 47.7),
    (116.0, 47.75),
    (115.5, 48.2),
    (116.7, 49.85),
    (117.9, 49.55),
    (119.1, 50.2),
    (120.0, 51.7),
];

/// Hong Kong: Lantau to Mirs Bay, bounded by Shenzhen Bay and the Shenzhen
/// river in the north.
const HONG_KONG: &[(f64, f64)] = &[
    (113.82, 22.13),
    (113.82, 22.30),
    (113.89, 22.42),
    (114.03, 22.505),
    (114.10, 22.53),
    (114.18, 22.553),
    (114.225, 22.55),
    (114.30, 22.53),
    (114.42, 22.44),
    (114.50, 22.13),
];

/// Macau: the peninsula, Taipa and Coloane, east of Hengqin.
const MACAU: &[(f64, f64)] = &[
    (113.527, 22.217),
    (113.558, 22.217),
    (113.60, 22.16),
    (113.60, 22.105),
    (113.555, 22.105),
    (113.548, 22.155),
    (113.527, 22.19),
];

/// Taiwan and Penghu, west to the middle of the strait.
const TAIWAN: &[(f64, f64)] = &[
    (119.2, 21.8),
    (122.3, 21.8),
    (122.3, 25.7),
    (120.8, 25.7),
    (119.2, 24.0),
];

/// A ring of (lon, lat) vertices as a `geo` polygon on the lon/lat plane;
/// the outlines are small enough and far enough from the antimeridian for
/// planar containment to be exact for their purpose.
fn polygon(ring: &[(f64, f64)]) -> Polygon<f64> {
    Polygon::new(LineString::from(ring.to_vec()), Vec::new())
}

/// The shifted area: the mainland outline and the holes cut out of it.
struct ShiftArea {
    mainland: Polygon<f64>,
    exempt: [Polygon<f64>; 3],
}

fn shift_area() -> &'static ShiftArea {
    static AREA: OnceLock<ShiftArea> = OnceLock::new();
    AREA.get_or_init(|| ShiftArea {
        mainland: polygon(MAINLAND),
        exempt: [polygon(HONG_KONG), polygon(MACAU), polygon(TAIWAN)],
    })
}

/// Whether GCJ-02 differs from WGS-84 at this point: inside mainland China,
/// outside Hong Kong, Macau and Taiwan (see the module doc for the rule).
pub fn is_shifted(p: LatLon) -> bool {
    // Cheap rejection first: the mainland polygon's bounding box.
    if !(73.0..=135.5).contains(&p.lon) || !(3.0..=54.0).contains(&p.lat) {
        return false;
    }
    let area = shift_area();
    let pt = p.point();
    area.mainland.contains(&pt) && !area.exempt.iter().any(|h| h.contains(&pt))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ll(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).unwrap()
    }

    #[test]
    fn parses_names_case_insensitively_and_rejects_others() {
        assert_eq!("GCJ02".parse::<Crs>().unwrap(), Crs::Gcj02);
        assert_eq!(" bd09 ".parse::<Crs>().unwrap(), Crs::Bd09);
        assert_eq!("Wgs84".parse::<Crs>().unwrap(), Crs::Wgs84);
        let err = "epsg:4326".parse::<Crs>().unwrap_err();
        assert_eq!(err.field, "crs");
        assert!(err.message.contains("gcj02"), "{}", err.message);
        assert_eq!(Crs::default(), Crs::Wgs84);
        for c in Crs::ALL {
            assert_eq!(c.as_str().parse::<Crs>().unwrap(), c);
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{c}\""));
        }
    }

    /// The even-odd ray casting the outline used before `geo`: the
    /// reference `geo`'s containment is checked against.
    fn in_polygon(poly: &[(f64, f64)], p: LatLon) -> bool {
        let (x, y) = (p.lon, p.lat);
        let mut inside = false;
        let mut j = poly.len() - 1;
        for i in 0..poly.len() {
            let (xi, yi) = poly[i];
            let (xj, yj) = poly[j];
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }

    #[test]
    fn geo_containment_agrees_with_ray_casting_off_the_outline() {
        // An irrational-ish step keeps grid points off the outline's vertices
        // and edges, where the two rules may legitimately differ.
        let mut checked = 0;
        let mut lat = 3.0137;
        while lat < 54.0 {
            let mut lon = 73.0071;
            while lon < 135.5 {
                let p = ll(lat, lon);
                let reference = in_polygon(MAINLAND, p)
                    && !in_polygon(HONG_KONG, p)
                    && !in_polygon(MACAU, p)
                    && !in_polygon(TAIWAN, p);
                assert_eq!(is_shifted(p), reference, "{p:?}");
                checked += 1;
                lon += 0.173_1;
            }
            lat += 0.117_3;
        }
        assert!(checked > 100_000, "{checked}");
    }

    #[test]
    fn area_rule_covers_mainland_and_excludes_neighbours() {
        let inside = [
            (39.9042, 116.4074, "Beijing"),
            (31.2304, 121.4737, "Shanghai"),
            (22.5431, 114.0579, "Shenzhen Futian"),
            (22.2707, 113.5767, "Zhuhai"),
            (43.8256, 87.6168, "Urumqi"),
            (29.6520, 91.1721, "Lhasa"),
            (53.4870, 122.3710, "Mohe"),
            (18.2528, 109.5119, "Sanya"),
            (16.8310, 112.3380, "Sansha"),
            (40.1290, 124.3950, "Dandong"),
            (24.4798, 118.0894, "Xiamen"),
        ];
        for (lat, lon, name) in inside {
            assert!(is_shifted(ll(lat, lon)), "{name} should be shifted");
        }
        let outside = [
            (22.2793, 114.1628, "Hong Kong Central"),
            (22.4440, 114.0220, "Yuen Long"),
            (22.1987, 113.5439, "Macau"),
            (25.0330, 121.5654, "Taipei"),
            (22.6273, 120.3014, "Kaohsiung"),
            (23.5711, 119.5793, "Penghu"),
            (37.5665, 126.9780, "Seoul"),
            (39.0392, 125.7625, "Pyongyang"),
            (21.0278, 105.8342, "Hanoi"),
            (47.8864, 106.9057, "Ulaanbaatar"),
            (43.2220, 76.8512, "Almaty"),
            (27.7172, 85.3240, "Kathmandu"),
            (35.6762, 139.6503, "Tokyo"),
            (14.5995, 120.9842, "Manila"),
            (51.5074, -0.1278, "London"),
            (-33.8688, 151.2093, "Sydney"),
        ];
        for (lat, lon, name) in outside {
            assert!(!is_shifted(ll(lat, lon)), "{name} should not be shifted");
        }
    }

    /// Published reference vectors: the eviltransform test suite
    /// (WGS-84 → GCJ-02; that suite uses a = 6378137, which moves results by
    /// under 1 cm, hence the 1e-6° tolerance), gcoord's GCJ-02 → BD-09 test and
    /// coordtransform's Beijing vectors.
    #[test]
    fn forward_transforms_match_published_vectors() {
        let wgs_to_gcj = [
            (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
            (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
            (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
            (39.915, 116.404, 39.91640428150164, 116.41024449916938),
        ];
        for (lat, lon, glat, glon) in wgs_to_gcj {
            let g = Crs::Gcj02.from_wgs84(ll(lat, lon));
            assert!(
                (g.lat - glat).abs() < 1e-6 && (g.lon - glon).abs() < 1e-6,
                "{lat},{lon} -> {g:?}"
            );
            let back = Crs::Gcj02.to_wgs84(g);
            assert!(back.haversine_m(ll(lat, lon)) < 0.01);
        }
        let gcj_to_bd = [
            (45.0, 123.0, 45.00636899, 123.00636499),
            (39.915, 116.404, 39.92133699351021, 116.41036949371029),
        ];
        for (lat, lon, blat, blon) in gcj_to_bd {
            let b = gcj02_to_bd09(ll(lat, lon));
            assert!(
                (b.lat - blat).abs() < 1e-8 && (b.lon - blon).abs() < 1e-8,
                "{lat},{lon} -> {b:?}"
            );
        }
    }

    #[test]
    fn round_trips_below_one_centimetre_all_over_china() {
        let mut checked = 0;
        let mut lat = 18.0;
        while lat <= 53.5 {
            let mut lon = 74.0;
            while lon <= 134.5 {
                let p = ll(lat, lon);
                if is_shifted(p) {
                    for crs in [Crs::Gcj02, Crs::Bd09] {
                        let q = crs.from_wgs84(p);
                        // The offset is real: at least tens of metres.
                        assert!(p.haversine_m(q) > 10.0, "{crs} at {p:?}");
                        let back = crs.to_wgs84(q);
                        let err = p.haversine_m(back);
                        assert!(err < 0.01, "{crs} round trip at {p:?}: {err} m");
                    }
                    checked += 1;
                }
                lon += 0.37;
            }
            lat += 0.29;
        }
        assert!(checked > 5_000, "grid too sparse: {checked}");
    }

    #[test]
    fn identity_outside_the_shifted_area() {
        for (lat, lon) in [(22.2793, 114.1628), (25.033, 121.5654), (48.8566, 2.3522)] {
            let p = ll(lat, lon);
            assert_eq!(Crs::Gcj02.from_wgs84(p), p);
            assert_eq!(Crs::Gcj02.to_wgs84(p), p);
            // BD-09 still adds Baidu's own offset everywhere.
            let b = Crs::Bd09.from_wgs84(p);
            assert!(p.haversine_m(Crs::Bd09.to_wgs84(b)) < 0.01);
        }
    }

    #[test]
    fn bd09_is_offset_from_gcj02_by_the_published_formula() {
        // Tiananmen: GCJ-02 (AMap) and BD-09 (Baidu) of the same place differ
        // by Baidu's ~+0.0065 lon / +0.006 lat offset.
        let gcj = ll(39.908_823, 116.397_470);
        let bd = gcj02_to_bd09(gcj);
        assert!((bd.lon - gcj.lon - 0.0064).abs() < 0.0005, "{bd:?}");
        assert!((bd.lat - gcj.lat - 0.0060).abs() < 0.0005, "{bd:?}");
        let back = bd09_to_gcj02(bd);
        assert!(gcj.haversine_m(back) < 0.01);
        // The one-step inverse is measurably worse than the iterated one.
        assert!(gcj.haversine_m(one_step_bd09_to_gcj02(bd)) > gcj.haversine_m(back));
    }
}
