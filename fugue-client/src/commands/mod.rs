//! One module per subcommand; this one dispatches and holds what they share.

mod attach;
mod capture;
mod config;
mod events;
mod manage;
mod new;
mod proxy;
mod run;
mod send;
mod status;
mod upgrade;
mod wait;
mod web;

use std::io::Write;
use std::path::PathBuf;

use fugue_client::{Client, ConnectOptions, Events, Remote, Role};

use crate::cli::{Cli, Command};
use crate::keys::DetachKey;
use crate::settings::Settings;

/// What every command needs from the global options.
#[derive(Debug, Clone)]
pub struct Globals {
    /// The resolved socket path.
    pub socket: PathBuf,
    /// The detach key for attaches.
    pub detach_key: DetachKey,
    /// The machine reached through ssh (`-H`), if not this one.
    pub remote: Option<Remote>,
    /// Lines of scrollback an attach replays, unless `--history` says.
    pub history: u32,
}

/// Runs the command line; returns the process exit code.
///
/// # Errors
///
/// Any failure the command does not turn into an exit code itself; `main` prints it and
/// exits with 1.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<u8> {
    let globals = Globals {
        socket: settings.socket.value.clone(),
        detach_key: settings.detach_key.value,
        remote: settings.remote.value.clone(),
        history: settings.history.value,
    };
    match cli.command {
        None => new::run(&globals, Default::default()).await,
        Some(Command::New(args)) => new::run(&globals, args).await,
        Some(Command::Attach(args)) => attach::run(&globals, args).await,
        Some(Command::Ls(args)) => status::list(&globals, args).await,
        Some(Command::Kill { sessions }) => manage::kill(&globals, &sessions).await,
        Some(Command::Rename { old, new }) => manage::rename(&globals, &old, &new).await,
        Some(Command::Send(args)) => send::run(&globals, args).await,
        Some(Command::Capture(args)) => capture::run(&globals, args).await,
        Some(Command::Wait(args)) => wait::run(&globals, args).await,
        Some(Command::Status(args)) => status::status(&globals, args).await,
        Some(Command::Web(args)) => web::run(&globals, args).await,
        Some(Command::KillServer) => manage::kill_server(&globals).await,
        Some(Command::Upgrade(args)) => upgrade::run(&globals, args).await,
        Some(Command::Run(args)) => run::run(&globals, args).await,
        Some(Command::Switch { session }) => manage::switch(&globals, &session).await,
        Some(Command::Events(args)) => events::run(&globals, args).await,
        Some(Command::Proxy { start }) => proxy::run(&globals, start).await,
        Some(Command::Completions { shell }) => config::completions(shell),
        Some(Command::Config(args)) => config::show(&settings, &args),
        Some(Command::Man { dir }) => config::man(dir.as_deref()),
    }
}

/// Connects with `role`, starting the server only if `auto_start`.
async fn connect(
    globals: &Globals,
    role: Role,
    auto_start: bool,
) -> anyhow::Result<(Client, Events)> {
    Ok(Client::connect(&connect_options(globals, role, auto_start)).await?)
}

/// The connection options for `role` on the global socket.
fn connect_options(globals: &Globals, role: Role, auto_start: bool) -> ConnectOptions {
    // Sessions this client creates or attaches to use its ssh agent from then on (not on
    // another machine, where the path means nothing).
    let agent = std::env::var_os("SSH_AUTH_SOCK")
        .filter(|_| role != Role::ReadOnly && globals.remote.is_none());
    ConnectOptions::new(&globals.socket)
        .with_role(role)
        .with_auto_start(auto_start)
        .with_agent(agent.map(PathBuf::from))
        .with_remote(globals.remote.clone())
}

/// Standard output was closed by whatever read it (`fugue capture NAME | head`). Like any
/// Unix filter killed by SIGPIPE, the command then ends quietly, with status 141.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct StdoutClosed;

/// Writes `text` to standard output and flushes it.
fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    match written {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        other => Ok(other?),
    }
}

/// Refuses to attach when standard input is not a terminal.
fn ensure_terminal() -> anyhow::Result<()> {
    anyhow::ensure!(
        crate::terminal::stdin_is_terminal(),
        "standard input is not a terminal: attaching needs one (use `fugue new -d`, \
         `fugue send` and `fugue capture` from scripts)"
    );
    Ok(())
}
