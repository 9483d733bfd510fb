//! Message delivery: to one client ([`Registry::send_to_client`],
//! [`Registry::try_send_to_client`]) and to a session ([`Registry::broadcast_to_session`]).

use std::fmt::Debug;
use std::hash::Hash;

use tokio::sync::mpsc::error::TrySendError;

use crate::registry::Removal;
use crate::{ClientId, ClientInfo, Registry, SendError};

/// What a broadcast did, client by client.
///
/// Every member of the session (except an excluded sender) is counted exactly once: in
/// `delivered`, in `lagging`, or in `disconnected`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastReport {
    /// How many clients the message was queued for.
    pub delivered: usize,
    /// Clients skipped because they are lagging: their queue was full at this or an earlier
    /// broadcast and their mark has not been cleared. The message was not queued for them.
    pub lagging: Vec<ClientId>,
    /// Clients whose receiving side was gone. They have been unregistered.
    pub disconnected: Vec<ClientId>,
}

impl BroadcastReport {
    /// True when every targeted client got the message.
    #[must_use]
    pub fn reached_all(&self) -> bool {
        self.lagging.is_empty() && self.disconnected.is_empty()
    }
}

impl<K, M, I> Registry<K, M, I>
where
    K: Eq + Hash + Clone + Debug,
    I: ClientInfo,
{
    /// Sends a message to one client, waiting for room in its queue.
    ///
    /// No lock is held while waiting; the wait ends when the client's receiver takes a
    /// message or goes away. Wrap the call in a timeout (or use
    /// [`Registry::try_send_to_client`]) where a stalled client must not hold the caller up.
    /// Direct sends ignore the lagging mark: they are how a server delivers the resync that
    /// precedes [`Registry::clear_lagging`].
    ///
    /// # Errors
    ///
    /// [`SendError::UnknownClient`] if `id` is not registered; [`SendError::Disconnected`]
    /// if its receiver is gone, in which case the client is unregistered.
    pub async fn send_to_client(&self, id: ClientId, msg: M) -> Result<(), SendError<M>> {
        // An `Arc` of the registration, not a map guard, is what lives across the await.
        let client = self.client(id).ok_or(SendError::UnknownClient(id))?;
        if client.sender.send(msg).await.is_ok() {
            self.counters.record_delivered(1);
            return Ok(());
        }
        self.counters.record_dropped(1);
        self.remove_client(id, Some(client.serial), Removal::ChannelClosed);
        Err(SendError::Disconnected(id))
    }

    /// Sends a message to one client if its queue has room, without waiting.
    ///
    /// A full queue does not mark the client lagging (only broadcasts do); the message is
    /// handed back instead.
    ///
    /// # Errors
    ///
    /// [`SendError::UnknownClient`] if `id` is not registered; [`SendError::Full`] (with the
    /// message) if its queue is full; [`SendError::Disconnected`] if its receiver is gone,
    /// in which case the client is unregistered.
    pub fn try_send_to_client(&self, id: ClientId, msg: M) -> Result<(), SendError<M>> {
        let client = self.client(id).ok_or(SendError::UnknownClient(id))?;
        match client.sender.try_send(msg) {
            Ok(()) => {
                self.counters.record_delivered(1);
                Ok(())
            }
            Err(TrySendError::Full(msg)) => {
                self.counters.record_dropped(1);
                Err(SendError::Full { id, msg })
            }
            Err(TrySendError::Closed(_)) => {
                self.counters.record_dropped(1);
                self.remove_client(id, Some(client.serial), Removal::ChannelClosed);
                Err(SendError::Disconnected(id))
            }
        }
    }
}

impl<K, M, I> Registry<K, M, I>
where
    K: Eq + Hash + Clone + Debug,
    M: Clone,
    I: ClientInfo,
{
    /// Queues a clone of `msg` for every client attached to `session`.
    ///
    /// Never awaits and never blocks on a client: the member list is copied out of the
    /// index (one shard read lock, one `Arc` increment), the lock released, then each
    /// client gets a `try_send`. A client whose queue is full is marked lagging and skipped
    /// from then on until [`Registry::clear_lagging`]; a client whose receiver is gone is
    /// unregistered. A broadcast to a session without clients does nothing.
    pub fn broadcast_to_session(&self, session: &K, msg: M) -> BroadcastReport {
        self.broadcast(session, None, msg)
    }

    /// Like [`Registry::broadcast_to_session`], but skips `except` (typically the client the
    /// message came from). The excluded client appears nowhere in the report.
    pub fn broadcast_to_session_except(
        &self,
        session: &K,
        except: ClientId,
        msg: M,
    ) -> BroadcastReport {
        self.broadcast(session, Some(except), msg)
    }

    fn broadcast(&self, session: &K, except: Option<ClientId>, msg: M) -> BroadcastReport {
        let mut report = BroadcastReport::default();
        let Some(members) = self.members(session) else {
            return report;
        };
        // No lock is held from here on.
        let mut closed = Vec::new();
        for client in members.iter() {
            if Some(client.id) == except {
                continue;
            }
            if client.lag.is_lagging() {
                report.lagging.push(client.id);
                continue;
            }
            match client.sender.try_send(msg.clone()) {
                Ok(()) => report.delivered += 1,
                Err(TrySendError::Full(_)) => {
                    if !client.lag.set() {
                        self.counters.record_lag_event();
                        tracing::debug!(client = %client.id, session = ?session, "client lagging");
                    }
                    report.lagging.push(client.id);
                }
                Err(TrySendError::Closed(_)) => {
                    report.disconnected.push(client.id);
                    closed.push((client.id, client.serial));
                }
            }
        }
        drop(members);
        self.counters.record_delivered(report.delivered);
        self.counters
            .record_dropped(report.lagging.len() + report.disconnected.len());
        for (id, serial) in closed {
            self.remove_client(id, Some(serial), Removal::ChannelClosed);
        }
        report
    }
}
