//! Waiting for a condition that no event announces (a process gone, a count dropping, a
//! screen drawn): the one polling loop, in an async and a blocking form.
//!
//! A check returns `Ok(value)` when the condition holds, or `Err(seen)` with what it saw
//! instead; when time runs out the last `seen` comes back as the error, for the caller's
//! failure message.

use std::time::{Duration, Instant};

use crate::EVENT_TIMEOUT;

/// How long a poll sleeps between two looks.
pub const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Calls `check` every [`POLL_INTERVAL`] until it returns `Ok`, for at most
/// [`EVENT_TIMEOUT`]; then returns its last `Err`.
///
/// # Errors
///
/// What `check` saw last, when it never held.
pub async fn poll<T, E>(mut check: impl AsyncFnMut() -> Result<T, E>) -> Result<T, E> {
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        match check().await {
            Ok(value) => return Ok(value),
            Err(seen) if tokio::time::Instant::now() >= deadline => return Err(seen),
            Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}

/// Like [`poll`], blocking the thread, looking every `every` for at most `limit`: for code
/// outside the runtime (tmux, child processes).
///
/// # Errors
///
/// What `check` saw last, when it never held.
pub fn poll_blocking<T, E>(
    limit: Duration,
    every: Duration,
    mut check: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(value) => return Ok(value),
            Err(seen) if Instant::now() >= deadline => return Err(seen),
            Err(_) => std::thread::sleep(every),
        }
    }
}

/// Polls `check` until it holds; fails the test after [`EVENT_TIMEOUT`].
pub async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let held = poll(async || if check() { Ok(()) } else { Err(()) }).await;
    assert!(held.is_ok(), "timed out waiting until {what}");
}
