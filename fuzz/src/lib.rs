//! The bodies of the fuzz targets, one public function per target.
//!
//! The `cargo fuzz` binaries call these, and `tests/fuzz_corpus.rs` includes
//! this very file to replay the kept corpora on the stable toolchain, so a
//! regression found by fuzzing fails a plain `cargo test`.
//!
//! Each function takes the raw bytes a client could send and drives them
//! through the same parsing and validation the server applies, then on to
//! what the server does with an accepted value (search, opening hours,
//! warranty decision, JSON answer). Rejecting the input is a correct
//! outcome; a panic, an arithmetic overflow or a hang is the bug looked for.
//! The few assertions check guarantees the code under test documents.

use std::sync::{Arc, LazyLock};

use actix_web::web::Query;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;

use repairnet::dispatch::intake::{JobDraft, WarrantyDraft};
use repairnet::dispatch::policy::Policy;
use repairnet::dispatch::warranty;
use repairnet::network::import::{self, Format};
use repairnet::network::query::{parse_bool, parse_crs, parse_time, NearestParams, StationView};
use repairnet::network::StationIndex;
use repairnet::places::{Crs, Gazetteer};

/// A fixed clock, so a finding replays the same way on any day: a Monday
/// morning in China, when the demo stations are open.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_399_200, 0).unwrap_or_default()
}

/// The same Monday at 23:30 in China, when most stations are closed and
/// their next opening has to be worked out.
fn evening() -> DateTime<Utc> {
    now() + TimeDelta::minutes(13 * 60 + 30)
}

fn today() -> NaiveDate {
    now().date_naive()
}

/// The demo network, built once: rebuilding it per input would spend the
/// fuzzing time on the same work over and over.
static INDEX: LazyLock<StationIndex> = LazyLock::new(|| {
    let stations = import::parse(Format::Csv, repairnet::demo::STATIONS_CSV.as_bytes())
        .map(|p| p.stations)
        .unwrap_or_default();
    assert!(!stations.is_empty(), "the demo network did not import");
    StationIndex::new(stations.into_iter().map(Arc::new).collect())
});

static POLICY: LazyLock<Policy> = LazyLock::new(Policy::embedded);

/// The server answers with this value; one that cannot be serialised would
/// be a 500 instead of an answer.
fn answer<T: Serialize>(v: &T) {
    if let Err(e) = serde_json::to_vec(v) {
        panic!("an answer does not serialise: {e}");
    }
}

/// `POST /api/v1/stations/import` with `Content-Type: text/csv`.
pub fn import_csv(data: &[u8]) {
    import(Format::Csv, data);
}

/// `POST /api/v1/stations/import` with `Content-Type: application/geo+json`.
pub fn import_geojson(data: &[u8]) {
    import(Format::GeoJson, data);
}

fn import(format: Format, data: &[u8]) {
    let Ok(parsed) = import::parse(format, data) else {
        return;
    };
    // The row report goes back to the caller as JSON.
    answer(&parsed.errors);
    // Accepted stations are then listed with their opening state: imported
    // opening hours and time zones are evaluated for the first time here.
    // One coordinate system per row keeps the work per input small while
    // the rows of a file still cover all three. Two clock readings also
    // keep the per-minute opening cache from growing over a whole run.
    for at in [now(), evening()] {
        for (s, crs) in parsed.stations.iter().zip(Crs::ALL.iter().cycle()) {
            answer(&StationView::new(s, *crs, at));
        }
    }
}

/// The address matcher on free text, unbounded in length as
/// `/stations/nearest?address=` and job intake call it.
pub fn address(data: &[u8]) {
    let q = String::from_utf8_lossy(data);
    let g = Gazetteer::embedded().geocode(&q);
    for m in &g.matches {
        assert!(
            (0.0..=1.0).contains(&m.confidence),
            "confidence {} outside [0, 1] for {q:?}",
            m.confidence
        );
    }
    assert!(
        q.contains(g.remainder.as_str()),
        "remainder {:?} is not text of {q:?}",
        g.remainder
    );
    answer(&g);
}

/// `GET /api/v1/stations/nearest?<data>`: the query string deserialised by
/// actix-web's `Query` extractor, validated, searched and answered.
pub fn query(data: &[u8]) {
    let qs = String::from_utf8_lossy(data);
    // The single-value parsers other endpoints share, on every decoded value.
    scalars(&qs);
    if let Ok(pairs) = Query::<Vec<(String, String)>>::from_query(&qs) {
        for (_, v) in pairs.into_inner() {
            scalars(&v);
        }
    }
    let Ok(params) = Query::<NearestParams>::from_query(&qs) else {
        return;
    };
    let q = match params.resolve(Gazetteer::embedded(), now()) {
        Ok(q) => q,
        Err(errors) => {
            answer(&errors);
            return;
        }
    };
    let hits = q.run(&INDEX);
    assert!(hits.len() <= q.k, "{} hits for k = {}", hits.len(), q.k);
    for pair in hits.windows(2) {
        assert!(
            pair[0].distance_m <= pair[1].distance_m,
            "hits out of distance order"
        );
    }
    if let Some(max_m) = q.max_m {
        assert!(
            hits.iter().all(|h| h.distance_m <= max_m),
            "a hit beyond max_km"
        );
    }
    let shown = q.out_crs.from_wgs84(q.point);
    let results: Vec<_> = hits
        .iter()
        .map(|h| {
            (
                StationView::new(h.station, q.out_crs, now()),
                (h.distance_m * 10.0).round() / 10.0,
            )
        })
        .collect();
    answer(&(
        shown.lat,
        shown.lon,
        q.out_crs,
        q.filter.service,
        q.filter.product,
        q.filter.open_at,
        &q.division,
        &q.remainder,
        results,
    ));
}

fn scalars(v: &str) {
    _ = parse_bool("open_now", v);
    _ = parse_time("open_at", v);
    _ = parse_crs(Some(v));
    _ = v.parse::<Crs>();
}

/// `POST /api/v1/jobs` and `POST /api/v1/warranty/check`: the JSON body as
/// actix-web's `Json` extractor reads it (serde_json), validated on a fixed
/// day, then the warranty decision under the shipped policy.
pub fn intake(data: &[u8]) {
    if let Ok(draft) = serde_json::from_slice::<WarrantyDraft>(data) {
        match draft.validate() {
            Ok(w) => {
                if let Ok(d) = warranty::decide(&POLICY.warranty, &w, today()) {
                    answer(&d);
                }
            }
            Err(errors) => answer(&errors),
        }
    }
    let Ok(draft) = serde_json::from_slice::<JobDraft>(data) else {
        return;
    };
    match draft.validate(Gazetteer::embedded(), today()) {
        Ok(job) => {
            if let Ok(d) = warranty::decide(&POLICY.warranty, &job.warranty, today()) {
                answer(&d);
            }
            answer(&job.division);
        }
        Err(errors) => answer(&errors),
    }
}
