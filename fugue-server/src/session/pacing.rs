//! Output pacing: the session reads its program's output only as fast as the fastest
//! attached client takes it, the way a terminal paces the program it shows.
//!
//! Without pacing, a program that prints faster than any client can display (a `cat` of a
//! big file) fills every client's queue; each is then marked lagging and later resynced, so
//! even a lone client reading as fast as it can would miss part of the output. With pacing,
//! a client that keeps reading gets every byte, and only clients slower than the fastest
//! one lag.
//!
//! Pacing must never let a stalled client hold the program up (DESIGN: a stalled client
//! never slows the program). So the session waits for room at most [`STALL`]; then it
//! gives up on the clients it waited for: they are marked lagging, no longer count, and
//! are resynced once they drain what they have queued. A client that keeps taking output,
//! however slowly, does pace the program, as a slow terminal does.

use std::time::Duration;

use tokio::time::Instant;

/// Frames that may wait in the fastest client's queue before the session stops reading the
/// program's output: enough to keep its socket busy, few enough that Ctrl-C in a flood
/// shows within a moment (at most 16 frames of at most 64 KiB).
pub(crate) const MAX_QUEUED: usize = 16;

/// How long the session waits for any client to make room before it reads on anyway.
pub(crate) const STALL: Duration = Duration::from_millis(250);

/// What the session should do about output now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Read: nobody to pace to, or the fastest client has room.
    Read,
    /// Read: a client has room, but the wait for it lasted [`STALL`] or longer. Either the
    /// session itself was busy that long, or whoever made room did not wake it (a missed
    /// wake-up: a bug, which costs a stall of output each time); the session task tells
    /// the two apart by what woke it.
    Late,
    /// Wait for a client to make room (or for [`Pacing::stall_deadline`]).
    Wait,
    /// The wait has lasted [`STALL`]: mark the clients waited for lagging, then read.
    GiveUp,
}

/// The pacing state of one session.
#[derive(Debug, Default)]
pub(crate) struct Pacing {
    /// Since when the session has been waiting for room; `None` while it may read.
    waiting_since: Option<Instant>,
}

impl Pacing {
    /// What to do given `shortest_queue`, the registry's
    /// [`fugue_registry::Registry::shortest_queue`] for the session (`None` when no client
    /// keeps up: there is nobody to pace to).
    pub(crate) fn decide(&mut self, shortest_queue: Option<usize>, now: Instant) -> Decision {
        match shortest_queue {
            Some(queued) if queued >= MAX_QUEUED => {
                let since = *self.waiting_since.get_or_insert(now);
                if now.duration_since(since) >= STALL {
                    self.waiting_since = None;
                    Decision::GiveUp
                } else {
                    Decision::Wait
                }
            }
            _ => match self.waiting_since.take() {
                Some(since) if now.duration_since(since) >= STALL => Decision::Late,
                _ => Decision::Read,
            },
        }
    }

    /// When waiting for room ends regardless, if the session is waiting.
    pub(crate) fn stall_deadline(&self) -> Option<Instant> {
        self.waiting_since.map(|since| since + STALL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_freely_without_clients_or_with_room() {
        let mut pacing = Pacing::default();
        let now = Instant::now();
        assert_eq!(pacing.decide(None, now), Decision::Read);
        assert_eq!(pacing.decide(Some(0), now), Decision::Read);
        assert_eq!(pacing.decide(Some(MAX_QUEUED - 1), now), Decision::Read);
        assert_eq!(pacing.stall_deadline(), None);
    }

    #[test]
    fn waits_while_the_fastest_client_is_full_then_gives_up_once() {
        let mut pacing = Pacing::default();
        let start = Instant::now();
        assert_eq!(pacing.decide(Some(MAX_QUEUED), start), Decision::Wait);
        assert_eq!(pacing.stall_deadline(), Some(start + STALL));
        let later = start + STALL / 2;
        assert_eq!(pacing.decide(Some(MAX_QUEUED + 3), later), Decision::Wait);
        assert_eq!(
            pacing.stall_deadline(),
            Some(start + STALL),
            "the wait is measured from its start"
        );
        assert_eq!(
            pacing.decide(Some(MAX_QUEUED), start + STALL),
            Decision::GiveUp
        );
        assert_eq!(pacing.stall_deadline(), None, "a new wait starts afresh");
    }

    #[test]
    fn room_ends_the_wait_and_a_later_wait_starts_afresh() {
        let mut pacing = Pacing::default();
        let start = Instant::now();
        assert_eq!(pacing.decide(Some(MAX_QUEUED), start), Decision::Wait);
        let drained = start + STALL / 2;
        assert_eq!(pacing.decide(Some(1), drained), Decision::Read);
        assert_eq!(pacing.stall_deadline(), None);
        let full_again = drained + STALL / 4;
        assert_eq!(pacing.decide(Some(MAX_QUEUED), full_again), Decision::Wait);
        assert_eq!(pacing.stall_deadline(), Some(full_again + STALL));
    }

    #[test]
    fn room_found_only_at_the_deadline_is_late() {
        let mut pacing = Pacing::default();
        let start = Instant::now();
        assert_eq!(pacing.decide(Some(MAX_QUEUED), start), Decision::Wait);
        assert_eq!(pacing.decide(Some(0), start + STALL), Decision::Late);
        assert_eq!(pacing.stall_deadline(), None);
        assert_eq!(pacing.decide(Some(0), start + 2 * STALL), Decision::Read);
        assert_eq!(
            pacing.decide(None, start + 3 * STALL),
            Decision::Read,
            "not waiting: no client to pace to"
        );
    }
}
