//! The viewer's part of an upgrade: the old server hands over its settings and, if it
//! serves, a copy of its listening socket and its live tokens (by hash); the new one serves the same socket,
//! so links keep working, and browsers, closed with 1001 when the upgrade began, reconnect
//! and resume from their last sequence number. Connections that arrive meanwhile wait in
//! the socket's backlog.

use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::tokens::Grant;
use super::{Listening, Web, lock, tls};
use crate::config::WebConfig;
use crate::handoff::state::{ServingState, TokenState, WebState};
use crate::state::Shared;

impl Web {
    /// The viewer's settings, and if it serves, its state and a copy of its socket.
    pub(crate) async fn hand_over(&self, config: &WebConfig) -> (WebState, Option<OwnedFd>) {
        let bytes = |path: &PathBuf| path.as_os_str().as_bytes().to_vec();
        let files = |(cert, key): &(PathBuf, PathBuf)| (bytes(cert), bytes(key));
        let (serving, fd) = self.serving().await.unzip();
        let state = WebState {
            bind: config.bind.to_string(),
            allowed_hosts: config.allowed_hosts.clone(),
            max_clients: u64::try_from(config.max_clients).unwrap_or(u64::MAX),
            tls: config.tls.as_ref().map(files),
            serving,
        };
        (state, fd)
    }

    async fn serving(&self) -> Option<(ServingState, OwnedFd)> {
        let guard = self.listening.lock().await;
        let listening = guard.as_ref()?;
        let fd = match rustix::io::fcntl_dupfd_cloexec(&listening.fd, 3) {
            Ok(fd) => fd,
            Err(err) => {
                tracing::error!(%err, "upgrade: the viewer's socket cannot be handed over");
                return None;
            }
        };
        let bytes = |path: &PathBuf| path.as_os_str().as_bytes().to_vec();
        let tokens = lock(&self.tokens).export().into_iter().map(token_state);
        let state = ServingState {
            listener: fd.as_raw_fd(),
            tls: listening
                .tls
                .as_ref()
                .map(|(cert, key)| (bytes(cert), bytes(key))),
            tokens: tokens.collect(),
        };
        Some((state, fd))
    }

    /// Serves the viewer on the socket an old server handed over, with its tokens; called
    /// while the new server starts, before any request could start a listener.
    pub(crate) fn resume(shared: &Arc<Shared>, state: ServingState, fd: OwnedFd) {
        let tls_files = state.tls.map(|(cert, key)| (path(cert), path(key)));
        let tokens = state.tokens.into_iter().map(grant_of).collect();
        lock(&shared.web.tokens).import(tokens);
        let std_listener = TcpListener::from(fd);
        let listener = std_listener
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(std_listener));
        let listener = match listener {
            Ok(listener) => listener,
            Err(err) => {
                tracing::error!(%err, "upgrade: cannot serve the viewer's socket");
                return;
            }
        };
        let acceptor = match &tls_files {
            Some((cert, key)) => match tls::acceptor(cert, key) {
                Ok(acceptor) => Some(acceptor),
                Err(err) => {
                    tracing::error!(%err, "upgrade: the viewer stops: its TLS files");
                    return;
                }
            },
            None => None,
        };
        let Ok(mut slot) = shared.web.listening.try_lock() else {
            tracing::error!("upgrade: the viewer was started before its socket was taken over");
            return;
        };
        match Listening::serve(shared, listener, acceptor, tls_files) {
            Ok(listening) => *slot = Some(listening),
            Err(err) => tracing::error!(%err, "upgrade: cannot serve the viewer"),
        }
    }
}

/// The viewer's settings as an old server had them (its configuration file's `[web]`).
pub(crate) fn config_of(state: &WebState) -> WebConfig {
    let defaults = WebConfig::default();
    WebConfig {
        bind: state.bind.parse().unwrap_or(defaults.bind),
        allowed_hosts: state.allowed_hosts.clone(),
        max_clients: usize::try_from(state.max_clients).unwrap_or(usize::MAX),
        tls: state.tls.clone().map(|(cert, key)| (path(cert), path(key))),
    }
}

fn path(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

fn token_state((hash, grant): ([u8; 32], Grant)) -> TokenState {
    TokenState {
        hash,
        operator: grant.operator,
        sessions: grant.sessions,
        expires_unix_ms: unix_ms(grant.expires),
    }
}

fn grant_of(token: TokenState) -> ([u8; 32], Grant) {
    let grant = Grant {
        operator: token.operator,
        sessions: token.sessions,
        expires: UNIX_EPOCH + Duration::from_millis(token.expires_unix_ms),
    };
    (token.hash, grant)
}
