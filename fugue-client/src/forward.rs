//! The forwarder: what flows from the local terminal to the server during an attach, typed
//! bytes (up to the detach key) and size changes.
//!
//! It sends on the latest connection the attach loop publishes, `None` while the link is
//! down and the loop reconnects. It keeps reading meanwhile, so the detach key still works,
//! and holds what is typed (up to [`HELD_LIMIT`]) to send once, first thing, on the new
//! connection, followed by the terminal's size if it changed meanwhile; beyond that, keys
//! are dropped and counted ([`Typing`], for the status line). Bytes handed to a connection
//! before its loss was noticed (on a stalled link, up to the silence limit) may be lost
//! with it; they are never sent twice.
//!
//! When the server stops taking input (the send queue is full) the forwarder waits and
//! reading stops, while output keeps flowing in the attach loop.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use fugue_client::{Client, ClientError, DetachReason};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::input::Input;
use crate::keys::DetachKey;
use crate::terminal::terminal_size;

/// The most typed while the link is down that is held for the new connection.
pub const HELD_LIMIT: usize = 4096;
/// How long a detach waits for the server's confirmation before detaching anyway.
const DETACH_WAIT: Duration = Duration::from_secs(2);

/// What the forwarder tells the attach loop.
#[derive(Debug)]
pub enum InputNotice {
    /// The detach key was pressed or input ended; the detach was confirmed, or the
    /// connection was gone.
    Detached(DetachReason),
    /// Sending failed; the attach should end with this error.
    Failed(ClientError),
}

/// How the forwarder treats local input.
#[derive(Debug, Clone, Copy)]
pub struct InputPolicy {
    /// The key that detaches.
    pub detach_key: DetachKey,
    /// A read-only client sends neither input nor sizes (only the detach key counts).
    pub read_only: bool,
}

/// What became of typing around a dropped link, for the status line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Typing {
    /// Bytes held for the new connection.
    pub held: usize,
    /// Bytes dropped because more than [`HELD_LIMIT`] was typed while the link was down,
    /// since the attach began.
    pub dropped: usize,
    /// When bytes were last handed to a connection.
    pub last_sent: Option<Instant>,
}

/// The channels between the attach loop and the forwarder.
pub struct Forwarding {
    /// The latest connection (`None` while reconnecting).
    pub clients: watch::Receiver<Option<Client>>,
    /// The detach or the failure that ends the forwarder.
    pub notice_tx: mpsc::Sender<InputNotice>,
    /// What became of typing.
    pub typing: watch::Sender<Typing>,
}

/// Starts reading standard input and forwarding it; the task ends after a detach or an
/// error, which it reports on `notice_tx`.
pub fn spawn_forwarder(channels: Forwarding, policy: InputPolicy) -> JoinHandle<()> {
    let input = Input::open();
    tokio::spawn(async move {
        let Forwarding {
            mut clients,
            notice_tx,
            typing,
        } = channels;
        let notice = match forward(&mut clients, policy, input, &typing).await {
            Ok(reason) => InputNotice::Detached(reason),
            Err(err) => InputNotice::Failed(err),
        };
        let _ = notice_tx.send(notice).await;
    })
}

/// Forwards input and resizes until the detach key or the end of input, then detaches.
async fn forward(
    clients: &mut watch::Receiver<Option<Client>>,
    policy: InputPolicy,
    mut input: Input,
    typing: &watch::Sender<Typing>,
) -> Result<DetachReason, ClientError> {
    // Without a SIGWINCH handler (it cannot fail on Unix in practice) sizes just stay put.
    let mut window_changes = signal(SignalKind::window_change()).ok();
    let mut out = Outbox {
        clients,
        typing,
        held: BytesMut::new(),
        resize_owed: false,
    };
    loop {
        tokio::select! {
            chunk = input.next() => {
                // End of input (the terminal hung up) detaches like the key does.
                let Some(chunk) = chunk else { break };
                let (before, detach) = policy.detach_key.split(&chunk);
                if !before.is_empty() && !policy.read_only {
                    out.send(chunk.slice_ref(before)).await?;
                }
                if detach {
                    break;
                }
            }
            changed = out.clients.changed() => {
                if changed.is_err() {
                    return Err(ClientError::Closed);
                }
                // Once per new connection, never in a loop against a dead one.
                out.catch_up(policy.read_only).await?;
            }
            changed = recv_signal(&mut window_changes) => match changed {
                Some(()) if !policy.read_only => out.resize().await,
                Some(()) => {}
                // The signal driver is gone; stop listening rather than spin.
                None => window_changes = None,
            },
        }
    }
    let current = out.clients.borrow().clone();
    detach(current).await
}

