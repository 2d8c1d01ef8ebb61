//! Fuzz target: station files posted to the import endpoint as GeoJSON.
//! The body is `repairnet_fuzz::import_geojson`, shared with the corpus replay test.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| repairnet_fuzz::import_geojson(data));
