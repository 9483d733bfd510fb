//! `fugue kill`, `fugue rename` and `fugue kill-server`.

use std::time::Duration;

use anyhow::Context as _;
use fugue_client::{Client, ClientError, Role, ServerProcess};
use rustix::process::Signal;

use super::{Globals, connect, connect_options, print};
use crate::readable::watch_readable;

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

/// Asks the server to shut down; a server of another version, which cannot be asked, is
/// sent SIGTERM instead (see `ServerProcess`), and waited for.
///
/// # Errors
///
/// When no server is running or it does not agree, or a server of another version is not
/// this user's, cannot be signalled or does not exit.
pub async fn kill_server(globals: &Globals) -> anyhow::Result<u8> {
    let options = connect_options(globals, Role::Control, false);
    match Client::connect(&options).await {
        Ok((client, _events)) => client.kill_server().await?,
        Err(ClientError::OtherVersion {
            message,
            server: Some(server),
            ..
        }) => {
            let pid = server.pid();
            stop_other_version(server).await?;
            print(&format!(
                "stopped fugue-server (pid {pid}), another version of fugue ({message})\n"
            ))?;
        }
        Err(ClientError::OtherVersion {
            path,
            message,
            server: None,
        }) => {
            // Not the usual advice to run `kill-server`: this is it, and it cannot.
            anyhow::bail!(
                "fugue-server on {} is another version of fugue ({message}), and the process \
                 behind the socket runs as another user or cannot be identified: stop it as \
                 its owner (SIGTERM), or use another socket with `--socket`",
                path.display()
            );
        }
        Err(err) => return Err(err.into()),
    }
    Ok(0)
}

/// Stops `server`, a server of another protocol version, the way its own `kill-server`
/// would (SIGTERM: a clean shutdown), and waits until it has exited.
async fn stop_other_version(server: ServerProcess) -> anyhow::Result<()> {
    let pid = server.pid();
    rustix::process::pidfd_send_signal(server.pidfd(), Signal::TERM)
        .with_context(|| format!("cannot signal fugue-server (pid {pid})"))?;
    // A pidfd turns readable when its process exits.
    let exited =
        watch_readable(server.into_pidfd()).context("cannot wait for fugue-server to exit")?;
    let _exited = tokio::time::timeout(OTHER_VERSION_EXIT, exited.readable())
        .await
        .with_context(|| format!("fugue-server (pid {pid}) has not exited after SIGTERM"))?
        .context("cannot wait for fugue-server to exit")?;
    Ok(())
}

/// Moves the terminal this runs in (the one attached to `$FUGUE_SESSION`) to `target`.
///
/// # Errors
///
/// Outside a session, or when the server refuses.
pub async fn switch(globals: &Globals, target: &str) -> anyhow::Result<u8> {
    // The id first: the name the session had when it started may have changed.
    let current = ["FUGUE_SESSION_ID", "FUGUE_SESSION"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "fugue switch moves the terminal of the session it runs in; run it inside \
                 a session (FUGUE_SESSION is not set), or use `fugue attach {target}`"
            )
        })?;
    let (client, _events) = connect(globals, Role::Control, false).await?;
    client.switch_client(&current, target).await?;
    Ok(0)
}
