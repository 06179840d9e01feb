#![no_main]
//! See `chancery_tests::fuzz::tx`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chancery_tests::fuzz::tx(data));
