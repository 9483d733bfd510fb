//! The browser viewer: an HTTP listener, started by the first `fugue web`, serving the page
//! (`assets.rs`) and a WebSocket at `/ws` (`socket.rs`), speaking the protocol of
//! `docs/browser-protocol.md` (`wire.rs`).
//!
//! A browser is served by an ordinary connection task: `bridge.rs` opens a socket pair,
//! hands one end to [`crate::connection::serve_browser`] and speaks the fugue protocol on
//! the other, translating. So a browser attaches, resumes, is paced, resynced and counted
//! in the registry exactly as a terminal client is; the gateway adds what the web needs:
//! tokens (`tokens.rs`, checked by `auth.rs`), the Host and Origin checks (`http.rs`), a
//! cap on connections with an idle deadline (`limit.rs`), TLS (`tls.rs`), heartbeats, the
//! acknowledgement window and size notices (`socket.rs`, `relay.rs`), and its part of an
//! upgrade (`handoff.rs`).
//!
//! Invariants (fail closed): the listener binds loopback unless TLS is configured; every
//! request's `Host`, and every WebSocket's `Origin`, is one of the listener's own addresses
//! or the configured allowlist; a browser is served only after a live token, and only the
//! sessions the token names; no token and no terminal byte is logged.

mod assets;
mod auth;
mod bridge;
mod handoff;
mod http;
mod limit;
mod relay;
mod socket;
mod tls;
mod tokens;
mod wire;

use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use fugue_protocol::WebGrant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

pub(crate) use self::handoff::config_of;
use self::tokens::{Grant, Tokens};
use crate::state::Shared;

/// Longest a token may live: 30 days.
const MAX_EXPIRY: Duration = Duration::from_secs(30 * 24 * 3600);

/// The gateway's state, one per server.
#[derive(Default)]
pub(crate) struct Web {
    tokens: std::sync::Mutex<Tokens>,
    listening: tokio::sync::Mutex<Option<Listening>>,
    /// Cancelled by a revocation: every browser authenticated before it is closed.
    revoked: std::sync::Mutex<CancellationToken>,
    /// Browsers connected (authenticated or not), against `WebConfig::max_clients`.
    pub(crate) live: AtomicUsize,
}

/// The running listener.
struct Listening {
    addr: SocketAddr,
    /// The certificate chain and key files it serves TLS with.
    tls: Option<(PathBuf, PathBuf)>,
    /// A copy of the listening socket, for an upgrade to hand over.
    fd: OwnedFd,
}

impl Listening {
    /// Serves the viewer on `listener` (with TLS if `acceptor`).
    fn serve(
        shared: &Arc<Shared>,
        listener: tokio::net::TcpListener,
        acceptor: Option<TlsAcceptor>,
        tls: Option<(PathBuf, PathBuf)>,
    ) -> std::io::Result<Listening> {
        let addr = listener.local_addr()?;
        let fd = listener.as_fd().try_clone_to_owned()?;
        http::spawn(shared.clone(), listener, addr, acceptor);
        tracing::info!(%addr, tls = tls.is_some(), "browser viewer listening");
        Ok(Listening { addr, tls, fd })
    }
}

/// What `fugue web` gets back.
pub(crate) struct Link {
    pub(crate) url: String,
    pub(crate) token: String,
    pub(crate) expires: SystemTime,
}

/// Why a link was not minted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebError {
    #[error("{0}")]
    Refused(String),
    #[error("no session named {0:?}")]
    UnknownSession(String),
}

impl Web {
    /// Starts the listener if it is not running, and mints a token for `grant`.
    pub(crate) async fn link(shared: &Arc<Shared>, grant: WebGrant) -> Result<Link, WebError> {
        let web = &shared.web;
        let sessions = scope(shared, &grant.sessions)?;
        let (addr, tls) = {
            let mut guard = web.listening.lock().await;
            if let Some(running) = guard.as_ref() {
                check_same(running, &grant)?;
            } else {
                *guard = Some(start(shared, &grant).await?);
            }
            let running = guard.as_ref();
            running.map(|running| (running.addr, running.tls.is_some()))
        }
        .ok_or_else(|| WebError::Refused("the viewer's listener did not start".into()))?;
        let lifetime = Duration::from_secs(grant.expires_secs).min(MAX_EXPIRY);
        let expires = SystemTime::now() + lifetime;
        let minted = lock(&web.tokens).mint(Grant {
            operator: !grant.read_only,
            sessions,
            expires,
        });
        let token = minted.map_err(|err| WebError::Refused(format!("no randomness: {err}")))?;
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://{}/#token={token}", public_name(addr));
        Ok(Link {
            url,
            token,
            expires,
        })
    }

