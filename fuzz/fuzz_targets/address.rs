//! Fuzz target: the address matcher on free text.
//! The body is `repairnet_fuzz::address`, shared with the corpus replay test.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| repairnet_fuzz::address(data));
