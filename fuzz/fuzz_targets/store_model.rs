#![no_main]
//! See `chancery_tests::fuzz::store_model`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chancery_tests::fuzz::store_model(data));
