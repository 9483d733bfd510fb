//! `fugue new` (and `fugue` alone): create a session, then attach unless `-d`.

use std::path::PathBuf;

use anyhow::Context as _;
use fugue_client::{Role, SessionSpec, TermSize};

use super::{Globals, connect, ensure_terminal, print};
use crate::cli::NewArgs;
use crate::forward::InputPolicy;

/// Creates the session described by `args`, starting the server if needed.
///
/// # Errors
///
/// When the server cannot be reached or started, or refuses the session.
pub async fn run(globals: &Globals, args: NewArgs) -> anyhow::Result<u8> {
    let attach = !args.detached;
    if attach {
        // Check before creating, so a script does not leave a stray session behind.
        ensure_terminal()?;
        // A session of another machine in a local one nests like ssh in tmux: allowed.
        if let Some(current) = std::env::var("FUGUE_SESSION")
            .ok()
            .filter(|s| !s.is_empty() && globals.remote.is_none())
        {
            anyhow::bail!(
                "refusing to start and attach a session inside session {current} (FUGUE_SESSION \
                 is set): `fugue new -d -s NAME` then `fugue switch NAME` shows it in this \
                 terminal (unset FUGUE_SESSION to nest anyway)"
            );
        }
    }
    let role = if attach {
        Role::Interactive
    } else {
        Role::Control
    };
    let (client, events) = connect(globals, role, true).await?;
    let options = super::connect_options(globals, role, false);
    let spec = session_spec(args, globals.remote.is_some())?;
    if !attach {
        let session = client.create_session(spec).await?;
        print(&format!("{}\n", session.name))?;
        return Ok(0);
    }
    // One request: a program that exits at once still reports its status to us.
    let attachment = client.create_and_attach(spec).await?;
    let policy = InputPolicy {
        detach_key: globals.detach_key,
        read_only: false,
    };
    let reconnect = crate::reconnect::Reconnect::new(options, attachment.session.id.to_string());
    crate::attach::run(client, events, attachment, policy, reconnect).await
}

/// The spec for `args`: the terminal's size, `$TERM`, and the current directory unless
/// `-c` says otherwise (the server's own directory would surprise). On another machine
/// (`remote`), a `-c` is taken as it is there, and without one the session starts in the
/// home directory there (this machine's directory means nothing there).
fn session_spec(args: NewArgs, remote: bool) -> anyhow::Result<SessionSpec> {
    let cwd = match (args.cwd, remote) {
        (Some(dir), true) => Some(dir),
        (Some(dir), false) => Some(absolute(dir)?),
        (None, true) => None,
        (None, false) => std::env::current_dir().ok(),
    };
    let cwd = cwd
        .map(|dir| {
            dir.into_os_string()
                .into_string()
                .map_err(|dir| anyhow::anyhow!("working directory {dir:?} is not valid UTF-8"))
        })
        .transpose()?;
    Ok(SessionSpec {
        name: args.name,
        command: args.command,
        cwd,
        env: args.env,
        size: crate::terminal::terminal_size().unwrap_or(TermSize::DEFAULT),
        term: std::env::var("TERM").ok().filter(|term| !term.is_empty()),
    })
}

/// `dir` made absolute against the current directory (the server runs elsewhere).
fn absolute(dir: PathBuf) -> anyhow::Result<PathBuf> {
    std::path::absolute(&dir).with_context(|| format!("bad directory {}", dir.display()))
}
