//! One registered client: its channel, its info, its session slot and its lag mark.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime};

use tokio::sync::mpsc;

use crate::{ClientId, ClientInfo};

/// A registered client. Shared (`Arc`) between the client index and the member list of the
/// session it is attached to, so a broadcast reaches its sender without a second lookup.
pub(crate) struct Client<K, M, I: ClientInfo> {
    pub(crate) id: ClientId,
    /// Unique per registration, even when a caller reuses a `ClientId`: removals compare it
    /// so a stale cleanup can never remove a newer registration.
    pub(crate) serial: u64,
    pub(crate) sender: mpsc::Sender<M>,
    pub(crate) lag: LagFlag,
    pub(crate) info: I,
    /// `info.identity()`, asked once at registration.
    pub(crate) identity: Option<I::Identity>,
    pub(crate) connected_at: SystemTime,
    pub(crate) connected_since: Instant,
    /// Which session the client is attached to. Every change to the client's membership
    /// (attach, detach, unregister) happens while holding this lock, which makes those
    /// operations atomic per client: see the lock order note on `Registry`.
    slot: Mutex<Slot<K>>,
}

/// The session slot of a client, guarded by the client's own mutex.
pub(crate) struct Slot<K> {
    pub(crate) session: Option<K>,
    /// Set once, when the client is unregistered. An attach that obtained the client before
    /// that and locks the slot after it sees this and fails instead of leaving an orphan in
    /// the session index.
    pub(crate) removed: bool,
}

impl<K, M, I: ClientInfo> Client<K, M, I> {
    pub(crate) fn new(id: ClientId, serial: u64, sender: mpsc::Sender<M>, info: I) -> Self {
        let identity = info.identity();
        Self {
            id,
            serial,
            sender,
            lag: LagFlag(Arc::new(AtomicBool::new(false))),
            info,
            identity,
            connected_at: SystemTime::now(),
            connected_since: Instant::now(),
            slot: Mutex::new(Slot {
                session: None,
                removed: false,
            }),
        }
    }

    /// Locks the session slot. A panic while holding it (only possible inside a session
    /// key's `Hash`/`Eq`) leaves the slot itself consistent, so poisoning is ignored.
    pub(crate) fn slot(&self) -> MutexGuard<'_, Slot<K>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True when `other` is this very registration.
    pub(crate) fn same(&self, other: &Self) -> bool {
        self.serial == other.serial
    }
}

/// A cheap handle on one client's lagging mark, for the task that drains its queue.
///
/// Reading or clearing it costs one atomic operation and no map lookup. It does not keep the
/// client's channel open: it outlives the registration harmlessly.
#[derive(Debug, Clone)]
pub struct LagFlag(Arc<AtomicBool>);

impl LagFlag {
    /// True while broadcasts skip this client because its queue was full.
    #[must_use]
    pub fn is_lagging(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Clears the mark, so broadcasts reach the client again. Returns whether it was set.
    pub fn clear(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }

    /// Sets the mark. Returns whether it was already set.
    pub(crate) fn set(&self) -> bool {
        self.0.swap(true, Ordering::AcqRel)
    }
}

/// A copy of one client's state at the moment it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSnapshot<K, I> {
    /// The client's id.
    pub id: ClientId,
    /// A clone of the info it registered with.
    pub info: I,
    /// The session it is attached to, if any.
    pub session: Option<K>,
    /// Wall-clock time of registration.
    pub connected_at: SystemTime,
    /// Monotonic time of registration (for durations).
    pub connected_since: Instant,
    /// Whether broadcasts are skipping it (see [`Registry::is_lagging`](crate::Registry::is_lagging)).
    pub lagging: bool,
}
