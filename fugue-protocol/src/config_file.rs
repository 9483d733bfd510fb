//! The user's configuration file, `$XDG_CONFIG_HOME/fugue/config.toml` (else
//! `~/.config/fugue/config.toml`; `$FUGUE_CONFIG` names another): its schema and where it
//! is. Both binaries read it; a command-line flag beats an environment variable, which
//! beats the file, which beats the built-in default. This module parses text; reading the
//! file is the caller's.
//!
//! ```toml
//! socket = "/run/user/1000/fugue/fugue.sock"   # client and server
//! detach_key = "ctrl-a"                         # fugue attach, fugue new
//! history = 1000                                # fugue attach: scrollback replayed
//!
//! [server]                                      # fugue-server, when it starts
//! scrollback = 10000
//! idle_timeout = 60
//! max_clients = 1024
//! idle_after = 3.0
//! shell_integration = true
//! agent_link = true
//! log_file = "/tmp/fugue.log"
//! ```

use std::ffi::OsString;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The environment variable that names the configuration file.
pub const CONFIG_ENV: &str = "FUGUE_CONFIG";

/// The file's contents; every setting is optional.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The server's socket.
    pub socket: Option<PathBuf>,
    /// The key that detaches (`ctrl-X`, `^X` or `none`).
    pub detach_key: Option<String>,
    /// Lines of a session's scrollback an attach replays into the terminal's own.
    pub history: Option<u32>,
    /// What `fugue-server` reads when it starts.
    #[serde(default)]
    pub server: ServerSettings,
    /// The browser viewer (`fugue web`), read by `fugue-server` when it starts.
    #[serde(default)]
    pub web: WebSettings,
}

/// The `[web]` table: the browser viewer's listener.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSettings {
    /// Where the listener binds when `fugue web` does not say (`ADDR:PORT`).
    pub bind: Option<String>,
    /// More `host:port` names a request may be addressed to (a reverse proxy's).
    pub allowed_hosts: Option<Vec<String>>,
    /// Browsers served at once.
    pub max_clients: Option<usize>,
    /// A TLS certificate chain (PEM), with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM), with `tls_cert`.
    pub tls_key: Option<PathBuf>,
}

impl WebSettings {
    /// Where the listener binds when neither `fugue web` nor the file says.
    pub const DEFAULT_BIND: &str = "127.0.0.1:0";
    /// Browsers served at once when the file does not say.
    pub const DEFAULT_MAX_CLIENTS: usize = 128;
}

/// The `[server]` table: `fugue-server`'s flags of the same names.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Lines of scrollback kept per session.
    pub scrollback: Option<usize>,
    /// Seconds of silence after which a client is dropped.
    pub idle_timeout: Option<u64>,
    /// Connections beyond this many are refused.
    pub max_clients: Option<usize>,
    /// Seconds without output after which a session is idle (`fugue events`).
    pub idle_after: Option<f64>,
    /// Start shells with fugue's shell integration.
    pub shell_integration: Option<bool>,
    /// Give sessions an `SSH_AUTH_SOCK` that follows the attaching client's agent.
    pub agent_link: Option<bool>,
    /// Where the server logs.
    pub log_file: Option<PathBuf>,
}

impl ServerSettings {
    /// Lines of scrollback when neither a flag nor the file says.
    pub const DEFAULT_SCROLLBACK: usize = 10_000;
    /// Seconds of client silence before it is dropped, by default.
    pub const DEFAULT_IDLE_TIMEOUT: u64 = 60;
    /// Connections allowed, by default.
    pub const DEFAULT_MAX_CLIENTS: usize = 1024;
    /// Seconds without output before a session is idle, by default.
    pub const DEFAULT_IDLE_AFTER: f64 = 3.0;
}

/// A configuration file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// The file.
    pub path: String,
    /// What is wrong, with the line and column where TOML gives them.
    pub message: String,
}

