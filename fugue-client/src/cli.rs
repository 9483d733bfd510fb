//! The command line, declared with clap: global options and one subcommand per task.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

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

    /// The key that detaches from a session: ctrl-X, ^X, or none.
    #[arg(
        long,
        global = true,
        env = "FUGUE_DETACH_KEY",
        value_name = "KEY",
        default_value = DetachKey::DEFAULT_SPELLING
    )]
    pub detach_key: DetachKey,

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
    /// Show the server's status.
    Status(JsonArgs),
    /// Stop the server and end every session.
    KillServer,
    /// Replace the running server with a new fugue-server binary: every session, program
    /// and attached client carries on.
    Upgrade(UpgradeArgs),
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
    /// Working directory for the program [default: the current directory].
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
}

/// Commands whose only option is `--json`.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
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

/// Parses a non-negative number of seconds, fractions allowed.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("expected a number of seconds, got `{text}`"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid number of seconds `{text}`"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("fugue").chain(args.iter().copied()))
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_arguments_means_new() {
        let cli = parse(&[]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.detach_key, DetachKey::DEFAULT_SPELLING.parse().unwrap());
    }

    #[test]
    fn new_takes_options_then_the_command() {
        let cli = parse(&[
            "new", "-s", "work", "-d", "-e", "A=1", "-e", "B=x=y", "--", "ls", "-la",
        ]);
        let Some(Command::New(args)) = cli.unwrap().command else {
            panic!("not new")
        };
        assert_eq!(args.name.as_deref(), Some("work"));
        assert!(args.detached);
        assert_eq!(
            args.env,
            [("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert_eq!(args.command, ["ls", "-la"]);
    }

    #[test]
    fn new_command_without_double_dash_keeps_its_flags() {
        let Some(Command::New(args)) = parse(&["new", "vim", "-u", "NONE"]).unwrap().command else {
            panic!("not new")
        };
        assert_eq!(args.command, ["vim", "-u", "NONE"]);
    }

    #[test]
    fn env_var_parsing() {
        assert_eq!(parse_env_var("K=V"), Ok(("K".into(), "V".into())));
        assert_eq!(parse_env_var("K="), Ok(("K".into(), String::new())));
        assert!(parse_env_var("K").is_err());
        assert!(parse_env_var("=V").is_err());
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = parse(&["ls", "--socket", "/tmp/s.sock", "--detach-key", "^a"]).unwrap();
        assert_eq!(cli.socket, Some(PathBuf::from("/tmp/s.sock")));
        assert_eq!(cli.detach_key, "ctrl-a".parse().unwrap());
    }

    #[test]
    fn bad_detach_key_is_a_usage_error() {
        let err = parse(&["--detach-key", "alt-x"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn send_accepts_dash_for_stdin() {
        let Some(Command::Send(args)) = parse(&["send", "s", "-", "--enter"]).unwrap().command
        else {
            panic!("not send")
        };
        assert_eq!(args.text, ["-"]);
        assert!(args.enter);
    }

    #[test]
    fn wait_needs_exactly_one_condition() {
        assert!(parse(&["wait", "s"]).is_err());
        assert!(parse(&["wait", "s", "--for", "x", "--exit"]).is_err());
        let cli = parse(&["wait", "s", "--for", "\\$ $", "--timeout", "1.5"]).unwrap();
        let Some(Command::Wait(args)) = cli.command else {
            panic!("not wait")
        };
        assert_eq!(args.condition.pattern.as_deref(), Some("\\$ $"));
        assert_eq!(args.timeout, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn kill_needs_a_name() {
        assert!(parse(&["kill"]).is_err());
        assert!(parse(&["kill", "a", "b"]).is_ok());
    }
}
