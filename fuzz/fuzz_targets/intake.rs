//! Fuzz target: job intake and warranty check JSON bodies.
//! The body is `repairnet_fuzz::intake`, shared with the corpus replay test.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| repairnet_fuzz::intake(data));
