#![no_main]
//! See `chancery_tests::fuzz::wal`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chancery_tests::fuzz::wal(data));
