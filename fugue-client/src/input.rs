//! Everything that flows from the local terminal to the server during an attach: typed
//! bytes (up to the detach key) and size changes.
//!
//! When standard input is a terminal, the forwarder reads it in the runtime through a
//! descriptor of its own: the terminal opened again by name, non-blocking. Setting
//! `O_NONBLOCK` on standard input itself would change the file description the user's shell
//! shares. A keystroke then costs no thread hop on its way to the server.
//!
//! Otherwise (no terminal name, or it cannot be opened) standard input is read on a plain
//! thread that hands chunks over a small bounded channel. A blocking read cannot be
//! cancelled, so that thread is simply abandoned when the client exits (returning from
//! `main` ends it); it never holds anything that needs cleaning up.
//!
//! Either way, when the server stops taking input the forwarder waits and reading stops,
//! while output keeps flowing in the attach loop.

use std::io::{self, Read};
use std::os::fd::OwnedFd;

use bytes::Bytes;
use fugue_client::{Client, ClientError, DetachReason};
use tokio::io::unix::AsyncFd;
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
    let input = Input::open();
    tokio::spawn(async move {
        let mut clients = clients;
        let notice = match forward(&mut clients, policy, input).await {
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
    mut input: Input,
) -> Result<DetachReason, ClientError> {
    // Without a SIGWINCH handler (it cannot fail on Unix in practice) sizes just stay put.
    let mut window_changes = signal(SignalKind::window_change()).ok();
    loop {
        tokio::select! {
            chunk = input.next() => {
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

/// Where typed bytes come from.
enum Input {
    /// The terminal, opened again non-blocking and read in the runtime.
    Terminal {
        fd: AsyncFd<OwnedFd>,
        buf: Box<[u8]>,
    },
    /// Chunks from the thread that reads standard input.
    Thread(mpsc::Receiver<Bytes>),
}

impl Input {
    /// The terminal on standard input if it can be opened again, else the reading thread.
    fn open() -> Input {
        match reopen_stdin_terminal() {
            Ok(fd) => Input::Terminal {
                fd,
                buf: vec![0; READ_CHUNK].into_boxed_slice(),
            },
            Err(_) => Input::Thread(spawn_stdin_reader()),
        }
    }

    /// The next chunk typed; `None` at end of input or on a read error (a terminal that
    /// hung up). Cancel-safe: a read happens only once readiness is known, and completes.
    async fn next(&mut self) -> Option<Bytes> {
        match self {
            Input::Thread(rx) => rx.recv().await,
            Input::Terminal { fd, buf } => loop {
                let mut ready = fd.readable().await.ok()?;
                match ready.try_io(|fd| {
                    rustix::io::read(fd.get_ref(), &mut buf[..]).map_err(io::Error::from)
                }) {
                    Ok(Ok(0)) => return None,
                    Ok(Ok(n)) => {
                        // A short read took everything there was: skip the read that would
                        // only say so (readiness that arrives after this is kept).
                        if n < buf.len() {
                            ready.clear_ready();
                        }
                        return Some(Bytes::copy_from_slice(&buf[..n]));
                    }
                    Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
                    Ok(Err(_)) => return None,
                    // Not ready after all: `try_io` cleared readiness; wait again.
                    Err(_would_block) => {}
                }
            },
        }
    }
}

/// Opens the terminal on standard input again, by name, as a new non-blocking file
/// description (standard input's own flags stay as the shell left them).
fn reopen_stdin_terminal() -> io::Result<AsyncFd<OwnedFd>> {
    use rustix::fs::{Mode, OFlags};
    let name = rustix::termios::ttyname(io::stdin(), Vec::new())?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(name.as_c_str(), flags, Mode::empty())?;
    crate::readable::watch_readable(fd)
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
