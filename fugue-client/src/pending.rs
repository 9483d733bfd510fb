//! `Pending`: the requests awaiting a reply, shared by the request methods and the reader.
//!
//! The map sits behind a `std::sync::Mutex` that is only held for an insert or a remove,
//! never across an `.await`. The reader completes a request by removing its sender and
//! sending the reply on it; a request whose caller gave up removes its own entry on drop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use fugue_protocol::{RequestId, ServerMessage};
use tokio::sync::{Notify, oneshot};

use crate::error::ClientError;

/// One request awaiting its reply.
struct Waiter {
    reply_tx: oneshot::Sender<ServerMessage>,
    /// A `Detach` is answered by `Detached`, which carries no request id.
    is_detach: bool,
}

#[derive(Default)]
struct State {
    waiters: HashMap<RequestId, Waiter>,
    /// Set by the reader when it stops: no reply can come any more.
    closed: bool,
}

/// The in-flight requests of one connection.
#[derive(Default)]
pub(crate) struct Pending {
    state: Mutex<State>,
    /// Wakes the reader when a request starts, so that a reader which stopped reading
    /// because nobody consumed events reads again to find the reply.
    request_started: Notify,
}

impl Pending {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The critical sections cannot panic halfway, so a poisoned map is still sound.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers request `id`; the returned ticket receives the reply.
    pub(crate) fn register(
        self: &Arc<Self>,
        id: RequestId,
        is_detach: bool,
    ) -> Result<Ticket, ClientError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        {
            let mut state = self.lock();
            if state.closed {
                return Err(ClientError::Closed);
            }
            state.waiters.insert(
                id,
                Waiter {
                    reply_tx,
                    is_detach,
                },
            );
        }
        self.request_started.notify_one();
        Ok(Ticket {
            pending: Arc::clone(self),
            id,
            reply_rx,
        })
    }

    /// Whether any request awaits a reply.
    pub(crate) fn any(&self) -> bool {
        !self.lock().waiters.is_empty()
    }

    /// Resolves when a request is registered (or was since the last call).
    pub(crate) async fn request_started(&self) {
        self.request_started.notified().await;
    }

    /// Hands `reply` to request `id`, if anyone still waits for it.
    pub(crate) fn complete(&self, id: RequestId, reply: ServerMessage) {
        let waiter = self.lock().waiters.remove(&id);
        if let Some(waiter) = waiter {
            // The caller may have given up in the meantime; then nobody wants the reply.
            let _ = waiter.reply_tx.send(reply);
        }
    }

    /// Hands `reply` to every waiting `Detach` request.
    pub(crate) fn complete_detaches(&self, reply: &ServerMessage) {
        let detaches: Vec<Waiter> = {
            let mut state = self.lock();
            let ids: Vec<RequestId> = state
                .waiters
                .iter()
                .filter(|(_, waiter)| waiter.is_detach)
                .map(|(id, _)| *id)
                .collect();
            ids.iter()
                .filter_map(|id| state.waiters.remove(id))
                .collect()
        };
        for waiter in detaches {
            let _ = waiter.reply_tx.send(reply.clone());
        }
    }

    /// Marks the connection closed and fails every waiting request.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        // Dropping the senders makes each waiting ticket fail with `Closed`.
        state.waiters.clear();
    }

    fn forget(&self, id: RequestId) {
        self.lock().waiters.remove(&id);
    }
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

/// The receiving end of one request; dropping it unregisters the request.
pub(crate) struct Ticket {
    pending: Arc<Pending>,
    id: RequestId,
    reply_rx: oneshot::Receiver<ServerMessage>,
}

impl Ticket {
    /// Waits for the reply.
    pub(crate) async fn reply(mut self) -> Result<ServerMessage, ClientError> {
        (&mut self.reply_rx).await.map_err(|_| ClientError::Closed)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // A no-op when the reply arrived: the reader removed the entry already.
        self.pending.forget(self.id);
    }
}
