//! `fugue kill`, `fugue rename` and `fugue kill-server`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use fugue_client::{Client, ClientError, Role};
use rustix::process::{PidfdFlags, Signal};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::{Globals, connect, connect_options, print};

/// How long a server of another version may take to exit after SIGTERM: it waits up to 3 s
/// for its clients and up to 2 s more for its sessions' programs.
const OTHER_VERSION_EXIT: Duration = Duration::from_secs(10);

/// Ends each named session; reports every failure and fails if any did.
///
/// # Errors
///
/// When the server cannot be reached.
pub async fn kill(globals: &Globals, sessions: &[String]) -> anyhow::Result<u8> {
    let (client, _events) = connect(globals, Role::Control, false).await?;
    let mut code = 0;
    for session in sessions {
        if let Err(err) = client.kill_session(session).await {
            eprintln!("fugue: {err}");
            code = 1;
        }
    }
    Ok(code)
}

/// Renames a session.
///
/// # Errors
///
/// When the server cannot be reached or refuses (unknown session, bad or taken name).
pub async fn rename(globals: &Globals, old: &str, new: &str) -> anyhow::Result<u8> {
    let (client, _events) = connect(globals, Role::Control, false).await?;
    client.rename_session(old, new).await?;
    Ok(0)
}

/// Asks the server to shut down.
///
/// # Errors
///
/// When no server is running or it does not agree.
pub async fn kill_server(globals: &Globals) -> anyhow::Result<u8> {
    let options = connect_options(globals, Role::Control, false);
    match Client::connect(&options).await {
        Ok((client, _events)) => client.kill_server().await?,
        Err(ClientError::OtherVersion { message, .. }) => {
            let pid = stop_other_version(&globals.socket).await?;
            print(&format!(
                "stopped fugue-server (pid {pid}), another version of fugue ({message})\n"
            ))?;
        }
        Err(err) => return Err(err.into()),
    }
    Ok(0)
}

/// Stops the server on `socket`, which speaks another protocol version, the way its own
/// `kill-server` would (SIGTERM: a clean shutdown), and waits until it has exited; returns
/// its process id. Only a server of this user is signalled.
async fn stop_other_version(socket: &Path) -> anyhow::Result<i32> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .with_context(|| format!("cannot connect to {}", socket.display()))?;
    // The process that listens on the socket: it is alive while this connection is open.
    let peer = rustix::net::sockopt::socket_peercred(&stream)
        .context("cannot tell which process serves the socket")?;
    let pid = peer.pid.as_raw_nonzero().get();
    anyhow::ensure!(
        peer.uid == rustix::process::getuid(),
        "fugue-server on {} (pid {pid}) belongs to another user: not stopping it",
        socket.display()
    );
    // Opened while the connection still holds the server, so it cannot name a process
    // that reused the id.
    let pidfd = rustix::process::pidfd_open(peer.pid, PidfdFlags::empty())
        .with_context(|| format!("cannot open process {pid}"))?;
    drop(stream);
    rustix::process::pidfd_send_signal(&pidfd, Signal::TERM)
        .with_context(|| format!("cannot signal fugue-server (pid {pid})"))?;
    // A pidfd turns readable when its process exits.
    // SAFETY: the `AsyncFd` owns `pidfd`, so the descriptor stays open for as long as it
    // is registered and is closed only when the `AsyncFd` is dropped.
    let exited = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }
        .map_err(std::io::Error::from)
        .context("cannot wait for fugue-server to exit")?;
    let _exited = tokio::time::timeout(OTHER_VERSION_EXIT, exited.readable())
        .await
        .with_context(|| format!("fugue-server (pid {pid}) has not exited after SIGTERM"))?
        .context("cannot wait for fugue-server to exit")?;
    Ok(pid)
}
