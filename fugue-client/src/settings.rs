//! The client's settings: each from a flag, else its environment variable, else the user's
//! configuration file, else the default, remembering which (`fugue config` shows it).

use std::fmt;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::parser::ValueSource;
use fugue_client::{Remote, SSH_COMMAND_ENV, socket_path};
use fugue_protocol::{ConfigFile, SOCKET_ENV, config_path};

use crate::cli::Cli;
use crate::keys::DetachKey;

/// Lines of scrollback an attach replays into the terminal's own, by default.
pub const DEFAULT_HISTORY: u32 = 1000;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// An environment variable.
    Env(&'static str),
    /// The configuration file.
    File,
    /// The built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("flag"),
            Source::Env(name) => write!(f, "env ${name}"),
            Source::File => f.write_str("file"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Its source.
    pub source: Source,
}

/// Everything the client decides from flags, environment and file.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The configuration file's path, and whether it exists.
    pub file: Option<(PathBuf, bool)>,
    /// What the file says (the server's table too, for `fugue config`).
    pub contents: ConfigFile,
    /// The server's socket.
    pub socket: Setting<PathBuf>,
    /// The detach key.
    pub detach_key: Setting<DetachKey>,
    /// Lines of scrollback an attach replays (`fugue attach --history` beats it).
    pub history: Setting<u32>,
    /// The machine reached through ssh (`-H`, `$FUGUE_HOST`), with the ssh command from
    /// `$FUGUE_SSH_COMMAND`; `None` for this machine.
    pub remote: Setting<Option<Remote>>,
}

impl Settings {
    /// Resolves the settings for `cli`, parsed from `matches`.
    ///
    /// # Errors
    ///
    /// A configuration file that cannot be read or parsed, or whose detach key is invalid.
    pub fn resolve(cli: &Cli, matches: &clap::ArgMatches) -> anyhow::Result<Settings> {
        let path = config_path(|name| std::env::var_os(name));
        let (contents, exists) = match &path {
            Some(path) => read(path)?,
            None => (ConfigFile::default(), false),
        };
        let source_of = |id: &str, env: &'static str| match matches.value_source(id) {
            Some(ValueSource::EnvVariable) => Source::Env(env),
            _ => Source::Flag,
        };
        // An empty --socket / $FUGUE_SOCKET counts as unset, as in the socket rule.
        let explicit = cli
            .socket
            .clone()
            .filter(|path| !path.as_os_str().is_empty());
        let socket = match (explicit, &contents.socket) {
            (Some(path), _) => Setting {
                value: path,
                source: source_of("socket", SOCKET_ENV),
            },
            (None, Some(path)) => Setting {
                value: path.clone(),
                source: Source::File,
            },
            (None, None) => Setting {
                value: socket_path(None),
                source: Source::Default,
            },
        };
        let detach_key = match (cli.detach_key, &contents.detach_key) {
            (Some(key), _) => Setting {
                value: key,
                source: source_of("detach_key", "FUGUE_DETACH_KEY"),
            },
            (None, Some(spelling)) => Setting {
                value: spelling.parse().with_context(|| in_file(path.as_ref()))?,
                source: Source::File,
            },
            (None, None) => Setting {
                value: DetachKey::default(),
                source: Source::Default,
            },
        };
        let remote = host(cli, source_of("host", "FUGUE_HOST"))?;
        let history = history(&contents);
        let file = path.map(|path| (path, exists));
        Ok(Settings {
            file,
            contents,
            socket,
            detach_key,
            history,
            remote,
        })
    }
}

/// Lines of scrollback an attach replays: the file's, else the default.
fn history(contents: &ConfigFile) -> Setting<u32> {
    match contents.history {
        Some(lines) => Setting {
            value: lines,
            source: Source::File,
        },
        None => Setting {
            value: DEFAULT_HISTORY,
            source: Source::Default,
        },
    }
}

/// The `-H` setting (`source` says where a given one came from), with its ssh command.
fn host(cli: &Cli, source: Source) -> anyhow::Result<Setting<Option<Remote>>> {
    Ok(match cli.host.clone().and_then(|host| host.0) {
        Some(remote) => Setting {
            value: Some(with_ssh_command(remote)?),
            source,
        },
        None => Setting {
            value: None,
            source: Source::Default,
        },
    })
}

/// `remote` with the ssh command of `$FUGUE_SSH_COMMAND`, if set and not empty.
fn with_ssh_command(remote: Remote) -> anyhow::Result<Remote> {
    match std::env::var(SSH_COMMAND_ENV) {
        Ok(line) if !line.trim().is_empty() => {
            Ok(remote.with_ssh_command(Remote::split_command(&line).map_err(anyhow::Error::msg)?))
        }
        _ => Ok(remote),
    }
}

fn in_file(path: Option<&PathBuf>) -> String {
    let path = path
        .map(|path| path.display().to_string())
        .unwrap_or_default();
    format!("{path}: detach_key")
}

/// The file's contents and whether it exists; a missing file is an empty one.
fn read(path: &PathBuf) -> anyhow::Result<(ConfigFile, bool)> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((ConfigFile::parse(&text, path)?, true)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Ok((ConfigFile::default(), false))
        }
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}
