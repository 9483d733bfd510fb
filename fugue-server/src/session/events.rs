//! What `Subscribe` streams (`fugue events`): events published by session tasks and
//! request handlers, queued to each subscriber like any other message.
//!
//! Publishing never waits: an event that finds a subscriber's queue full is counted, and
//! the subscriber's connection says how many it missed (`EventsLost`) once its queue has
//! drained. Publishing with no subscriber costs one atomic load.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};

use fugue_protocol::{EventKind, ServerMessage, SessionEvent};
use fugue_registry::{ClientId, SendError};
use uuid::Uuid;

use super::handle::{SessionMeta, now_unix_ms};
use crate::clients::{ClientRegistry, Outbound};

/// The subscribers, and what each missed.
#[derive(Default)]
pub(crate) struct EventHub {
    subscribers: RwLock<Vec<Subscriber>>,
    count: AtomicUsize,
}

struct Subscriber {
    client: ClientId,
    /// The session it follows; `None` for all.
    session: Option<Uuid>,
    lost: AtomicU64,
}

impl EventHub {
    /// Streams events of `session` (all with `None`) to `client`, replacing an earlier
    /// subscription of it.
    pub(crate) fn subscribe(&self, client: ClientId, session: Option<Uuid>) {
        let mut subscribers = self.write();
        subscribers.retain(|subscriber| subscriber.client != client);
        subscribers.push(Subscriber {
            client,
            session,
            lost: AtomicU64::new(0),
        });
        self.count.store(subscribers.len(), Ordering::Release);
    }

    /// Stops streaming to `client` (its connection ended).
    pub(crate) fn unsubscribe(&self, client: ClientId) {
        if !self.any() {
            return;
        }
        let mut subscribers = self.write();
        subscribers.retain(|subscriber| subscriber.client != client);
        self.count.store(subscribers.len(), Ordering::Release);
    }

    /// The subscription of `client`: `Some(session filter)` if it has one.
    pub(crate) fn subscription(&self, client: ClientId) -> Option<Option<Uuid>> {
        let subscribers = self.read();
        let found = subscribers.iter().find(|sub| sub.client == client)?;
        Some(found.session)
    }

    /// Whether anyone listens.
    pub(crate) fn any(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    /// Queues an event of `meta`'s session, at output position `seq`, to its subscribers.
    pub(crate) fn publish(
        &self,
        registry: &ClientRegistry,
        meta: &SessionMeta,
        seq: Option<u64>,
        kind: EventKind,
    ) {
        if !self.any() {
            return;
        }
        let event = SessionEvent {
            session: meta.id,
            name: meta.name(),
            seq,
            unix_ms: now_unix_ms(),
            kind,
        };
        let msg = Outbound::from(ServerMessage::Event { event });
        for subscriber in self.read().iter() {
            if subscriber.session.is_some_and(|session| session != meta.id) {
                continue;
            }
            if let Err(SendError::Full { .. }) =
                registry.try_send_to_client(subscriber.client, msg.clone())
            {
                subscriber.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// How many events `client` missed since it last asked (0 if it is no subscriber).
    pub(crate) fn take_lost(&self, client: ClientId) -> u64 {
        let subscribers = self.read();
        let found = subscribers.iter().find(|sub| sub.client == client);
        found.map_or(0, |sub| sub.lost.swap(0, Ordering::Relaxed))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Subscriber>> {
        self.subscribers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Subscriber>> {
        self.subscribers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
