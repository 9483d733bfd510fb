//! [`ClientId`], the identifier of one client connection.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Identifies one client connection for as long as it is registered.
///
/// Ids handed out by [`Registry::next_client_id`](crate::Registry::next_client_id) are
/// unique within that registry (a `u64` counter never wraps in practice). A client that
/// reconnects gets a new id; its stable identity, if any, lives in its
/// [`ClientInfo`](crate::ClientInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(u64);

impl ClientId {
    /// Wraps a raw id, e.g. one read back from a log or a wire message.
    #[must_use]
    pub const fn new(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw id.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<ClientId> for u64 {
    fn from(id: ClientId) -> Self {
        id.0
    }
}

/// Hands out increasing ids, starting at 1. Lock-free; safe to share between threads.
#[derive(Debug)]
pub(crate) struct IdCounter(AtomicU64);

impl IdCounter {
    pub(crate) const fn new() -> Self {
        Self(AtomicU64::new(1))
    }

    /// The next value. `Relaxed` suffices: only uniqueness matters, not ordering with other
    /// memory, and `fetch_add` is atomic whatever the ordering.
    pub(crate) fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes every later value greater than `used`.
    pub(crate) fn skip_past(&self, used: u64) {
        self.0.fetch_max(used.saturating_add(1), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_displays_as_its_number() {
        assert_eq!(ClientId::new(42).to_string(), "42");
        assert_eq!(ClientId::new(42).get(), 42);
        assert_eq!(u64::from(ClientId::new(7)), 7);
    }

    #[test]
    fn skipping_past_a_value_never_goes_back() {
        let counter = IdCounter::new();
        counter.skip_past(41);
        assert_eq!(counter.next(), 42);
        counter.skip_past(7);
        assert_eq!(counter.next(), 43);
    }

    #[test]
    fn counter_starts_at_one_and_increases() {
        let counter = IdCounter::new();
        assert_eq!(counter.next(), 1);
        assert_eq!(counter.next(), 2);
    }
}
