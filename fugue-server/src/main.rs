//! `fugue-server`: parse arguments, set up logging and signals, bind, and serve.
//!
//! `--daemon` re-executes this binary in a new session with its output going to a log
//! file, and returns once the socket accepts connections.

mod daemon;
mod fds;
mod settings;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use fugue_server::{Config, ServerError};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// The fugue session server: owns terminal sessions that `fugue` clients attach to.
///
/// Usually started for you by `fugue`; run it by hand to see its logs in the foreground.
/// Settings not given as flags come from the `[server]` table of the user's configuration
/// file ($FUGUE_CONFIG, else $XDG_CONFIG_HOME/fugue/config.toml), else the defaults.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
pub(crate) struct Args {
    /// Socket path [default: $FUGUE_SOCKET, else $XDG_RUNTIME_DIR/fugue/fugue.sock, else
    /// /tmp/fugue-$UID/fugue.sock]
    #[arg(long, short = 'S', value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Detach from the terminal and log to a file; returns once the socket accepts
    #[arg(long)]
    daemon: bool,
    /// Write logs to this file instead of stderr (with --daemon: default fugue-server.log
    /// next to the socket)
    #[arg(long, value_name = "PATH")]
    log_file: Option<PathBuf>,
    /// Refuse connections beyond this many clients [default: 1024]
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,
    /// Drop clients that send nothing for this many seconds [default: 60]
    #[arg(long, value_name = "SECS")]
    idle_timeout: Option<u64>,
    /// Lines of scrollback kept per session [default: 10000]
    #[arg(long, value_name = "LINES")]
    scrollback: Option<usize>,
    /// A session that printed nothing for this many seconds is idle (`fugue events`)
    /// [default: 3]
    #[arg(long, value_name = "SECS")]
    idle_after: Option<f64>,
    /// Start shells as they are, without fugue's shell integration (the prompt and
    /// command-end marks `fugue run` uses; without them it types a marker)
    #[arg(long)]
    no_shell_integration: bool,
    /// Leave sessions' SSH_AUTH_SOCK as inherited, instead of a link that follows the agent
    /// of the client that last attached
    #[arg(long)]
    no_agent_link: bool,
    /// Say which handoff formats and protocol versions this binary supports, and exit (a
    /// running server asks this of a new binary before an upgrade)
    #[arg(long, hide = true)]
    handoff_probe: bool,
    /// Take over from the server that handed its state over in memfd FD (an upgrade)
    #[arg(long, hide = true, value_name = "FD")]
    takeover: Option<i32>,
    /// The pipe on which to tell the standby process that the takeover is done
    #[arg(long, hide = true, value_name = "FD")]
    confirm: Option<i32>,
    /// The standby process to reap once the takeover is done
    #[arg(long, hide = true, value_name = "PID")]
    keeper: Option<u32>,
    /// The takeover is the standby process's, after the new server failed
    #[arg(long, hide = true)]
    recovered: bool,
    /// Stand by during an upgrade, holding the state in memfd FD
    #[arg(long, hide = true, value_name = "FD")]
    standby: Option<i32>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fugue-server: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    if args.handoff_probe {
        std::io::stdout()
            .write_all(fugue_server::handoff_probe_answer().as_bytes())
            .context("cannot answer the probe")?;
        return Ok(());
    }
    if let Some(state) = args.standby {
        // Everything it inherited must reach the binary it may exec: nothing is marked
        // close-on-exec here.
        let confirm = args.confirm.context("--standby needs --confirm")?;
        // SAFETY: the upgrading server left this pipe open for this process, and nothing
        // has opened or taken a descriptor yet.
        unsafe { fugue_server::standby(state, confirm) };
    }
    fds::keep_inherited_fds_from_children();
    if let Some(state) = args.takeover {
        return takeover(state, &args);
    }
    let settings = settings::Settings::resolve(&args)?;
    if args.daemon {
        return daemon::start(&settings);
    }
    init_logging(settings.log_file.as_deref())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(settings))
}

/// Carries on from the server that handed over in an upgrade: same socket, sessions and
/// clients, logging where it logged.
fn takeover(state: i32, args: &Args) -> Result<()> {
    // SAFETY: these descriptors (and those the state names) were left open for this process
    // by the server it replaces; this process has taken none of them yet (the start-up
    // marking of inherited descriptors close-on-exec borrows them only).
    let takeover =
        unsafe { fugue_server::Takeover::read(state, args.confirm, args.keeper, args.recovered) }?;
    init_logging(takeover.log_file().as_deref())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let token = CancellationToken::new();
        spawn_signal_handler(token.clone())?;
        fugue_server::resume(takeover, token).await?;
        Ok(())
    })
}

async fn serve(settings: settings::Settings) -> Result<()> {
    // Signals first: a SIGTERM right after the socket appears must shut down cleanly, not
    // kill the process by the default action and leave the socket behind.
    let token = CancellationToken::new();
    spawn_signal_handler(token.clone())?;
    let socket_path = settings.socket_path.clone();
    let listener = fugue_server::socket::bind(&socket_path).map_err(|err| match err {
        ServerError::AlreadyRunning { .. } => anyhow::anyhow!("{err}"),
        other => anyhow::Error::new(other),
    })?;
    tracing::info!(path = %socket_path.display(), pid = std::process::id(), "listening");
    let mut config = Config::new(socket_path);
    config.log_file = settings.log_file;
    config.max_clients = settings.max_clients;
    config.idle_timeout = Duration::from_secs(settings.idle_timeout.max(1));
    config.ping_interval = config.ping_interval.min(config.idle_timeout / 2);
    config.scrollback_lines = settings.scrollback;
    config.idle_after = Duration::from_secs_f64(settings.idle_after);
    config.shell_integration = settings.shell_integration;
    config.agent_link = settings.agent_link;
    config.web = settings.web;
    fugue_server::run(listener, config, token).await?;
    Ok(())
}

/// SIGTERM, SIGINT and SIGHUP start a graceful shutdown; a second one exits at once.
fn spawn_signal_handler(token: CancellationToken) -> Result<()> {
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = hup.recv() => {}
            }
            seen += 1;
            if seen > 1 {
                tracing::warn!("second signal: exiting now");
                std::process::exit(1);
            }
            tracing::info!("signal received: shutting down");
            token.cancel();
        }
    });
    Ok(())
}

/// Logs to stderr, or appended to `log_file`. Log lines are few (connections, sessions,
/// errors; never payloads), so a plain locked file is enough; a buffered background
/// writer would preallocate megabytes for lines that never come.
fn init_logging(log_file: Option<&std::path::Path>) -> Result<()> {
    let filter = std::env::var("FUGUE_LOG")
        .ok()
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match log_file {
        None => builder.with_writer(std::io::stderr).init(),
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open log file {}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
    }
    Ok(())
}
