//! libFuzzer entry point for the frame decoder (see `fugue_fuzz::decoder`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fugue_fuzz::decoder::frame_decoder(data));
