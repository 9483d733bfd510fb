//! `fugue kill`, `fugue rename` and `fugue kill-server`.

use fugue_client::Role;

use super::{Globals, connect};

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
    let (client, _events) = connect(globals, Role::Control, false).await?;
    client.kill_server().await?;
    Ok(0)
}
