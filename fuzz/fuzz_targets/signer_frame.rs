#![no_main]
//! See `chancery_tests::fuzz::signer_frame`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chancery_tests::fuzz::signer_frame(data));
