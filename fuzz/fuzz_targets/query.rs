//! Fuzz target: the nearest-station query string.
//! The body is `repairnet_fuzz::query`, shared with the corpus replay test.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| repairnet_fuzz::query(data));
