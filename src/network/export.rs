//! Writing the directory out as CSV (the import format, so files round-trip)
//! or as a GeoJSON FeatureCollection.

use geojson::{Feature, FeatureCollection, Geometry, JsonObject};
use serde_json::json;

use super::import::CSV_COLUMNS;
use super::model::{Station, StationDraft};
use crate::basic::join_list;
use crate::places::Crs;

/// The stations as CSV with points in `crs`, named in each row's `crs`
/// column so the file imports back to the same places.
pub fn to_csv<'a>(
    stations: impl IntoIterator<Item = &'a Station>,
    crs: Crs,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_COLUMNS)?;
    for s in stations {
        let radius = s
            .onsite_radius_km
            .map(|r| r.to_string())
            .unwrap_or_default();
        let p = crs.from_wgs84(s.location);
        w.write_record([
            s.id.as_str(),
            &s.name,
            &s.province,
            &s.city,
            &s.adcode.to_string(),
            s.region.code(),
            &s.address,
            &s.phone,
            &format!("{:.6}", p.lat),
            &format!("{:.6}", p.lon),
            &join_list(&s.services),
            &join_list(&s.products),
            s.opening_hours.as_str(),
            s.timezone.name(),
            &radius,
            crs.as_str(),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// One station as a GeoJSON feature; the point is given in `crs` so it can
/// be drawn straight onto AMap or Baidu tiles.
pub fn feature(s: &Station, crs: Crs, extra: Option<JsonObject>) -> Feature {
    let p = crs.from_wgs84(s.location);
    let mut props = match serde_json::to_value(StationDraft::from(s)) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => JsonObject::new(),
    };
    props.remove("lat");
    props.remove("lon");
    props.insert("region_name".into(), json!(s.region.name_zh()));
    // The point's system, so the file imports back to the same place.
    props.insert("crs".into(), json!(crs.as_str()));
    if let Some(extra) = extra {
        props.extend(extra);
    }
    Feature {
        bbox: None,
        geometry: Some(Geometry::new(geojson::Value::Point(vec![p.lon, p.lat]))),
        id: Some(geojson::feature::Id::String(s.id.to_string())),
        properties: Some(props),
        foreign_members: None,
    }
}

pub fn to_geojson<'a>(
    stations: impl IntoIterator<Item = &'a Station>,
    crs: Crs,
) -> FeatureCollection {
    FeatureCollection {
        bbox: None,
        features: stations
            .into_iter()
            .map(|s| feature(s, crs, None))
            .collect(),
        foreign_members: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::import::{parse, Format};

    fn sample() -> Vec<Station> {
        let csv = "id,name,adcode,lat,lon,services,products,onsite_radius_km,opening_hours\n\
                   A1,绵阳站,510703,31.46,104.75,onsite;carry_in,notebook;monitor,30,Mo-Sa 09:00-18:00\n\
                   A2,\"成都站, 高新\",510107,30.57,104.06,carry_in,desktop,,\n";
        parse(Format::Csv, csv.as_bytes()).unwrap().stations
    }

    #[test]
    fn csv_export_round_trips_through_import() {
        let stations = sample();
        let bytes = to_csv(&stations, Crs::Wgs84).unwrap();
        let back = parse(Format::Csv, &bytes).unwrap();
        assert!(back.errors.is_empty(), "{:?}", back.errors);
        assert_eq!(back.stations, stations);
    }

    /// A file exported in GCJ-02 says so in its rows and imports back to
    /// the same WGS-84 points (within the inverse transform's millimetres);
    /// a file without the column takes the import's own `crs`.
    #[test]
    fn shifted_exports_import_back_to_the_same_points() {
        let stations = sample();
        let close = |a: &[Station], b: &[Station]| {
            a.iter().zip(b).all(|(x, y)| {
                (x.location.lat - y.location.lat).abs() < 1e-5
                    && (x.location.lon - y.location.lon).abs() < 1e-5
            })
        };
        for crs in [Crs::Gcj02, Crs::Bd09] {
            let csv = to_csv(&stations, crs).unwrap();
            let back = parse(Format::Csv, &csv).unwrap();
            assert!(back.errors.is_empty(), "{:?}", back.errors);
            assert!(close(&back.stations, &stations), "{crs}");
            let gj = to_geojson(&stations, crs).to_string();
            let back = parse(Format::GeoJson, gj.as_bytes()).unwrap();
            assert!(back.errors.is_empty(), "{:?}", back.errors);
            assert!(close(&back.stations, &stations), "{crs}");
        }
        // Without the column: taken as WGS-84 by default (hundreds of
        // metres off), as GCJ-02 when the import says so.
        let text = String::from_utf8(to_csv(&stations, Crs::Gcj02).unwrap()).unwrap();
        let no_column: String = text
            .lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_owned() + "\n")
            .collect();
        let as_wgs = parse(Format::Csv, no_column.as_bytes()).unwrap().stations;
        assert!(!close(&as_wgs, &stations));
        let as_gcj =
            crate::network::import::parse_in(Format::Csv, no_column.as_bytes(), Crs::Gcj02)
                .unwrap()
                .stations;
        assert!(close(&as_gcj, &stations));
        // A row naming an unknown system is refused by name.
        let bad = text.replacen("gcj02", "mars", 1);
        let p = parse(Format::Csv, bad.as_bytes()).unwrap();
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].errors[0].field, "crs");
    }

    #[test]
    fn geojson_export_round_trips_through_import() {
        let stations = sample();
        let fc = to_geojson(&stations, Crs::Wgs84);
        let back = parse(Format::GeoJson, fc.to_string().as_bytes()).unwrap();
        assert!(back.errors.is_empty(), "{:?}", back.errors);
        assert_eq!(back.stations, stations);
    }
}
