//! The command line, declared with clap: global options and one subcommand per task.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use fugue_client::Remote;

use crate::keys::DetachKey;

/// fugue: terminal sessions that outlive your terminal.
///
/// With no command, creates a session and attaches to it, starting fugue-server if none is
/// running. Detach with the detach key (Ctrl-\ by default) and re-attach later with
/// `fugue attach`.
#[derive(Debug, Parser)]
#[command(name = "fugue", version, about, long_about)]
pub struct Cli {
    /// The server's socket [default: $XDG_RUNTIME_DIR/fugue/fugue.sock, else
    /// /tmp/fugue-$UID/fugue.sock].
    #[arg(long, global = true, env = "FUGUE_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// The key that detaches from a session: ctrl-X, ^X, or none [default: the
    /// configuration file's `detach_key`, else ctrl-\\].
    #[arg(long, global = true, env = "FUGUE_DETACH_KEY", value_name = "KEY")]
    pub detach_key: Option<DetachKey>,

    /// Reach the sessions of another machine through ssh: `ssh://[USER@]HOST[:PORT]`
    /// (`fugue` must be on that machine's PATH; `$FUGUE_SSH_COMMAND` replaces `ssh`; an
    /// empty value means this machine).
    #[arg(
        short = 'H',
        long,
        global = true,
        env = "FUGUE_HOST",
        value_name = "URL",
        value_parser = parse_host
    )]
    pub host: Option<Host>,

    /// What to do; without one, `fugue new`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a session and attach to it (or print its name with -d).
    New(NewArgs),
    /// Attach to a session: the named one, else the most recently attached.
    #[command(visible_alias = "a")]
    Attach(AttachArgs),
    /// List sessions.
    #[command(visible_alias = "list")]
    Ls(JsonArgs),
    /// End sessions (their programs get SIGHUP).
    Kill {
        /// Names or ids of the sessions to end.
        #[arg(required = true, value_name = "NAME")]
        sessions: Vec<String>,
    },
    /// Rename a session.
    Rename {
        /// The session's current name or id.
        old: String,
        /// The new name: printable, no `/`, at most 64 characters.
        new: String,
    },
    /// Type into a session without attaching.
    Send(SendArgs),
    /// Print a session's screen.
    Capture(CaptureArgs),
    /// Wait until a session's screen matches a regex, or until its program exits.
    Wait(WaitArgs),
    /// Show the server's status, or with --clients every connected client.
    Status(StatusArgs),
    /// Serve a session to a web browser: print a link to open (the server's viewer listens
    /// on 127.0.0.1; reach it from elsewhere through `ssh -L`, or give it TLS).
    Web(WebArgs),
    /// Stop the server and end every session.
    KillServer,
    /// Replace the running server with a new fugue-server binary: every session, program
    /// and attached client carries on.
    Upgrade(UpgradeArgs),
    /// Inside a session: move this terminal to another session (no nesting).
    Switch {
        /// The session to show in this terminal.
        session: String,
    },
    /// Type a command into a session's shell, wait for it to finish, print its output and
    /// exit with its status.
    Run(RunArgs),
    /// Stream events (created, exited, attached, title, bell, idle, …) one per line.
    Events(EventsArgs),
    /// Relay one client's frames between standard input and output and this machine's
    /// server: what `fugue -H ssh://HOST` runs on HOST, through ssh.
    Proxy {
        /// Start the server if none is running.
        #[arg(long)]
        start: bool,
    },
    /// Print a completion script for a shell (e.g. `fugue completions bash > ~/.local/share/bash-completion/completions/fugue`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the effective settings and where each comes from.
    Config(JsonArgs),
    /// Write the man pages (roff) into DIR, or fugue(1) to standard output.
    #[command(hide = true)]
    Man {
        /// Where to write fugue.1 and a page per subcommand.
        dir: Option<PathBuf>,
    },
}

/// `fugue run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The session's name or id.
    pub session: String,
    /// Interrupt the command (Ctrl-C) after this many seconds and exit with 124.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,
    /// Print JSON (status, output, positions) instead of the output.
    #[arg(long)]
    pub json: bool,
    /// The command line, joined by spaces and typed as one line.
    #[arg(value_name = "COMMAND", required = true, last = true)]
    pub command: Vec<String>,
}

/// `fugue events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this session's events (and stop when it ends) [default: every session's].
    pub session: Option<String>,
    /// Print one JSON object per line.
    #[arg(long)]
    pub json: bool,
}

/// `fugue upgrade`.
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// The new server [default: the fugue-server next to this fugue].
    #[arg(long, value_name = "PATH")]
    pub server_binary: Option<PathBuf>,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `fugue new`.
#[derive(Debug, Default, Args)]
pub struct NewArgs {
    /// The session's name [default: chosen by the server].
    #[arg(short = 's', long = "name", value_name = "NAME")]
    pub name: Option<String>,
    /// Do not attach; print the new session's name.
    #[arg(short = 'd', long = "detached")]
    pub detached: bool,
    /// Working directory for the program [default: the current directory; with -H, the
    /// home directory there].
    #[arg(short = 'c', long = "cwd", value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Extra environment variable for the program (repeatable).
    #[arg(short = 'e', long = "env", value_name = "KEY=VAL", value_parser = parse_env_var)]
    pub env: Vec<(String, String)>,
    /// The program and its arguments [default: $SHELL].
    #[arg(value_name = "CMD", trailing_var_arg = true)]
    pub command: Vec<String>,
}

