#![no_main]
//! See `chancery_tests::fuzz::proof_json`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chancery_tests::fuzz::proof_json(data));
