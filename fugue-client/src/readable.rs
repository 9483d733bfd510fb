//! Owned descriptors watched by the runtime for readability: the terminal reopened for
//! input, and a pidfd awaited until its process exits. The one place that registers a
//! descriptor with the runtime.

use std::io;
use std::os::fd::OwnedFd;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Hands `fd` to the runtime, to be awaited for readability.
///
/// # Errors
///
/// When the runtime cannot register it (the descriptor is then closed).
pub fn watch_readable(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the `AsyncFd` owns `fd`, so the descriptor stays open for as long as it is
    // registered and is closed only when the `AsyncFd` is dropped.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(io::Error::from)
}
