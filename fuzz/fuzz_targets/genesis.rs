#![no_main]
//! See `chancery_tests::fuzz::genesis`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chancery_tests::fuzz::genesis(data));