/// Where typing goes: the current connection, or the held bytes while there is none.
struct Outbox<'a> {
    clients: &'a mut watch::Receiver<Option<Client>>,
    typing: &'a watch::Sender<Typing>,
    held: BytesMut,
    /// The terminal was resized while the link was down.
    resize_owed: bool,
}

impl Outbox<'_> {
    /// On a new connection: first what was held, then the size if it changed meanwhile.
    async fn catch_up(&mut self, read_only: bool) -> Result<(), ClientError> {
        if self.clients.borrow_and_update().is_none() {
            return Ok(());
        }
        if !self.held.is_empty() {
            let data = self.held.split().freeze();
            self.typing.send_modify(|typing| typing.held = 0);
            self.send(data).await?;
        }
        if std::mem::take(&mut self.resize_owed) && !read_only {
            self.resize().await;
        }
        Ok(())
    }

    /// Hands `data` to the current connection. Without one, or if the connection is given
    /// up while the send waits for room (it was not queued then), holds it instead.
    async fn send(&mut self, data: Bytes) -> Result<(), ClientError> {
        let current = self.clients.borrow().clone();
        let Some(client) = current else {
            self.hold(&data);
            return Ok(());
        };
        let sent = tokio::select! {
            sent = client.send_input(data.clone()) => sent,
            _ = self.clients.changed() => Err(ClientError::Closed),
        };
        match sent {
            Ok(()) => {
                self.typing
                    .send_modify(|typing| typing.last_sent = Some(Instant::now()));
                Ok(())
            }
            Err(ClientError::Closed) => {
                self.hold(&data);
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    /// Tells the current connection the terminal's size; owes it to the next one if there
    /// is none or the connection is given up meanwhile.
    async fn resize(&mut self) {
        let (Some(size), Some(client)) = (terminal_size(), self.clients.borrow().clone()) else {
            self.resize_owed = true;
            return;
        };
        let sent = tokio::select! {
            sent = client.resize(size) => sent,
            _ = self.clients.changed() => Err(ClientError::Closed),
        };
        self.resize_owed = sent.is_err();
    }

    /// Keeps `data` for the next connection if it fits within [`HELD_LIMIT`], else drops
    /// all of it (a chunk is a keypress or a piece of a paste: never cut one) and counts it.
    fn hold(&mut self, data: &[u8]) {
        let fits = self.held.len() + data.len() <= HELD_LIMIT;
        if fits {
            self.held.extend_from_slice(data);
        }
        let held = self.held.len();
        self.typing.send_modify(|typing| {
            typing.held = held;
            if !fits {
                typing.dropped += data.len();
            }
        });
    }
}

/// Detaches on `client`; without a live connection, or when the server does not confirm
/// in time (a stalled link), the detach is local: the server drops the connection itself.
async fn detach(client: Option<Client>) -> Result<DetachReason, ClientError> {
    let Some(client) = client else {
        return Ok(DetachReason::Requested);
    };
    match tokio::time::timeout(DETACH_WAIT, client.detach()).await {
        Ok(Err(ClientError::Closed)) | Err(_) => Ok(DetachReason::Requested),
        Ok(result) => result,
    }
}

async fn recv_signal(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}
