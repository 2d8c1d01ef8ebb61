//! Parsing station files (CSV or GeoJSON) into validated stations with a
//! per-row error report. Pure: the caller decides whether to write anything.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{Station, StationDraft};
use crate::basic::{FieldError, LatLon};
use crate::places::Crs;

/// The CSV columns, in export order; import requires the first ones listed
/// in [`REQUIRED_COLUMNS`] and accepts the rest as optional.
pub const CSV_COLUMNS: [&str; 16] = [
    "id",
    "name",
    "province",
    "city",
    "adcode",
    "region",
    "address",
    "phone",
    "lat",
    "lon",
    "services",
    "products",
    "opening_hours",
    "timezone",
    "onsite_radius_km",
    "crs",
];
pub const REQUIRED_COLUMNS: [&str; 7] =
    ["id", "name", "adcode", "lat", "lon", "services", "products"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    GeoJson,
}

/// A problem with the file as a whole: nothing in it can be trusted.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is neither UTF-8 nor GB18030 text")]
    NotUtf8,
    #[error("CSV header: {0}")]
    Header(String),
    #[error("not a GeoJSON FeatureCollection: {0}")]
    GeoJson(String),
    #[error("the file holds no stations")]
    Empty,
}

/// One rejected row; `row` counts data rows from 1 (CSV: the header is row 0)
/// or features from 1 (GeoJSON).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RowError {
    pub row: usize,
    pub id: Option<String>,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub stations: Vec<Station>,
    pub errors: Vec<RowError>,
}

impl Parsed {
    pub fn total(&self) -> usize {
        self.stations.len() + self.errors.len()
    }
}

/// The file as text: UTF-8 when it is valid UTF-8, else GB18030, which is
/// what Excel in China saves CSV as (Chinese text in GB18030 is almost
/// never valid UTF-8, so the first test tells them apart).
fn decode(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, ImportError> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(std::borrow::Cow::Borrowed(s));
    }
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .ok_or(ImportError::NotUtf8)
}

/// A file whose points are WGS-84 unless a row says otherwise.
pub fn parse(format: Format, bytes: &[u8]) -> Result<Parsed, ImportError> {
    parse_in(format, bytes, Crs::Wgs84)
}

/// A file whose points are in `crs` unless a row's `crs` column (GeoJSON:
/// property) names another; points are stored as WGS-84. Points picked on
/// AMap or Tencent maps are GCJ-02, on Baidu maps BD-09: taken as WGS-84
/// they would sit some hundreds of metres off.
pub fn parse_in(format: Format, bytes: &[u8], crs: Crs) -> Result<Parsed, ImportError> {
    let text = decode(bytes)?;
    // Spreadsheet exports often start with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let drafts = match format {
        Format::Csv => csv_drafts(text, crs)?,
        Format::GeoJson => geojson_drafts(text, crs)?,
    };
    if drafts.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(validate(drafts))
}

/// Validates drafts (or the reasons they could not be read) row by row and
/// rejects ids repeated within the file.
fn validate(drafts: Vec<DraftResult>) -> Parsed {
    let mut out = Parsed::default();
    let mut seen = HashSet::new();
    for (i, d) in drafts.into_iter().enumerate() {
        let row = i + 1;
        let d = match d {
            Ok(d) => d,
            Err((id, errors)) => {
                out.errors.push(RowError { row, id, errors });
                continue;
            }
        };
        let id = d.id.trim().to_owned();
        match Station::try_from(d) {
            Ok(s) if !seen.insert(s.id.clone()) => out.errors.push(RowError {
                row,
                id: Some(id),
                errors: vec![FieldError::new("id", "this id appears earlier in the file")],
            }),
            Ok(s) => out.stations.push(s),
            Err(errors) => out.errors.push(RowError {
                row,
                id: Some(id).filter(|s| !s.is_empty()),
                errors,
            }),
        }
    }
    out
}

#[derive(Deserialize)]
struct CsvRow {
    id: String,
    name: String,
    #[serde(default)]
    province: String,
    #[serde(default)]
    city: String,
    adcode: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    phone: String,
    lat: String,
    lon: String,
    services: String,
    products: String,
    #[serde(default)]
    opening_hours: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    onsite_radius_km: String,
    #[serde(default)]
    crs: String,
}

/// The row's coordinate system: its own `crs` if given, else the file's.
fn row_crs(given: &str, default: Crs, errs: &mut Vec<FieldError>) -> Crs {
    if given.trim().is_empty() {
        return default;
    }
    given.parse().unwrap_or_else(|e| {
        errs.push(e);
        default
    })
}

