//! The forwarder: what flows from the local terminal to the server during an attach, typed
//! bytes (up to the detach key) and size changes.
//!
//! It sends on the latest connection the attach loop publishes, `None` while the link is
//! down and the loop reconnects. It keeps reading meanwhile, so the detach key still works,
//! and holds what is typed (up to [`HELD_LIMIT`]) to send once, first thing, on the new
//! connection; beyond that, keys are dropped and counted ([`Typing`], for the status line).
//! Bytes handed to a connection before its loss was noticed (on a stalled link, up to the
//! silence limit) may be lost with it; they are never sent twice.
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
    /// Bytes dropped because more than [`HELD_LIMIT`] was typed while the link was down.
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
    let mut held = BytesMut::new();
    loop {
        let current = clients.borrow_and_update().clone();
        if let (Some(client), false) = (&current, held.is_empty()) {
            let data = held.split().freeze();
            typing.send_modify(|typing| typing.held = 0);
            send(client, data, &mut held, typing).await?;
        }
        tokio::select! {
            chunk = input.next() => {
                // End of input (the terminal hung up) detaches like the key does.
                let Some(chunk) = chunk else { break };
                let (before, detach) = policy.detach_key.split(&chunk);
                if !before.is_empty() && !policy.read_only {
                    let data = chunk.slice_ref(before);
                    match &current {
                        Some(client) => send(client, data, &mut held, typing).await?,
                        None => hold(&mut held, &data, typing),
                    }
                }
                if detach {
                    break;
                }
            }
            changed = clients.changed() => {
                if changed.is_err() {
                    return Err(ClientError::Closed);
                }
            }
            changed = recv_signal(&mut window_changes) => match changed {
                Some(()) => {
                    if let (Some(size), false, Some(client)) =
                        (terminal_size(), policy.read_only, &current)
                    {
                        // A size lost with the link goes again with the resuming attach.
                        let _ = client.resize(size).await;
                    }
                }
                // The signal driver is gone; stop listening rather than spin.
                None => window_changes = None,
            },
        }
    }
    let current = clients.borrow().clone();
    detach(current).await
}

/// Hands `data` to `client`; if its connection is already gone (nothing was queued), holds
/// it for the next one instead.
async fn send(
    client: &Client,
    data: Bytes,
    held: &mut BytesMut,
    typing: &watch::Sender<Typing>,
) -> Result<(), ClientError> {
    match client.send_input(data.clone()).await {
        Ok(()) => {
            typing.send_modify(|typing| typing.last_sent = Some(Instant::now()));
            Ok(())
        }
        Err(ClientError::Closed) => {
            hold(held, &data, typing);
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// Keeps `data` for the next connection, up to [`HELD_LIMIT`]; counts what does not fit.
fn hold(held: &mut BytesMut, data: &[u8], typing: &watch::Sender<Typing>) {
    let room = HELD_LIMIT.saturating_sub(held.len());
    let kept = data.len().min(room);
    held.extend_from_slice(&data[..kept]);
    typing.send_modify(|typing| {
        typing.held = held.len();
        typing.dropped += data.len() - kept;
    });
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
