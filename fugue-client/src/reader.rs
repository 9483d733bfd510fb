//! The reader task: reads every server frame, hands replies to the waiting requests,
//! answers pings, and queues everything else as [`Event`]s.
//!
//! # Why this cannot deadlock
//!
//! Replies and events arrive interleaved on one socket, so a reply can sit behind output
//! that nobody consumes. The reader therefore keeps a small backlog of its own in front of
//! the bounded event channel and follows two rules:
//!
//! - With no request waiting, it stops reading the socket once the backlog is full. That is
//!   plain backpressure: the server marks this client lagging and resyncs it later.
//! - With a request waiting, it always keeps reading, so the reply gets through. Output and
//!   resync frames that do not fit are dropped and reported as one [`Event::OutputLost`];
//!   other events (exit, detach, errors) are rare and always kept.
//!
//! Registering a request wakes the reader (`Pending::request_started`), so a reader that had
//! stopped reading starts again. The reader never awaits anything but the socket, room in
//! the event channel and that wake-up, and the pong queue is only ever `try_send`. While it
//! does not read, the server's pings go unanswered, but the writer's own keepalive pings
//! still keep the connection from counting as idle.
//!
//! Over a link that can stall (ssh), the reader also gives up on a server it has not heard
//! from for the silence limit while it was reading; the writer's keepalive pings make the
//! server answer in the meantime.
//!
//! Once the socket has ended, the reader fails the waiting requests first, then hands the
//! rest of the backlog and a final [`Event::Closed`] to the event channel, waiting for the
//! consumer to read them or to drop [`crate::Events`], whichever comes first.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fugue_protocol::{ClientCodec, ServerMessage};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant, Sleep, sleep};
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use crate::error::ClientError;
use crate::event::Event;
use crate::link::Link;
use crate::pending::Pending;
use crate::replies::Attachment;

/// The reading half of a connection.
pub(crate) type FrameStream = SplitStream<Framed<Link, ClientCodec>>;

/// When the reader last heard from the server (or last chose not to read), shared with
/// [`crate::Client::silence`].
#[derive(Debug)]
pub(crate) struct Heard {
    base: Instant,
    /// Milliseconds from `base`.
    at_ms: AtomicU64,
}

