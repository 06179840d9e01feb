#![no_main]
//! See `chancery_tests::fuzz::p2p_message`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chancery_tests::fuzz::p2p_message(data));
