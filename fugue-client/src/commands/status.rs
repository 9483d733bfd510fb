//! `fugue ls` and `fugue status`.

use std::time::{SystemTime, UNIX_EPOCH};

use fugue_client::Role;

use super::{Globals, connect, print};
use crate::cli::{JsonArgs, StatusArgs};
use crate::table::{clients_table, sessions_table, status_report};

/// Lists sessions as a table, or JSON with `--json`.
///
/// # Errors
///
/// When the server cannot be reached.
pub async fn list(globals: &Globals, args: JsonArgs) -> anyhow::Result<u8> {
    let (client, _events) = connect(globals, Role::Control, false).await?;
    let sessions = client.list_sessions().await?;
    let text = if args.json {
        format!("{}\n", serde_json::to_string_pretty(&sessions)?)
    } else if sessions.is_empty() {
        "no sessions\n".to_owned()
    } else {
        sessions_table(&sessions, now_unix_ms())
    };
    print(&text)?;
    Ok(0)
}

/// Prints the server's status report, or with `--clients` every client; JSON with
/// `--json`.
///
/// # Errors
///
/// When the server cannot be reached.
pub async fn status(globals: &Globals, args: StatusArgs) -> anyhow::Result<u8> {
    let (client, _events) = connect(globals, Role::Control, false).await?;
    if args.clients {
        let clients = client.list_clients().await?;
        let text = if args.json {
            format!("{}\n", serde_json::to_string_pretty(&clients)?)
        } else {
            clients_table(&clients, now_unix_ms())
        };
        print(&text)?;
        return Ok(0);
    }
    let status = client.status().await?;
    let text = if args.json {
        format!("{}\n", serde_json::to_string_pretty(&status)?)
    } else {
        status_report(&status)
    };
    print(&text)?;
    Ok(0)
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}
