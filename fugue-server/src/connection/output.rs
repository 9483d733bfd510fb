//! The writing side of a connection: batched writes from the client's queue, the wake-up
//! that pacing relies on, the resync request of a lagging client, and the farewell at
//! shutdown.

use std::future::{Future, poll_fn};
use std::sync::Arc;
use std::time::Duration;

use fugue_protocol::{CodecError, DetachReason, ErrorCode, PROTOCOL_VERSION, ServerMessage};
use fugue_registry::LagFlag;
use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::{Connection, Flow};
use crate::clients::Outbound;
use crate::handoff::{Handoff, Presence};
use crate::refusal::error;
use crate::session::SWITCHED;
use crate::session::SessionCmd;
use crate::session::pacing::MAX_QUEUED;

/// Items written per batch before one flush.
const BATCH_ITEMS: usize = 64;

impl Connection {
    /// Called after taking an item off the queue. Taking from a queue that was full enough
    /// to hold the session's output back (see `session::pacing`) makes room: wake the
    /// session now, so it reads while this batch is written. Every such take wakes it, so
    /// the session, which looks at the queues after arming its wake-up, cannot miss one. A
    /// lagging client does not count for pacing, so it wakes nobody.
    pub(super) fn made_room(&self, rx: &mpsc::Receiver<Outbound>) {
        let Some(session) = &self.membership.session else {
            return;
        };
        let lagging = self.lag.as_ref().is_some_and(LagFlag::is_lagging);
        if !lagging && rx.len() + 1 >= MAX_QUEUED {
            session.meta.drained.notify_waiters();
        }
    }

    /// A lagging client whose queue has drained asks its session for one `Resync`.
    pub(super) fn maybe_request_resync(&mut self, rx: &mpsc::Receiver<Outbound>) {
        let Some(session) = &self.membership.session else {
            return;
        };
        let lagging = self.lag.as_ref().is_some_and(LagFlag::is_lagging);
        if self.resync_requested || !rx.is_empty() || !lagging {
            return;
        }
        let client = self.membership.id();
        match session.commands.try_send(SessionCmd::Resync { client }) {
            Ok(()) => self.resync_requested = true,
            // The session ended (and said so); there is nothing to resync to.
            Err(mpsc::error::TrySendError::Closed(_)) => self.membership.session = None,
            Err(mpsc::error::TrySendError::Full(_)) => {}
        }
    }

    /// A subscriber whose queue has drained hears how many events it missed, if any.
    pub(super) async fn report_lost_events(&mut self, rx: &mpsc::Receiver<Outbound>) -> Flow {
        let events = &self.shared.sessions.events;
        if !rx.is_empty() || !events.any() {
            return Ok(());
        }
        match events.take_lost(self.membership.id()) {
            0 => Ok(()),
            count => self.write(ServerMessage::EventsLost { count }.into()).await,
        }
    }

    /// Writes `first` and whatever is queued (up to a batch), then flushes once.
    pub(super) async fn write_batch(
        &mut self,
        first: Outbound,
        rx: &mut mpsc::Receiver<Outbound>,
    ) -> Flow {
        // Anything arriving means an earlier resync either came or failed; ask again later.
        self.resync_requested = false;
        let guard = self.guard();
        let batch = async {
            self.feed(first).await?;
            for _ in 1..BATCH_ITEMS {
                let Ok(item) = rx.try_recv() else {
                    break;
                };
                // The session may have filled the queue while the last item was being
                // written; taking from it must wake the session too.
                self.made_room(rx);
                self.feed(item).await?;
            }
            self.flush().await
        };
        guard.run(batch).await
    }

    /// Writes one item now.
    pub(super) async fn write(&mut self, item: Outbound) -> Flow {
        let guard = self.guard();
        let write = async {
            self.feed(item).await?;
            self.flush().await
        };
        guard.run(write).await
    }

    /// Writes what the writer holds.
    pub(super) async fn flush_bounded(&mut self) -> Flow {
        let guard = self.guard();
        guard.run(self.flush()).await
    }

