//! Writing the directory out as CSV (the import format, so files round-trip)
//! or as a GeoJSON FeatureCollection.

use geojson::{Feature, FeatureCollection, Geometry, JsonObject};
use serde_json::json;

use super::import::CSV_COLUMNS;
use super::model::{Station, StationDraft};
use crate::basic::join_list;
use crate::places::Crs;

pub fn to_csv<'a>(stations: impl IntoIterator<Item = &'a Station>) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_COLUMNS)?;
    for s in stations {
        let radius = s
            .onsite_radius_km
            .map(|r| r.to_string())
            .unwrap_or_default();
        w.write_record([
            s.id.as_str(),
            &s.name,
            &s.province,
            &s.city,
            &s.adcode.to_string(),
            s.region.code(),
            &s.address,
            &s.phone,
            &format!("{:.6}", s.location.lat),
            &format!("{:.6}", s.location.lon),
            &join_list(&s.services),
            &join_list(&s.products),
            s.opening_hours.as_str(),
            s.timezone.name(),
            &radius,
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
        let bytes = to_csv(&stations).unwrap();
        let back = parse(Format::Csv, &bytes).unwrap();
        assert!(back.errors.is_empty(), "{:?}", back.errors);
        assert_eq!(back.stations, stations);
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