    /// Revokes every token and closes every browser they opened: (tokens, connections).
    pub(crate) fn revoke_all(&self) -> (usize, usize) {
        let tokens = lock(&self.tokens).revoke_all();
        let connections = self.live.load(Ordering::Acquire);
        let old = std::mem::take(&mut *lock(&self.revoked));
        old.cancel();
        (tokens, connections)
    }

    /// The token a connection authenticating now is closed by on revocation.
    fn revocation(&self) -> CancellationToken {
        lock(&self.revoked).clone()
    }
}

/// The ids of the sessions `names` name; `None` (every session) when there are none.
fn scope(shared: &Shared, names: &[String]) -> Result<Option<Vec<uuid::Uuid>>, WebError> {
    if names.is_empty() {
        return Ok(None);
    }
    let ids = names
        .iter()
        .map(|name| {
            shared
                .sessions
                .find(name)
                .map(|handle| handle.id)
                .map_err(|_| WebError::UnknownSession(name.clone()))
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(ids))
}

/// A second `fugue web` may not move or re-key the running listener.
fn check_same(running: &Listening, grant: &WebGrant) -> Result<(), WebError> {
    if let Some(bind) = &grant.bind {
        let asked: SocketAddr = parse_bind(bind)?;
        let same_port = asked.port() == 0 || asked.port() == running.addr.port();
        if asked.ip() != running.addr.ip() || !same_port {
            return Err(WebError::Refused(format!(
                "the viewer already listens on {}; it serves until the server stops",
                running.addr
            )));
        }
    }
    if grant.tls.is_some() && running.tls.is_none() {
        return Err(WebError::Refused(format!(
            "the viewer already listens on {} without TLS",
            running.addr
        )));
    }
    Ok(())
}

fn parse_bind(bind: &str) -> Result<SocketAddr, WebError> {
    bind.parse()
        .map_err(|_| WebError::Refused(format!("--bind {bind:?} is not an ADDRESS:PORT")))
}

/// Binds and spawns the listener.
async fn start(shared: &Arc<Shared>, grant: &WebGrant) -> Result<Listening, WebError> {
    let config = &shared.config.web;
    let addr = match &grant.bind {
        Some(bind) => parse_bind(bind)?,
        None => config.bind,
    };
    let tls_files = grant.tls.clone().or_else(|| config.tls.clone().map(paths));
    if !addr.ip().is_loopback() && tls_files.is_none() {
        return Err(WebError::Refused(format!(
            "refusing to serve the viewer on {addr} without TLS: give --tls-cert and --tls-key, \
             or bind loopback and reach it through `ssh -L`"
        )));
    }
    let acceptor = match &tls_files {
        Some((cert, key)) => {
            Some(tls::acceptor(cert.as_ref(), key.as_ref()).map_err(WebError::Refused)?)
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| WebError::Refused(format!("cannot listen on {addr}: {err}")))?;
    let tls_files = tls_files.map(|(cert, key)| (PathBuf::from(cert), PathBuf::from(key)));
    Listening::serve(shared, listener, acceptor, tls_files)
        .map_err(|err| WebError::Refused(format!("cannot serve on {addr}: {err}")))
}

/// The address a link names: the listener's, or for one on every interface
/// (`0.0.0.0`, `::`) this machine's host name with its port.
pub(crate) fn public_name(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        let uname = rustix::system::uname();
        let host = uname.nodename().to_string_lossy();
        format!("{host}:{}", addr.port())
    } else {
        addr.to_string()
    }
}

fn paths((cert, key): (PathBuf, PathBuf)) -> (String, String) {
    (cert.display().to_string(), key.display().to_string())
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
