//! The registry's test suite: one binary, one module per area (see `support` for helpers).

// clippy.toml allows `expect` inside `#[test]` functions only; the helpers and spawned tasks
// of this test crate fail the same way, on purpose.
#![allow(clippy::expect_used)]

mod clients;
mod concurrency;
mod delivery;
mod edge;
mod health;
mod identity;
mod lagging;
mod model;
mod reserve;
mod sessions;
mod support;
