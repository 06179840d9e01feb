#![no_main]
//! See `chancery_tests::fuzz::guard_file`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chancery_tests::fuzz::guard_file(data));
