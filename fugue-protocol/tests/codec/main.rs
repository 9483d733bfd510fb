//! Tests of fugue-protocol's wire format: round trips, hostile input, limits, golden bytes.
//!
//! One test binary (one link step) with a module per concern; `samples` and `strategies`
//! are shared fixtures.

// clippy's `allow-unwrap-in-tests` covers `#[test]` functions only, not the helpers they
// share; in a test binary a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, reason = "a panicking helper fails its test")]

mod garbage;
mod golden;
mod limits;
mod roundtrip;
mod samples;
mod strategies;
