//! The two baselines the registry is measured against: the naive `RwLock<HashMap>` registry
//! and the floor of a bare `Vec` of senders.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockWriteGuard};

use fugue_registry::ClientId;
use tokio::sync::mpsc;

use super::{Broadcaster, Msg};

/// The naive baseline: one `RwLock` over both indexes, read-locked for the whole broadcast.
#[derive(Default)]
pub(crate) struct RwLockRegistry {
    inner: RwLock<Indexes>,
}

#[derive(Default)]
struct Indexes {
    clients: HashMap<ClientId, (mpsc::Sender<Msg>, Option<u64>)>,
    sessions: HashMap<u64, HashSet<ClientId>>,
}

impl RwLockRegistry {
    fn write(&self) -> RwLockWriteGuard<'_, Indexes> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Broadcaster for RwLockRegistry {
    fn register(&self, id: ClientId, tx: mpsc::Sender<Msg>) {
        self.write().clients.insert(id, (tx, None));
    }
    fn attach(&self, id: ClientId, session: u64) {
        self.detach(id);
        let mut inner = self.write();
        if let Some((_, slot)) = inner.clients.get_mut(&id) {
            *slot = Some(session);
            inner.sessions.entry(session).or_default().insert(id);
        }
    }
    fn detach(&self, id: ClientId) {
        let mut inner = self.write();
        let Some(session) = inner.clients.get_mut(&id).and_then(|(_, slot)| slot.take()) else {
            return;
        };
        if let Some(members) = inner.sessions.get_mut(&session) {
            members.remove(&id);
            if members.is_empty() {
                inner.sessions.remove(&session);
            }
        }
    }
    fn broadcast(&self, session: u64, msg: &Msg) -> usize {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let Some(members) = inner.sessions.get(&session) else {
            return 0;
        };
        members
            .iter()
            .filter_map(|id| inner.clients.get(id))
            .filter(|(tx, _)| tx.try_send(Arc::clone(msg)).is_ok())
            .count()
    }
}

/// The floor, not a registry: a plain `Vec` of senders, one `try_send` each, no lookup, no
/// lock, no bookkeeping (attach and detach are ignored; every sender is a member).
#[derive(Default)]
pub(crate) struct BareSenders {
    senders: Mutex<Vec<mpsc::Sender<Msg>>>,
}

impl Broadcaster for BareSenders {
    fn register(&self, _id: ClientId, tx: mpsc::Sender<Msg>) {
        self.senders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(tx);
    }
    fn attach(&self, _id: ClientId, _session: u64) {}
    fn detach(&self, _id: ClientId) {}
    fn broadcast(&self, _session: u64, msg: &Msg) -> usize {
        // Only used single-threaded, so the lock is uncontended; taken once per broadcast.
        let senders = self.senders.lock().unwrap_or_else(PoisonError::into_inner);
        senders
            .iter()
            .filter(|tx| tx.try_send(Arc::clone(msg)).is_ok())
            .count()
    }
}