/// `(lat, lon)` in `crs` as WGS-84; values that are no coordinates are left
/// for the station's validation to name.
fn to_wgs84(crs: Crs, lat: f64, lon: f64) -> (f64, f64) {
    match LatLon::new(lat, lon) {
        Ok(p) if crs != Crs::Wgs84 => {
            let w = crs.to_wgs84(p);
            (w.lat, w.lon)
        }
        _ => (lat, lon),
    }
}

fn number(field: &str, s: &str, errs: &mut Vec<FieldError>) -> f64 {
    s.trim().parse::<f64>().unwrap_or_else(|_| {
        errs.push(FieldError::new(
            field,
            format!("{field} must be a number, got {s:?}"),
        ));
        f64::NAN
    })
}

fn list(s: &str) -> Vec<String> {
    s.split([';', ',', '|'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

fn or_default(s: String, default: &str) -> String {
    if s.trim().is_empty() {
        default.to_owned()
    } else {
        s
    }
}

type DraftResult = Result<StationDraft, (Option<String>, Vec<FieldError>)>;

fn csv_drafts(text: &str, default_crs: Crs) -> Result<Vec<DraftResult>, ImportError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| ImportError::Header(e.to_string()))?
        .clone();
    let names: HashSet<&str> = headers.iter().collect();
    let missing: Vec<&str> = REQUIRED_COLUMNS
        .iter()
        .copied()
        .filter(|c| !names.contains(c))
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::Header(format!(
            "missing column(s) {}; expected columns: {}",
            missing.join(", "),
            CSV_COLUMNS.join(",")
        )));
    }
    let unknown: Vec<&str> = headers
        .iter()
        .filter(|h| !CSV_COLUMNS.contains(h))
        .collect();
    if !unknown.is_empty() {
        return Err(ImportError::Header(format!(
            "unknown column(s) {}; expected columns: {}",
            unknown.join(", "),
            CSV_COLUMNS.join(",")
        )));
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.push(Err((None, vec![FieldError::new("row", e.to_string())])));
                continue;
            }
        };
        let row: CsvRow = match rec.deserialize(Some(&headers)) {
            Ok(r) => r,
            Err(e) => {
                let id = rec.get(0).map(str::to_owned);
                out.push(Err((id, vec![FieldError::new("row", e.to_string())])));
                continue;
            }
        };
        let mut errs = Vec::new();
        let lat = number("lat", &row.lat, &mut errs);
        let lon = number("lon", &row.lon, &mut errs);
        let crs = row_crs(&row.crs, default_crs, &mut errs);
        let (lat, lon) = to_wgs84(crs, lat, lon);
        let radius = if row.onsite_radius_km.trim().is_empty() {
            None
        } else {
            Some(number("onsite_radius_km", &row.onsite_radius_km, &mut errs))
        };
        if !errs.is_empty() {
            out.push(Err((Some(row.id), errs)));
            continue;
        }
        out.push(Ok(StationDraft {
            id: row.id,
            name: row.name,
            province: row.province,
            city: row.city,
            adcode: serde_json::Value::String(row.adcode),
            region: Some(row.region).filter(|r| !r.trim().is_empty()),
            address: row.address,
            phone: row.phone,
            lat,
            lon,
            services: list(&row.services),
            products: list(&row.products),
            opening_hours: or_default(row.opening_hours, "Mo-Su 09:00-18:00"),
            timezone: or_default(row.timezone, "Asia/Shanghai"),
            onsite_radius_km: radius,
        }));
    }
    Ok(out)
}

fn geojson_drafts(text: &str, crs: Crs) -> Result<Vec<DraftResult>, ImportError> {
    let fc: geojson::FeatureCollection = text
        .parse::<geojson::GeoJson>()
        .map_err(|e| ImportError::GeoJson(e.to_string()))?
        .try_into()
        .map_err(|e: geojson::Error| ImportError::GeoJson(e.to_string()))?;
    Ok(fc
        .features
        .into_iter()
        .map(|f| feature_draft(f, crs))
        .collect())
}

