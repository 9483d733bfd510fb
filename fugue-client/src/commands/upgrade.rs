//! `fugue upgrade`: replace the running server with a new binary, every session, program
//! and attached client carrying on (the server's `handoff`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use fugue_client::Role;
use serde::Serialize;

use super::{Globals, connect, print};
use crate::cli::UpgradeArgs;

/// What `--json` prints.
#[derive(Serialize)]
struct Report {
    #[serde(flatten)]
    upgrade: fugue_client::Upgrade,
    /// Milliseconds from the request to the new server's answer.
    took_ms: u64,
}

/// Upgrades the server; 0 once the new server answers.
///
/// # Errors
///
/// When the server cannot be reached or refuses (the old server then goes on serving).
pub async fn run(globals: &Globals, args: UpgradeArgs) -> anyhow::Result<u8> {
    let binary = match (args.server_binary, &globals.remote) {
        // A path on the other machine, as it is there.
        (Some(binary), Some(_)) => binary,
        (None, Some(remote)) => anyhow::bail!(
            "with -H, name the new server as a path on {} with --server-binary",
            remote.host()
        ),
        (Some(binary), None) => std::path::absolute(&binary)
            .with_context(|| format!("cannot resolve {}", binary.display()))?,
        (None, None) => beside_this_fugue()?,
    };
    let (client, _events) = connect(globals, Role::Control, false).await?;
    let started = Instant::now();
    let upgrade = client.upgrade(&binary).await?;
    let took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let text = if args.json {
        let report = Report { upgrade, took_ms };
        format!("{}\n", serde_json::to_string_pretty(&report)?)
    } else {
        format!(
            "upgraded fugue-server {} to {}: {} sessions and {} clients carried over in {took_ms} ms \
             (requests paused {} ms)\n",
            upgrade.from_version,
            upgrade.to_version,
            upgrade.sessions,
            upgrade.clients,
            upgrade.pause_ms
        )
    };
    print(&text)?;
    Ok(0)
}

/// The `fugue-server` in the directory of the running `fugue`.
fn beside_this_fugue() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let dir = exe.parent().context("this executable has no directory")?;
    Ok(dir.join("fugue-server"))
}
