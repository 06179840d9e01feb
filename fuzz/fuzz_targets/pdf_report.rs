#![no_main]
//! See `chancery_tests::fuzz::pdf_report`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chancery_tests::fuzz::pdf_report(data));