fn feature_draft(f: geojson::Feature, default_crs: Crs) -> DraftResult {
    let mut props = f.properties.unwrap_or_default();
    let id = props
        .get("id")
        .and_then(|v| v.as_str().map(str::to_owned))
        .or_else(|| match &f.id {
            Some(geojson::feature::Id::String(s)) => Some(s.clone()),
            Some(geojson::feature::Id::Number(n)) => Some(n.to_string()),
            None => None,
        });
    let point = match f.geometry.map(|g| g.value) {
        Some(geojson::Value::Point(c)) if c.len() >= 2 => (c[0], c[1]),
        _ => {
            return Err((
                id,
                vec![FieldError::new(
                    "geometry",
                    "each feature needs a Point geometry",
                )],
            ))
        }
    };
    // Display-only properties our own export adds.
    props.remove("region_name");
    props.remove("open_now");
    props.remove("next_open_at");
    if let Some(id) = &id {
        props.insert("id".into(), id.clone().into());
    }
    let mut errs = Vec::new();
    let crs = match props.remove("crs") {
        None | Some(serde_json::Value::Null) => default_crs,
        Some(serde_json::Value::String(c)) => row_crs(&c, default_crs, &mut errs),
        Some(other) => {
            errs.push(FieldError::new(
                "crs",
                format!("crs must be wgs84, gcj02 or bd09, got {other}"),
            ));
            default_crs
        }
    };
    if !errs.is_empty() {
        return Err((id, errs));
    }
    let (lat, lon) = to_wgs84(crs, point.1, point.0);
    props.insert("lon".into(), lon.into());
    props.insert("lat".into(), lat.into());
    serde_json::from_value::<StationDraft>(serde_json::Value::Object(props))
        .map_err(|e| (id, vec![FieldError::new("properties", e.to_string())]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "id,name,adcode,lat,lon,services,products,onsite_radius_km\n";

    #[test]
    fn csv_rows_are_validated_one_by_one() {
        let text = format!(
            "{HEADER}A1,绵阳站,510703,31.46,104.75,onsite;carry_in,notebook,30\n\
             A2,坏站,510703,north,104.75,carry_in,notebook,\n\
             A1,重复,510703,31.46,104.75,carry_in,notebook,\n\
             A3,好站,510703,31.40,104.70,carry_in,notebook;monitor,\n"
        );
        let p = parse(Format::Csv, text.as_bytes()).unwrap();
        assert_eq!(p.stations.len(), 2);
        assert_eq!(p.errors.len(), 2);
        assert_eq!(p.errors[0].row, 2);
        assert_eq!(p.errors[0].errors[0].field, "lat");
        assert_eq!(p.errors[1].row, 3);
        assert_eq!(p.errors[1].errors[0].field, "id");
    }

    #[test]
    fn csv_header_problems_fail_the_whole_file() {
        let e = parse(Format::Csv, b"id,name\nA,B\n").unwrap_err();
        assert!(e.to_string().contains("missing column"), "{e}");
        let e = parse(Format::Csv, HEADER.replace("lat", "latt").as_bytes()).unwrap_err();
        assert!(matches!(e, ImportError::Header(_)));
        assert!(matches!(
            parse(Format::Csv, HEADER.as_bytes()),
            Err(ImportError::Empty)
        ));
        assert!(matches!(
            parse(Format::Csv, &[0xff, 0xfe, 0x00]),
            Err(ImportError::NotUtf8)
        ));
    }

    /// Excel in China saves CSV as GB18030: the same rows read the same.
    #[test]
    fn gb18030_files_read_like_utf8() {
        let utf8 = crate::demo::STATIONS_CSV.as_bytes();
        let (gb, _, lossy) = encoding_rs::GB18030.encode(crate::demo::STATIONS_CSV);
        assert!(!lossy);
        assert_ne!(&gb[..], utf8, "the demo file has Chinese text");
        let (a, b) = (
            parse(Format::Csv, utf8).unwrap(),
            parse(Format::Csv, &gb).unwrap(),
        );
        assert!(a.errors.is_empty() && b.errors.is_empty());
        assert_eq!(a.stations, b.stations);
    }

    #[test]
    fn geojson_features_become_stations() {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","id":"G1","geometry":{"type":"Point","coordinates":[104.75,31.46]},
           "properties":{"name":"绵阳站","adcode":"510703","services":["carry_in"],"products":["notebook"]}},
          {"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]},
           "properties":{"id":"G2"}}]}"#;
        let p = parse(Format::GeoJson, text.as_bytes()).unwrap();
        assert_eq!(p.stations.len(), 1);
        assert_eq!(p.stations[0].location.lon, 104.75);
        assert_eq!(p.errors[0].id.as_deref(), Some("G2"));
        assert!(parse(
            Format::GeoJson,
            b"{\"type\":\"Point\",\"coordinates\":[1,2]}"
        )
        .is_err());
    }
}
