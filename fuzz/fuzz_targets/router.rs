//! libFuzzer entry point for the message router (see `fugue_fuzz::router`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fugue_fuzz::router::router(data));