impl Heard {
    pub(crate) fn new() -> Heard {
        Heard {
            base: Instant::now(),
            at_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.at_ms.store(ms, Ordering::Relaxed);
    }

    /// When `timer` (set for `limit` after the last word) fires: the silence error if
    /// it has lasted `limit`, else `None` with the timer set for the rest of it.
    fn expired(&self, limit: Duration, timer: Pin<&mut Sleep>) -> Option<ClientError> {
        let silence = self.silence();
        if silence >= limit {
            return Some(ClientError::Silent { after: silence });
        }
        timer.reset(Instant::now() + (limit - silence));
        None
    }

    /// How long since.
    pub(crate) fn silence(&self) -> Duration {
        let at = self.base + Duration::from_millis(self.at_ms.load(Ordering::Relaxed));
        at.elapsed()
    }
}

/// Events the reader holds beyond the event channel before it stops reading or drops output.
const BACKLOG_LIMIT: usize = 64;

/// Reads `stream` until it ends, then fails the waiting requests and sends `Event::Closed`.
pub(crate) async fn run(
    mut stream: FrameStream,
    pending: Arc<Pending>,
    events_tx: mpsc::Sender<Event>,
    pong_tx: mpsc::Sender<u64>,
    silence_limit: Option<Duration>,
    heard: Arc<Heard>,
    done: CancellationToken,
) {
    // Whatever way the reader ends, the writer stops too (see `writer::Watch`).
    let _done = done.drop_guard();
    let mut backlog = Backlog::default();
    // Only a link that can stall is watched (the local socket costs no clock reads), with
    // one timer, re-armed only when it fires early: a frame costs a clock read, no more.
    let (watching, limit) = (
        silence_limit.is_some(),
        silence_limit.unwrap_or(Duration::MAX),
    );
    heard.touch();
    let silent = sleep(limit.min(Duration::from_secs(365 * 86_400)));
    tokio::pin!(silent);
    let error = loop {
        let may_read = backlog.len() < BACKLOG_LIMIT || pending.any();
        if watching && !may_read {
            // Silence counts only while this side reads.
            heard.touch();
        }
        tokio::select! {
            biased;
            permit = events_tx.reserve(), if !backlog.is_empty() => backlog.deliver(permit),
            frame = stream.next(), if may_read => match frame {
                None => break None,
                Some(Err(err)) => break Some(ClientError::Codec(err)),
                Some(Ok(msg)) => {
                    if watching {
                        heard.touch();
                    }
                    let keep = !events_tx.is_closed();
                    route(msg, &pending, &pong_tx, keep.then_some(&mut backlog));
                }
            },
            () = pending.request_started(), if !may_read => {}
            () = &mut silent, if may_read && watching => {
                if let Some(err) = heard.expired(limit, silent.as_mut()) {
                    break Some(err);
                }
            }
        }
    };
    pending.close();
    // The ping queue closing tells the writer to stop.
    drop(pong_tx);
    hand_over(backlog, error, &events_tx).await;
}

/// Hands the rest of the backlog and a final [`Event::Closed`] to the event channel, or
/// stops when nobody listens.
async fn hand_over(
    mut backlog: Backlog,
    error: Option<ClientError>,
    events_tx: &mpsc::Sender<Event>,
) {
    backlog.push(Event::Closed { error });
    while let Some(event) = backlog.pop() {
        if events_tx.send(event).await.is_err() {
            break;
        }
    }
}

/// Delivers one server message to its waiter, the pong queue, or the backlog.
fn route(
    msg: ServerMessage,
    pending: &Pending,
    pong_tx: &mpsc::Sender<u64>,
    backlog: Option<&mut Backlog>,
) {
    // Id 0 is a switch's `Attached`, which answers no request of this client.
    if let Some(id) = msg.reply_to().filter(|&id| id != 0) {
        pending.complete(id, msg);
        return;
    }
    let event = match msg {
        ServerMessage::Ping { nonce } => {
            // A full queue means the writer is stuck on the socket; a later ping retries.
            let _ = pong_tx.try_send(nonce);
            return;
        }
        ServerMessage::Pong { .. } | ServerMessage::Welcome { .. } => return,
        ServerMessage::Error {
            request_id: None,
            code,
            message,
        } => Event::ServerError { code, message },
        ServerMessage::Attached {
            request_id: 0,
            session,
            seq,
            snapshot,
        } => Event::Switched(Attachment {
            session,
            seq,
            snapshot,
        }),
        ServerMessage::Detached { reason } => {
            pending.complete_detaches(&msg);
            Event::Detached { reason }
        }
        ServerMessage::Output { session, seq, data } => Event::Output { session, seq, data },
        ServerMessage::Resync { seq, snapshot } => Event::Resync { seq, snapshot },
        ServerMessage::SessionExited { session, status } => {
            Event::SessionExited { session, status }
        }
        ServerMessage::Event { event } => Event::Session(event),
        ServerMessage::EventsLost { count } => Event::EventsLost { count },
        // Replies, routed above.
        _ => return,
    };
    if let Some(backlog) = backlog {
        backlog.push(event);
    }
}

/// Events read but not yet in the channel.
#[derive(Default)]
struct Backlog {
    events: VecDeque<Event>,
}

impl Backlog {
    /// Hands the oldest event over with `permit`; without one (nobody listens for events
    /// any more), stops keeping them.
    fn deliver(&mut self, permit: Result<mpsc::Permit<'_, Event>, mpsc::error::SendError<()>>) {
        match permit {
            Ok(permit) => {
                if let Some(event) = self.pop() {
                    permit.send(event);
                }
            }
            Err(_) => self.discard(),
        }
    }

    fn len(&self) -> usize {
        self.events.len()
    }

    fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    fn pop(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn discard(&mut self) {
        self.events.clear();
    }

    /// Queues `event`; output and session events beyond the limit are dropped and
    /// counted instead.
    fn push(&mut self, event: Event) {
        let droppable = matches!(
            event,
            Event::Output { .. } | Event::Resync { .. } | Event::Session(_)
        );
        if !droppable || self.events.len() < BACKLOG_LIMIT {
            self.events.push_back(event);
            return;
        }
        match (&event, self.events.back_mut()) {
            (Event::Session(_), Some(Event::EventsLost { count })) => *count += 1,
            (Event::Session(_), _) => self.events.push_back(Event::EventsLost { count: 1 }),
            (_, Some(Event::OutputLost { frames })) => *frames += 1,
            _ => self.events.push_back(Event::OutputLost { frames: 1 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use uuid::Uuid;

    use super::*;

    fn output(seq: u64) -> Event {
        Event::Output {
            session: Uuid::nil(),
            seq,
            data: Bytes::from_static(b"x"),
        }
    }

    #[test]
    fn backlog_drops_output_beyond_limit_as_one_marker() {
        let mut backlog = Backlog::default();
        for seq in 0..(BACKLOG_LIMIT as u64 + 5) {
            backlog.push(output(seq));
        }
        assert_eq!(backlog.len(), BACKLOG_LIMIT + 1);
        assert!(matches!(
            backlog.events.back(),
            Some(Event::OutputLost { frames: 5 })
        ));
    }

    #[test]
    fn backlog_keeps_non_output_events_past_limit() {
        let mut backlog = Backlog::default();
        for seq in 0..(BACKLOG_LIMIT as u64) {
            backlog.push(output(seq));
        }
        backlog.push(Event::Detached {
            reason: fugue_protocol::DetachReason::SessionEnded,
        });
        backlog.push(output(99));
        assert_eq!(backlog.len(), BACKLOG_LIMIT + 2);
        assert!(matches!(
            backlog.events.back(),
            Some(Event::OutputLost { frames: 1 })
        ));
    }
}