/// `fugue attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The session's name or id [default: the most recently attached session].
    pub session: Option<String>,
    /// Watch only: typing is ignored (except the detach key) and the size is left alone.
    #[arg(short = 'r', long = "read-only")]
    pub read_only: bool,
    /// Lines of the session's scrollback to put in the terminal's own scrollback first, so
    /// you can scroll back to them (0: none) [default: the configuration file's `history`,
    /// else 1000].
    #[arg(long, value_name = "N")]
    pub history: Option<u32>,
}

/// Commands whose only option is `--json`.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `fugue status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
    /// List every connected client (kind, role, session, address, connected for).
    #[arg(long)]
    pub clients: bool,
}

/// `fugue web`.
#[derive(Debug, Args)]
pub struct WebArgs {
    /// A link that only watches: it never types nor resizes.
    #[arg(long)]
    pub read_only: bool,
    /// Only this session (repeat for more) [default: every session].
    #[arg(long = "session", value_name = "NAME")]
    pub sessions: Vec<String>,
    /// How long the link works: e.g. 90s, 30m, 12h, 7d (at most 30d).
    #[arg(long, default_value = "12h", value_parser = parse_expiry)]
    pub expires: Duration,
    /// Where the viewer listens, if it is not listening yet [default: 127.0.0.1 and a free
    /// port]. Other than loopback needs --tls-cert and --tls-key.
    #[arg(long, value_name = "ADDR:PORT")]
    pub bind: Option<String>,
    /// The TLS certificate chain (PEM) to serve with.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM) to serve with.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Print JSON (`url`, `token`, `expires_unix_ms`).
    #[arg(long)]
    pub json: bool,
    /// Revoke every link minted so far and close the browsers they opened.
    #[arg(long, conflicts_with_all = ["read_only", "sessions", "bind", "tls_cert"])]
    pub revoke_all: bool,
}

/// `90s`, `30m`, `12h`, `7d`, or plain seconds.
fn parse_expiry(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?}: use a number with s, m, h or d (e.g. 12h)"
            ));
        }
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration"))?;
    match n.checked_mul(scale) {
        Some(secs) if secs > 0 && secs <= 30 * 86_400 => Ok(Duration::from_secs(secs)),
        _ => Err(format!("{text:?}: a link lasts from 1 second to 30 days")),
    }
}

/// `fugue send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The session's name or id.
    pub session: String,
    /// Text to type, joined by spaces; `-` reads standard input instead.
    #[arg(value_name = "TEXT")]
    pub text: Vec<String>,
    /// Press Enter afterwards (sends a carriage return).
    #[arg(long)]
    pub enter: bool,
    /// Print JSON with `seq`, the output position when the input reached the program.
    #[arg(long)]
    pub json: bool,
}

/// `fugue capture`.
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The session's name or id.
    pub session: String,
    /// Keep colours and attributes as escape sequences.
    #[arg(long)]
    pub ansi: bool,
    /// Print JSON (text, cursor, size) for scripts.
    #[arg(long)]
    pub json: bool,
    /// Include this many lines of scrollback above the screen.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub scrollback: u32,
}

/// `fugue wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The session's name or id.
    pub session: String,
    /// What to wait for.
    #[command(flatten)]
    pub condition: WaitCondition,
    /// Give up after this many seconds (exit code 124).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,
    /// Match only output produced after this position (a `seq` from `send --json`,
    /// `capture --json` or `ls --json`), line by line, not the screen.
    #[arg(
        long,
        value_name = "SEQ",
        requires = "pattern",
        conflicts_with = "exit"
    )]
    pub after: Option<u64>,
    /// With --after: print JSON (the matching line and its position) for scripts.
    #[arg(long, requires = "after")]
    pub json: bool,
}

/// Exactly one of `--for` and `--exit`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct WaitCondition {
    /// Wait until the screen (plain text, `^`/`$` match at line ends) matches this regex.
    #[arg(long = "for", value_name = "REGEX")]
    pub pattern: Option<String>,
    /// Wait until the program exits; exit with its status.
    #[arg(long)]
    pub exit: bool,
}

/// Parses `KEY=VAL` for `-e`; the value may be empty or contain `=`.
pub fn parse_env_var(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VAL, got `{text}`"))?;
    if key.is_empty() {
        return Err(format!("empty variable name in `{text}`"));
    }
    if key.contains('\0') || value.contains('\0') {
        return Err("environment variables cannot contain NUL".to_owned());
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// `-H`'s value: a host reached through ssh, or none (an empty `$FUGUE_HOST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host(pub Option<Remote>);

/// Parses `-H`'s `ssh://[USER@]HOST[:PORT]`; empty is this machine.
fn parse_host(text: &str) -> Result<Host, String> {
    if text.is_empty() {
        return Ok(Host(None));
    }
    Remote::parse(text).map(|remote| Host(Some(remote)))
}

/// Parses a non-negative number of seconds, fractions allowed.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("expected a number of seconds, got `{text}`"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid number of seconds `{text}`"))
}

#[cfg(test)]
mod tests;
