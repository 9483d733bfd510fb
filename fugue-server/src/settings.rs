//! `Settings`: the server's flags, filled in from the user's configuration file
//! (`[server]`, `[web]` and `socket`) where the command line left them out, then from the
//! defaults.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use fugue_protocol::{ConfigFile, ServerSettings, WebSettings, config_path};
use fugue_server::config::WebConfig;

use crate::Args;

/// What the command line and the configuration file decide together.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) socket_path: PathBuf,
    pub(crate) log_file: Option<PathBuf>,
    pub(crate) max_clients: usize,
    pub(crate) idle_timeout: u64,
    pub(crate) scrollback: usize,
    pub(crate) idle_after: f64,
    pub(crate) shell_integration: bool,
    pub(crate) agent_link: bool,
    pub(crate) web: WebConfig,
}

impl Settings {
    /// Resolves every setting: flag, else (for the socket) `$FUGUE_SOCKET`, else file,
    /// else default.
    pub(crate) fn resolve(args: &Args) -> Result<Settings> {
        let file = read_config_file()?;
        let server = file.server;
        let uid = rustix::process::geteuid().as_raw();
        let explicit = args.socket.clone();
        let env = |name: &str| std::env::var_os(name);
        let socket_path = match explicit.or_else(|| env(fugue_protocol::SOCKET_ENV).map(Into::into))
        {
            Some(path) if !path.as_os_str().is_empty() => path,
            _ => fugue_protocol::resolve_socket_path(file.socket, env, uid),
        };
        let idle_after = args.idle_after.or(server.idle_after);
        let idle_after = idle_after.unwrap_or(ServerSettings::DEFAULT_IDLE_AFTER);
        anyhow::ensure!(
            Duration::try_from_secs_f64(idle_after).is_ok_and(|idle| !idle.is_zero()),
            "idle_after must be a positive number of seconds, not {idle_after}"
        );
        Ok(Settings {
            socket_path,
            log_file: args.log_file.clone().or(server.log_file),
            max_clients: (args.max_clients.or(server.max_clients))
                .unwrap_or(ServerSettings::DEFAULT_MAX_CLIENTS),
            idle_timeout: (args.idle_timeout.or(server.idle_timeout))
                .unwrap_or(ServerSettings::DEFAULT_IDLE_TIMEOUT),
            scrollback: (args.scrollback.or(server.scrollback))
                .unwrap_or(ServerSettings::DEFAULT_SCROLLBACK),
            idle_after,
            shell_integration: !args.no_shell_integration
                && server.shell_integration.unwrap_or(true),
            agent_link: !args.no_agent_link && server.agent_link.unwrap_or(true),
            web: web_config(file.web)?,
        })
    }
}

/// The `[web]` table, checked: an address that parses, both TLS files or neither.
fn web_config(web: WebSettings) -> Result<WebConfig> {
    let bind = web.bind.as_deref().unwrap_or(WebSettings::DEFAULT_BIND);
    let bind = bind
        .parse()
        .with_context(|| format!("[web] bind = {bind:?} is not an ADDRESS:PORT"))?;
    let tls = match (web.tls_cert, web.tls_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => anyhow::bail!("[web] needs both tls_cert and tls_key, or neither"),
    };
    Ok(WebConfig {
        bind,
        allowed_hosts: web.allowed_hosts.unwrap_or_default(),
        max_clients: web.max_clients.unwrap_or(WebSettings::DEFAULT_MAX_CLIENTS),
        tls,
    })
}

/// The configuration file, or the defaults when there is none.
fn read_config_file() -> Result<ConfigFile> {
    let Some(path) = config_path(|name| std::env::var_os(name)) else {
        return Ok(ConfigFile::default());
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(ConfigFile::parse(&text, &path)?),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}
