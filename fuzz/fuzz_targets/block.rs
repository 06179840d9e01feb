#![no_main]
//! See `chancery_tests::fuzz::block`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chancery_tests::fuzz::block(data));
