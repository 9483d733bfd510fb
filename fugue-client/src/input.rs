//! Everything that flows from the local terminal to the server during an attach: typed
//! bytes (up to the detach key) and size changes.
//!
//! Standard input is read on a plain thread that hands chunks over a small bounded channel.
//! A blocking read cannot be cancelled, so the thread is simply abandoned when the client
//! exits (returning from `main` ends it); it never holds anything that needs cleaning up.
//! The forwarder task sends the chunks; when the server stops taking input, the forwarder
//! waits and the thread stops reading, while output keeps flowing in the attach loop.

use std::io::Read;

use bytes::Bytes;
use fugue_client::{Client, ClientError, DetachReason};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::keys::DetachKey;
use crate::terminal::terminal_size;

/// Bytes read from standard input at a time (well under `MAX_INPUT_CHUNK`).
const READ_CHUNK: usize = 16 * 1024;
/// Chunks buffered between the reading thread and the forwarder.
const CHUNKS_IN_FLIGHT: usize = 16;

/// What the forwarder tells the attach loop.
#[derive(Debug)]
pub enum InputNotice {
    /// The detach key was pressed or input ended; the detach was confirmed.
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

/// Starts reading standard input and forwarding it to `client`; the task ends after a
/// detach or an error, which it reports on `notice_tx`.
///
/// The forwarder always uses the latest client in `clients`: when the connection drops
/// and the attach loop reconnects, it publishes the new client there, and a send that
/// failed on the old connection is retried on the new one.
pub fn spawn_forwarder(
    clients: watch::Receiver<Client>,
    policy: InputPolicy,
    notice_tx: mpsc::Sender<InputNotice>,
) -> JoinHandle<()> {
    let stdin_rx = spawn_stdin_reader();
    tokio::spawn(async move {
        let mut clients = clients;
        let notice = match forward(&mut clients, policy, stdin_rx).await {
            Ok(reason) => InputNotice::Detached(reason),
            Err(err) => InputNotice::Failed(err),
        };
        let _ = notice_tx.send(notice).await;
    })
}

/// Forwards input and resizes until the detach key or the end of input, then detaches.
async fn forward(
    clients: &mut watch::Receiver<Client>,
    policy: InputPolicy,
    mut stdin_rx: mpsc::Receiver<Bytes>,
) -> Result<DetachReason, ClientError> {
    // Without a SIGWINCH handler (it cannot fail on Unix in practice) sizes just stay put.
    let mut window_changes = signal(SignalKind::window_change()).ok();
    loop {
        tokio::select! {
            chunk = stdin_rx.recv() => {
                // End of input (the terminal hung up) detaches like the key does.
                let Some(chunk) = chunk else { break };
                let (before, detach) = policy.detach_key.split(&chunk);
                if !before.is_empty() && !policy.read_only {
                    let data = chunk.slice_ref(before);
                    on_latest(clients, |client| {
                        let data = data.clone();
                        async move { client.send_input(data).await }
                    })
                    .await?;
                }
                if detach {
                    break;
                }
            }
            changed = recv_signal(&mut window_changes) => match changed {
                Some(()) => {
                    if let (Some(size), false) = (terminal_size(), policy.read_only) {
                        on_latest(clients, |client| async move { client.resize(size).await }).await?;
                    }
                }
                // The signal driver is gone; stop listening rather than spin.
                None => window_changes = None,
            },
        }
    }
    on_latest(clients, |client| async move { client.detach().await }).await
}

/// Runs `op` on the latest client; if its connection has closed, waits for the attach
/// loop to publish a new one and runs `op` again there. Ends with `Closed` once no new
/// client can come.
async fn on_latest<T, F, Fut>(
    clients: &mut watch::Receiver<Client>,
    op: F,
) -> Result<T, ClientError>
where
    F: Fn(Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    loop {
        let client = clients.borrow_and_update().clone();
        match op(client).await {
            Err(ClientError::Closed) => {
                if clients.changed().await.is_err() {
                    return Err(ClientError::Closed);
                }
            }
            other => return other,
        }
    }
}

async fn recv_signal(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

/// Reads standard input on its own thread; the channel closes at end of input or error.
fn spawn_stdin_reader() -> mpsc::Receiver<Bytes> {
    let (chunk_tx, chunk_rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let spawned = std::thread::Builder::new()
        .name("fugue-stdin".to_owned())
        .spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let chunk = Bytes::copy_from_slice(&buf[..n]);
                        if chunk_tx.blocking_send(chunk).is_err() {
                            break;
                        }
                    }
                    Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
    // Without the thread the channel is closed at once, which reads as end of input.
    drop(spawned);
    chunk_rx
}
