//! Owned descriptors watched by the runtime for readability: the terminal reopened for
//! input, a pidfd awaited until its process exits, and `fugue proxy`'s standard input
//! and output. The one place that registers a
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
    register(fd, Interest::READABLE)
}

/// Hands `fd` to the runtime, to be awaited for reading and writing (`fugue proxy`).
///
/// # Errors
///
/// When the runtime cannot register it, e.g. a regular file (the descriptor is then closed).
pub fn watch(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    register(fd, Interest::READABLE | Interest::WRITABLE)
}

fn register(fd: OwnedFd, interest: Interest) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the `AsyncFd` owns `fd`, so the descriptor stays open for as long as it is
    // registered and is closed only when the `AsyncFd` is dropped.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(io::Error::from)
}
