//! Who is attached to a session, changed only by its task: attach, detach, resync, and the
//! farewell when the session ends.
//!
//! Invariant: the session task writes its membership in the registry (an attach here moves
//! a client out of the session it was in), and queues what a client must see about it
//! (`Attached`, `Resync`, `Detached`, `SessionExited`) itself, in order with the output it
//! broadcasts, after reserving room for it. Because it is the only broadcaster of its
//! session, a client sees nothing of the session before its `Attached` and nothing after
//! its `Detached`, and its stream has no gap and no duplicate.

use std::collections::BTreeSet;
use std::time::Duration;

use fugue_protocol::{
    DetachReason, EventKind, ExitStatus, RequestId, Role, ServerMessage, TermSize,
};
use fugue_registry::{ClientId, SendError};
use futures_util::future::join_all;
use tokio::sync::oneshot;
use tokio::time::{Instant, timeout};
use uuid::Uuid;

use super::handle::{InitialAttach, SessionMeta, Start};
use super::task::SessionTask;
use crate::clients::{ClientRegistry, Outbound};
use crate::refusal::Refusal;

/// How long the final messages of a session may wait for a slow client's queue.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(1);
/// A resync asked for while the model is behind (a flood) waits for the output to pause, at
/// most this long: one catch-up of the model and one snapshot then serve every client that
/// asked, instead of one per client.
const RESYNC_WAIT: Duration = Duration::from_millis(500);

/// Lagging clients waiting for their resync, and when it is due at the latest.
#[derive(Default)]
pub(super) struct Resyncs {
    waiting: BTreeSet<ClientId>,
    due: Option<Instant>,
}

impl Resyncs {
    /// When the resyncs put off during a flood go out regardless.
    pub(super) fn due(&self) -> Option<Instant> {
        self.due
    }
}

impl SessionTask {
    /// Attaches the client that created the session, before the program's first byte.
    pub(super) async fn attach_creator(&mut self, first: InitialAttach) {
        let result = self
            .attach(
                first.client,
                first.request_id,
                first.size,
                Start::Fresh(None),
            )
            .await;
        if let Err(refusal) = &result {
            tracing::warn!(session = %self.meta.id, client = %first.client, %refusal, "cannot attach the creating client");
        }
        let _ = first.reply.send(result);
    }

    /// Makes `client` a member and queues its `Attached`: with a snapshot (after the
    /// history replay a fresh start asks for), or, resuming, without one followed by the
    /// output after the position when the ring still holds all of it.
    pub(super) async fn attach(
        &mut self,
        client: ClientId,
        request_id: RequestId,
        size: Option<TermSize>,
        start: Start,
    ) -> Result<(), Refusal> {
        if let Some(size) = size {
            self.sizes.set(client, size);
            self.apply_size();
        }
        let replay = start
            .resume_after()
            .and_then(|after| self.stream.replay_since(after));
        let snapshot = match replay {
            Some(_) => None,
            None => Some(self.stream.snapshot(start.history()).await),
        };
        self.meta.touch_attached();
        let registry = &self.sessions.registry;
        let id = self.meta.id;
        let mut session = self.meta.info(registry);
        session.attached_clients += 1;
        let attached = ServerMessage::Attached {
            request_id,
            session,
            seq: self.stream.seq(),
            snapshot,
        };
        let replayed = replay.unwrap_or_default().into_iter().map(|(seq, data)| {
            let session = id;
            ServerMessage::Output { session, seq, data }
        });
        // Room first, so that nothing is changed unless every message fits. Then member:
        // this task broadcasts nothing until the messages below are queued, and the session
        // the client was in (if any) no longer reaches it; what that one queued before
        // stays ahead of `Attached`.
        let joined = registry
            .try_reserve(client, 1 + replayed.len())
            .ok()
            .filter(|_| registry.attach_to_session(client, id).is_ok());
        let Some(mut room) = joined else {
            self.left(client);
            return Err(Refusal::QueueFull);
        };
        for msg in std::iter::once(attached).chain(replayed) {
            let _ = room.send(msg.into());
        }
        registry.clear_lagging(client);
        // Control clients never attach, and only interactive ones give a size.
        let role = if size.is_some() {
            Role::Interactive
        } else {
            Role::ReadOnly
        };
        let client = client.get();
        self.publish(EventKind::Attached { client, role });
        Ok(())
    }

