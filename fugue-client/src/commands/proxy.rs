//! `fugue proxy`: what `fugue -H ssh://HOST` runs on HOST. It connects to this machine's
//! server (starting it with `--start`) and copies bytes both ways between that socket and
//! its own standard input and output (the ssh channel), unread: the client at the other
//! end shakes hands with the server itself, so the two may be different versions.
//!
//! Standard input and output are watched by the runtime (they are pipes or sockets from
//! sshd, used by nothing else), so a keystroke costs no thread hop. The relay ends when the
//! server closes the connection, or when the channel ends: then the socket's write side is
//! shut, and the server's last words are still passed on for a moment. It also ends when
//! the channel takes nothing for a minute (a dead link sshd has not noticed), so it never
//! outlives its client by long; the client resumes on a new one.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use anyhow::Context as _;
use fugue_client::Role;
use rustix::fs::OFlags;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::Globals;

/// Bytes copied at a time in each direction.
const CHUNK: usize = 64 * 1024;
/// How long the channel may take no bytes at all before the relay gives up on it.
const STALLED: Duration = Duration::from_secs(60);
/// How long the server's last frames may take once the channel has ended.
const DRAIN: Duration = Duration::from_secs(2);

/// Relays until either side ends; 0 then.
///
/// # Errors
///
/// When the server cannot be reached or started, or standard input and output cannot be
/// watched (a regular file, say).
pub async fn run(globals: &Globals, start: bool) -> anyhow::Result<u8> {
    // Always this machine's server: a `FUGUE_HOST` in the login's environment (set for
    // the user's own use of that machine) must not send the relay on elsewhere.
    let options = super::connect_options(globals, Role::Control, start).with_remote(None);
    let socket = fugue_client::connect_raw(&options).await?;
    let input = watch(io::stdin().as_fd()).context("cannot watch standard input")?;
    let output = watch(io::stdout().as_fd()).context("cannot watch standard output")?;
    relay(&input, &output, socket).await?;
    Ok(0)
}

/// A duplicate of `fd`, non-blocking, registered with the runtime.
fn watch(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<AsyncFd<OwnedFd>> {
    let fd = fd.try_clone_to_owned()?;
    let flags = rustix::fs::fcntl_getfl(&fd)?;
    rustix::fs::fcntl_setfl(&fd, flags | OFlags::NONBLOCK)?;
    crate::readable::watch(fd)
}

/// Copies the channel to the socket and the socket to the channel.
async fn relay(
    input: &AsyncFd<OwnedFd>,
    output: &AsyncFd<OwnedFd>,
    socket: UnixStream,
) -> io::Result<()> {
    let (mut from_server, mut to_server) = socket.into_split();
    let down = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = from_server.read(&mut buf).await?;
            if n == 0 {
                return io::Result::Ok(());
            }
            // A channel that takes nothing for this long is a dead link that sshd has not
            // noticed yet: end, rather than outlive it (the client resumes on a new one).
            tokio::time::timeout(STALLED, write_all(output, &buf[..n]))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the channel stalled"))??;
        }
    };
    let up = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = read(input, &mut buf).await?;
            if n == 0 {
                return to_server.shutdown().await;
            }
            to_server.write_all(&buf[..n]).await?;
        }
    };
    tokio::pin!(down);
    tokio::select! {
        result = &mut down => result,
        result = up => {
            result?;
            // The channel ended: pass on what the server still says as it closes.
            tokio::time::timeout(DRAIN, down).await.unwrap_or(Ok(()))
        }
    }
}

/// Reads what is there; 0 at end of input.
async fn read(fd: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut ready = fd.readable().await?;
        match ready.try_io(|fd| rustix::io::read(fd.get_ref(), &mut *buf).map_err(io::Error::from))
        {
            Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
            Ok(result) => return result,
            Err(_would_block) => {}
        }
    }
}

/// Writes all of `bytes`, waiting for room as needed.
async fn write_all(fd: &AsyncFd<OwnedFd>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        let mut ready = fd.writable().await?;
        match ready.try_io(|fd| rustix::io::write(fd.get_ref(), bytes).map_err(io::Error::from)) {
            Ok(Ok(n)) => bytes = &bytes[n..],
            Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
            Ok(Err(err)) => return Err(err),
            Err(_would_block) => {}
        }
    }
    Ok(())
}
