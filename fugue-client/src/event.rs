//! `Event` and `Events`: what the server says without being asked, delivered in order.

use bytes::Bytes;
use fugue_protocol::{DetachReason, ErrorCode, ExitStatus, SessionEvent};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::error::ClientError;
use crate::replies::Attachment;

/// A message from the server that is not the reply to a request.
#[derive(Debug)]
pub enum Event {
    /// Program output for the attached session; write `data` to the terminal.
    Output {
        /// The session's id.
        session: Uuid,
        /// The stream position after `data`.
        seq: u64,
        /// Raw bytes from the program.
        data: Bytes,
    },
    /// The client fell behind; `snapshot` redraws the whole screen as of `seq`.
    Resync {
        /// The stream position the snapshot stands for.
        seq: u64,
        /// Bytes that redraw the screen.
        snapshot: Bytes,
    },
    /// Output frames the library dropped because events were not consumed while a request
    /// waited for its reply (see the crate docs); the screen may be stale until the next
    /// `Resync` or a fresh attach.
    OutputLost {
        /// How many `Output` or `Resync` frames were dropped.
        frames: u64,
    },
    /// The attached session's program ended; `Detached { SessionEnded }` follows.
    SessionExited {
        /// The session's name.
        session: String,
        /// How the program ended.
        status: ExitStatus,
    },
    /// The client is no longer attached.
    Detached {
        /// Why.
        reason: DetachReason,
    },
    /// Another client moved this one to another session (`fugue switch`): draw the
    /// snapshot; output of the new session follows.
    Switched(Attachment),
    /// Something happened to a session this client subscribed to
    /// ([`crate::Client::subscribe`]).
    Session(SessionEvent),
    /// Session events the server (or this library, while a request waited for its reply)
    /// dropped because this client did not keep up; a subscriber should re-read what it
    /// needs (`list_sessions`).
    EventsLost {
        /// How many events were dropped.
        count: u64,
    },
    /// A connection-level error (e.g. idle timeout); the server closes after it.
    ServerError {
        /// What kind of failure.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// The connection is closed; no event follows. `error` is set when reading failed
    /// (rather than the server closing cleanly).
    Closed {
        /// Why reading stopped, if it was not a clean end of stream.
        error: Option<ClientError>,
    },
}

/// The stream of [`Event`]s of one connection.
///
/// The channel behind it is bounded. Not consuming events eventually stops the library
/// from reading the socket (the server then treats this client as lagging), except while a
/// request awaits its reply: then output is dropped and reported as [`Event::OutputLost`],
/// so a reply is never stuck behind unconsumed output.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::Receiver<Event>,
}

impl Events {
    pub(crate) fn new(rx: mpsc::Receiver<Event>) -> Self {
        Events { rx }
    }

    /// The next event; `None` once [`Event::Closed`] has been delivered.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next event if one is ready now, without waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }
}