    /// The client asked to leave: it stops being a member and `Detached { Requested }` is
    /// queued after the output it has. `done` fires once that is queued; if its queue is
    /// full, a task of its own waits for room (the client's connection keeps draining it
    /// meanwhile, and reads no further request until `done`).
    pub(super) fn detach(&mut self, client: ClientId, done: oneshot::Sender<()>) {
        self.left(client);
        let registry = &self.sessions.registry;
        if !registry.detach_if_attached_to(client, &self.meta.id) {
            // No longer a member: its session ended, and said so, meanwhile.
            return;
        }
        self.publish(EventKind::Detached {
            client: client.get(),
        });
        let detached = ServerMessage::Detached {
            reason: DetachReason::Requested,
        };
        match registry.try_send_to_client(client, detached.into()) {
            Err(SendError::Full { msg, .. }) => {
                let registry = registry.clone();
                let limit = self.sessions.config.idle_timeout;
                tokio::spawn(async move {
                    deliver(&registry, client, [msg], limit).await;
                    let _ = done.send(());
                });
            }
            _ => {
                let _ = done.send(());
            }
        }
    }

    /// The client went away or joined another session: its size no longer counts.
    pub(super) fn left(&mut self, client: ClientId) {
        self.sizes.remove(client);
        self.apply_size();
        if self.answerer == Some(client) {
            // A query it was to answer gets no answer from another terminal either.
            self.answerer_left = Some(Instant::now());
        }
    }

    /// A lagging client drained its queue and asks for a fresh screen.
    pub(super) async fn resync_requested(&mut self, client: ClientId) {
        self.resyncs.waiting.insert(client);
        if self.stream.model_behind() {
            self.resyncs
                .due
                .get_or_insert_with(|| Instant::now() + RESYNC_WAIT);
        } else {
            self.send_resyncs().await;
        }
    }

    /// Resyncs put off while the model was behind go out as soon as it is current again
    /// (an attach or a capture may have caught it up).
    pub(super) async fn send_resyncs_if_current(&mut self) {
        if !self.resyncs.waiting.is_empty() && !self.stream.model_behind() {
            self.send_resyncs().await;
        }
    }

    /// Sends one snapshot to every client waiting for a resync that still lags and is still
    /// a member, and clears their marks so live output reaches them again.
    pub(super) async fn send_resyncs(&mut self) {
        self.resyncs.due = None;
        let asked = std::mem::take(&mut self.resyncs.waiting);
        let id = self.meta.id;
        let registry = self.sessions.registry.clone();
        let due: Vec<ClientId> = asked
            .into_iter()
            .filter(|&client| {
                registry.is_lagging(client) && registry.get_attached_session(client) == Some(id)
            })
            .collect();
        if due.is_empty() {
            return;
        }
        let resync = ServerMessage::Resync {
            seq: self.stream.seq(),
            snapshot: self.stream.snapshot(None).await,
        };
        // Encoded once for every client that waits for it, like output. Only once its
        // snapshot is queued may live output flow to a client again; nothing is broadcast
        // in between because this task is the only broadcaster.
        let resync = self.stream.encode(resync);
        for client in due {
            if registry.try_send_to_client(client, resync.clone()).is_ok() {
                registry.clear_lagging(client);
            }
        }
    }
}

/// Tells every member how the program ended and detaches it. Those messages are not
/// skipped like output to a lagging client: they end the attachment. Clients whose queue is
/// full are waited for together, each at most [`FAREWELL_TIMEOUT`]; one that cannot take
/// them by then is stalled: it is detached without them, and its idle timeout drops it.
pub(super) async fn farewell(registry: &ClientRegistry, meta: &SessionMeta, status: ExitStatus) {
    let id = meta.id;
    let name = meta.name();
    tracing::info!(session = %id, %name, ?status, "session ended");
    let exited = Outbound::from(ServerMessage::SessionExited {
        session: name,
        status,
    });
    let detached = Outbound::from(ServerMessage::Detached {
        reason: DetachReason::SessionEnded,
    });
    let goodbyes = registry.get_session_clients(&id).into_iter().map(|client| {
        let messages = [exited.clone(), detached.clone()];
        goodbye(registry, client, id, messages)
    });
    join_all(goodbyes).await;
}

/// Room for both messages first (waiting for it at most [`FAREWELL_TIMEOUT`]), then the
/// detach and the messages in one step, so nothing another session queues for the client
/// meanwhile can come between them. A client that joined another session while this waited
/// hears nothing of this one.
async fn goodbye(
    registry: &ClientRegistry,
    client: ClientId,
    session: Uuid,
    goodbyes: [Outbound; 2],
) {
    let room = timeout(FAREWELL_TIMEOUT, registry.reserve(client, goodbyes.len())).await;
    if !registry.detach_if_attached_to(client, &session) {
        return;
    }
    if let Ok(Ok(mut room)) = room {
        for msg in goodbyes {
            let _ = room.send(msg);
        }
    }
}

/// Queues `messages` for `client` in order, waiting for room in its queue for at most
/// `limit` in all.
async fn deliver(
    registry: &ClientRegistry,
    client: ClientId,
    messages: impl IntoIterator<Item = Outbound>,
    limit: Duration,
) {
    let send_all = async {
        for msg in messages {
            if registry.send_to_client(client, msg).await.is_err() {
                break;
            }
        }
    };
    let _ = timeout(limit, send_all).await;
}