    fn guard(&self) -> WriteGuard {
        WriteGuard {
            limit: self.shared.config.idle_timeout,
            handoff: self.shared.handoff.clone(),
            presence: self.presence.clone(),
            can_park: !self.detaching,
        }
    }

    /// Buffers one item, as the client's protocol version reads it; a message too large to
    /// encode is answered with an error instead. The item stays in hand until the writer
    /// has room for it, so a write an upgrade cuts short loses nothing.
    async fn feed(&mut self, item: Outbound) -> Flow {
        self.in_hand = Some(item);
        poll_fn(|cx| SinkExt::<ServerMessage>::poll_ready_unpin(&mut self.writer, cx))
            .await
            .map_err(drop)?;
        let Some(item) = self.in_hand.take() else {
            return Ok(());
        };
        if let Outbound::Message(ServerMessage::Attached {
            request_id: SWITCHED,
            session,
            ..
        }) = &item
        {
            // Another client moved this one (`Switch`): its session is that one now, and,
            // as for any interactive attach, uses its ssh agent.
            let sessions = &self.shared.sessions;
            self.membership.session = sessions.find(&session.id.to_string()).ok();
            if let (Some(handle), Some(agent)) = (&self.membership.session, &self.meta.agent) {
                sessions.point_agent(handle, agent);
            }
        }
        let result = match item {
            Outbound::Frame(frame) => self.writer.start_send_unpin(frame),
            Outbound::Message(msg) if self.meta.version < PROTOCOL_VERSION => self
                .writer
                .encoder()
                .encode_for_peer(&msg, self.meta.version)
                .and_then(|frame| self.writer.start_send_unpin(frame)),
            Outbound::Message(msg) => self.writer.start_send_unpin(msg),
        };
        match result {
            Ok(()) => Ok(()),
            Err(CodecError::Io(_)) => Err(()),
            Err(err) => {
                tracing::error!(client = %self.membership.id(), %err, "cannot encode a message");
                let msg = error(
                    None,
                    ErrorCode::Internal,
                    format!("the server could not send a message: {err}"),
                );
                self.writer.feed(msg).await.map_err(drop)
            }
        }
    }

    pub(super) async fn flush(&mut self) -> Flow {
        SinkExt::<ServerMessage>::flush(&mut self.writer)
            .await
            .map_err(drop)
    }

    /// Shutdown: deliver what is queued, then `Detached { ServerShutdown }`. Closing the
    /// queue first makes the sessions' next sends to it fail, which takes the client out of
    /// their members.
    pub(super) async fn farewell(&mut self, rx: &mut mpsc::Receiver<Outbound>) {
        rx.close();
        let limit = self.shared.config.shutdown_timeout;
        let drain = async {
            while let Some(item) = rx.recv().await {
                self.feed(item).await?;
            }
            let bye = ServerMessage::Detached {
                reason: DetachReason::ServerShutdown,
            };
            self.feed(bye.into()).await?;
            self.flush().await
        };
        let _ = timeout(limit, drain).await;
    }
}

/// What a write watches besides the client: its idle timeout (a client that cannot take a
/// write by then is dropped), and an upgrade. A write parks the connection if asked to (it
/// goes on writing), and a drain cuts it short: what is unwritten stays in the writer's
/// buffer and in hand, for the next server.
struct WriteGuard {
    limit: Duration,
    handoff: Arc<Handoff>,
    presence: Presence,
    can_park: bool,
}

impl WriteGuard {
    async fn run(self, write: impl Future<Output = Flow>) -> Flow {
        let write = timeout(self.limit, write);
        tokio::pin!(write);
        let mut asked = self.handoff.park.is_cancelled();
        loop {
            tokio::select! {
                biased;
                done = &mut write => return done.unwrap_or(Err(())),
                () = self.handoff.park.cancelled(), if !asked => {
                    asked = true;
                    if self.can_park {
                        self.presence.park();
                    }
                }
                () = self.handoff.drain.cancelled(), if self.presence.is_parked() => {
                    return Ok(());
                }
            }
        }
    }
}