impl ConfigFile {
    /// Parses the file's text; `path` is for the error message.
    ///
    /// # Errors
    ///
    /// Malformed TOML, an unknown key or a value of the wrong type, naming the line.
    pub fn parse(text: &str, path: &std::path::Path) -> Result<ConfigFile, ConfigError> {
        toml::from_str(text).map_err(|err| {
            let at = err.span().map(|span| line_col(text, span.start));
            let message = err.message().to_owned();
            ConfigError {
                path: path.display().to_string(),
                message: match at {
                    Some((line, col)) => format!("line {line}, column {col}: {message}"),
                    None => message,
                },
            }
        })
    }
}

/// The one-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map_or(0, |tail| tail.chars().count())
        + 1;
    (line, col)
}

/// Where the configuration file is: `$FUGUE_CONFIG`, else
/// `$XDG_CONFIG_HOME/fugue/config.toml`, else `$HOME/.config/fugue/config.toml`; `None`
/// without any of them. Empty values count as unset.
pub fn config_path(env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let non_empty = |name: &str| env(name).filter(|value| !value.is_empty());
    if let Some(path) = non_empty(CONFIG_ENV) {
        return Some(PathBuf::from(path));
    }
    let base = non_empty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("fugue").join("config.toml"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn every_setting_reads_back() {
        let text = "socket = \"/s\"\ndetach_key = \"^a\"\n[server]\nscrollback = 5\n\
                    idle_timeout = 9\nmax_clients = 2\nidle_after = 0.5\n\
                    shell_integration = false\nlog_file = \"/l\"\n";
        let file = ConfigFile::parse(text, Path::new("c")).unwrap();
        assert_eq!(file.socket, Some(PathBuf::from("/s")));
        assert_eq!(file.detach_key.as_deref(), Some("^a"));
        assert_eq!(file.server.scrollback, Some(5));
        assert_eq!(file.server.idle_after, Some(0.5));
        assert_eq!(file.server.shell_integration, Some(false));
        let web = "[web]\nbind = \"0.0.0.0:8443\"\nallowed_hosts = [\"h:1\"]\nmax_clients = 3\n\
                   tls_cert = \"/c\"\ntls_key = \"/k\"\n";
        let web = ConfigFile::parse(web, Path::new("c")).unwrap().web;
        assert_eq!(web.bind.as_deref(), Some("0.0.0.0:8443"));
        assert_eq!(web.allowed_hosts, Some(vec!["h:1".to_owned()]));
        assert_eq!(
            (web.max_clients, web.tls_key),
            (Some(3), Some(PathBuf::from("/k")))
        );
        assert_eq!(
            ConfigFile::parse("", Path::new("c")).unwrap(),
            ConfigFile::default()
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let bad = [
            ("detach_key = \"^a\"\nsocket = 3\n", "line 2"),
            ("\n\n[server]\nscrolback = 1\n", "line 4"),
            ("detach_key = ", "line 1"),
        ];
        for (text, line) in bad {
            let err = ConfigFile::parse(text, Path::new("/c.toml")).unwrap_err();
            let shown = err.to_string();
            assert!(shown.starts_with("/c.toml: "), "{shown}");
            assert!(shown.contains(line), "{shown}");
        }
    }

    #[test]
    fn path_follows_env_then_xdg_then_home() {
        fn env<'a>(
            pairs: &'a [(&'static str, &'static str)],
        ) -> impl Fn(&str) -> Option<OsString> + 'a {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| OsString::from(value))
            }
        }
        let all = [
            ("FUGUE_CONFIG", "/f.toml"),
            ("XDG_CONFIG_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(config_path(env(&all)), Some("/f.toml".into()));
        assert_eq!(
            config_path(env(&all[1..])),
            Some("/x/fugue/config.toml".into())
        );
        assert_eq!(
            config_path(env(&all[2..])),
            Some("/h/.config/fugue/config.toml".into())
        );
        assert_eq!(config_path(env(&[("HOME", "")])), None);
    }
}
