//! Reading what the user types during an attach (`forward.rs` sends it on).
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

use std::io::{self, Read};
use std::os::fd::OwnedFd;

use bytes::Bytes;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

/// Bytes read from standard input at a time (well under `MAX_INPUT_CHUNK`).
const READ_CHUNK: usize = 16 * 1024;
/// Chunks buffered between the reading thread and the forwarder.
const CHUNKS_IN_FLIGHT: usize = 16;

/// Where typed bytes come from.
pub enum Input {
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
    pub fn open() -> Input {
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
    pub async fn next(&mut self) -> Option<Bytes> {
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
