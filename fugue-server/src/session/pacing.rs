//! Output pacing: the session reads its program's output only as fast as the fastest
//! attached client takes it, the way a terminal paces the program it shows.
//!
//! Without pacing, a program that prints faster than any client can display (a `cat` of a
//! big file) fills every client's queue; each is then marked lagging and later resynced, so
//! even a lone client reading as fast as it can would miss part of the output. With pacing,
//! a client that keeps reading gets every byte, and only clients slower than the fastest
//! one lag.
//!
//! Pacing must never let a stalled client hold the program up: a stalled client never
//! slows the program. So the session waits for room at most the stall limit
//! (`Config::pacing_stall`, 250 ms by default); then it gives up on the clients it
//! waited for: they are marked lagging, no longer count, and are resynced once they drain
//! what they have queued. A client that keeps taking output, however slowly, does pace the
//! program, as a slow terminal does.
//!
//! The loop, in one place: the session arms `SessionMeta::drained`, then asks
//! [`Pacing::may_read`]; while the answer is no it waits for that notification or for
//! [`Pacing::stall_deadline`]. A connection notifies `drained` each time it takes an item
//! from a queue that was holding the session back (`made_room` in `connection/`). Every
//! wait that the deadline ends is counted in [`PacingCounters::timeouts`]; one that then
//! finds room means somebody made room without waking the session, a missed wake-up, also
//! counted in [`PacingCounters::missed_wake_ups`]. No byte count shows a missed wake-up
//! (every byte still arrives, only late), so the tests assert there is none.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use crate::clients::ClientRegistry;

/// Frames that may wait in the fastest client's queue before the session stops reading the
/// program's output: enough to keep its socket busy, few enough that Ctrl-C in a flood
/// shows within a moment (at most 16 frames of at most 64 KiB).
pub(crate) const MAX_QUEUED: usize = 16;

/// Pacing waits that ran to their limit, over all sessions (reported by `Status`).
#[derive(Debug, Default)]
pub(crate) struct PacingCounters {
    /// Every wait that the stall limit ended: a client stopped reading (the session gave
    /// up on it), or a missed wake-up.
    pub(crate) timeouts: AtomicU64,
    /// Waits that the stall limit ended although a client had made room: nobody woke the
    /// session (a bug, costing a stall each time).
    pub(crate) missed_wake_ups: AtomicU64,
}

/// What the session should do about output now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Read: nobody to pace to, or the fastest client has room.
    Read,
    /// Read: a client has room, but the wait for it lasted the stall limit or longer. Either the
    /// session itself was busy that long, or whoever made room did not wake it (a missed
    /// wake-up: a bug, which costs a stall of output each time); the session task tells
    /// the two apart by what woke it.
    Late,
    /// Wait for a client to make room (or for [`Pacing::stall_deadline`]).
    Wait,
    /// The wait has lasted the stall limit: mark the clients waited for lagging, then read.
    GiveUp,
}

/// The pacing state of one session.
#[derive(Debug)]
pub(crate) struct Pacing {
    /// The longest wait for room.
    stall: Duration,
    /// Since when the session has been waiting for room; `None` while it may read.
    waiting_since: Option<Instant>,
    /// The stall deadline, not a client making room, is what woke the session last.
    deadline_fired: bool,
}

impl Pacing {
    /// A session that waits at most `stall` for room.
    pub(crate) fn new(stall: Duration) -> Self {
        Pacing {
            stall,
            waiting_since: None,
            deadline_fired: false,
        }
    }

    /// Whether the session may read its program's output now: the fastest client that
    /// keeps up has room, or nobody keeps up, or the wait for room has lasted too long, in
    /// which case the clients waited for are marked lagging first.
    pub(crate) fn may_read(
        &mut self,
        registry: &ClientRegistry,
        session: &Uuid,
        counters: &PacingCounters,
    ) -> bool {
        let decision = self.decide(registry.shortest_queue(session), Instant::now());
        // Only when the deadline is what woke the session is a late resume a missed
        // wake-up: the session may also have been busy (answering an attach, say).
        let deadline_fired = std::mem::take(&mut self.deadline_fired);
        let missed_wake_up = decision == Decision::Late && deadline_fired;
        if missed_wake_up || decision == Decision::GiveUp {
            counters.timeouts.fetch_add(1, Ordering::Relaxed);
        }
        match decision {
            Decision::Read => true,
            Decision::Wait => false,
            Decision::Late => {
                if missed_wake_up {
                    counters.missed_wake_ups.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%session, "a client made room without waking the session");
                }
                true
            }
            Decision::GiveUp => {
                let stalled = registry.lag_members_with_queue(session, MAX_QUEUED);
                tracing::debug!(%session, clients = stalled.len(), "no client made room: reading on without them");
                true
            }
        }
    }

    /// The stall deadline woke the session (see [`Pacing::stall_deadline`]).
    pub(crate) fn deadline_fired(&mut self) {
        self.deadline_fired = true;
    }

    /// What to do given `shortest_queue`, the registry's
    /// [`fugue_registry::Registry::shortest_queue`] for the session (`None` when no client
    /// keeps up: there is nobody to pace to).
    pub(crate) fn decide(&mut self, shortest_queue: Option<usize>, now: Instant) -> Decision {
        match shortest_queue {
            Some(queued) if queued >= MAX_QUEUED => {
                let since = *self.waiting_since.get_or_insert(now);
                if now.duration_since(since) >= self.stall {
                    self.waiting_since = None;
                    Decision::GiveUp
                } else {
                    Decision::Wait
                }
            }
            _ => match self.waiting_since.take() {
                Some(since) if now.duration_since(since) >= self.stall => Decision::Late,
                _ => Decision::Read,
            },
        }
    }

    /// When waiting for room ends regardless, if the session is waiting.
    pub(crate) fn stall_deadline(&self) -> Option<Instant> {
        self.waiting_since.map(|since| since + self.stall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALL: Duration = Duration::from_millis(250);

    #[test]
    fn reads_freely_without_clients_or_with_room() {
        let mut pacing = Pacing::new(STALL);
        let now = Instant::now();
        assert_eq!(pacing.decide(None, now), Decision::Read);
        assert_eq!(pacing.decide(Some(0), now), Decision::Read);
        assert_eq!(pacing.decide(Some(MAX_QUEUED - 1), now), Decision::Read);
        assert_eq!(pacing.stall_deadline(), None);
    }

    #[test]
    fn waits_while_the_fastest_client_is_full_then_gives_up_once() {
        let mut pacing = Pacing::new(STALL);
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
        let mut pacing = Pacing::new(STALL);
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
        let mut pacing = Pacing::new(STALL);
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
