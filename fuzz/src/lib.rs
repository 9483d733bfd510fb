//! fugue's fuzz targets as plain functions: [`decoder::frame_decoder`] and
//! [`router::router`]. The libFuzzer entry points in `fuzz_targets/` only call these, so the
//! same code runs under `cargo fuzz` (driven by `cargo xtask fuzz`) and from any other
//! driver that hands it bytes.
//!
//! Both functions panic when they find a bug; a panic anywhere (a server task included)
//! aborts the process under libFuzzer, which then saves the input as a crash artifact.

pub mod decoder;
pub mod router;
