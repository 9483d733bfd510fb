//! End-to-end tests: a real server on a temp socket, real PTYs running real programs.
//!
//! One test binary (one link step); each module covers one area.

// Shared helpers outside `#[test]` functions fail the test the same way a test body does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod alternate;
mod automation;
mod cli;
mod flood;
mod membership;
mod pacing;
mod previous_protocol;
mod protocol_errors;
mod reliability;
mod remote;
mod screen;
mod server_lifecycle;
mod sessions;
mod terminals;
mod upgrade;
mod vttest;
mod web;
