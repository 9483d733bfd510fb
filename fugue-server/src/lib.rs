//! The fugue daemon: owns PTY sessions and serves clients over a Unix socket.
//!
//! [`run`] is the whole server: it accepts connections on a bound listener until its
//! cancellation token fires, then shuts down in order (clients told, connections drained,
//! sessions hung up). [`socket::bind`] prepares the socket directory and binds safely; the
//! `fugue-server` binary adds argument parsing, logging, signals and `--daemon`.

mod clients;
pub mod config;
mod connection;
mod error;
mod handlers;
mod handoff;
mod listener;
mod refusal;
mod session;
pub mod socket;
mod state;
mod web;

use std::sync::Arc;

use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;
pub use error::ServerError;
pub use handoff::Takeover;

use crate::listener::Stop;
use crate::state::Shared;

/// Serves clients on `listener` until `shutdown` is cancelled, then shuts down gracefully:
/// stop accepting, tell every client `Detached { ServerShutdown }`, wait for connections
/// (bounded by `config.shutdown_timeout`), hang up every session and reap its program, and
/// remove the socket file if it is still the one this server bound.
///
/// # Errors
///
/// Returns an error only if the server cannot start (e.g. the signal handler for SIGUSR1
/// cannot be installed); per-connection failures are logged and never end the server.
pub async fn run(
    listener: UnixListener,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let shared = Arc::new(Shared::new(config, shutdown));
    serve(shared, listener, TaskTracker::new()).await
}

/// Serves as [`run`] does, carrying on from the server that handed its sessions and
/// connections over in an upgrade (`fugue-server --takeover`).
///
/// # Errors
///
/// When the state cannot be taken over, or as [`run`].
pub async fn resume(takeover: Takeover, shutdown: CancellationToken) -> Result<(), ServerError> {
    let (shared, listener, connections) = handoff::takeover(takeover, shutdown)?;
    serve(shared, listener, connections).await
}

/// The standby process of an upgrade (`fugue-server --standby`): waits for the new server
/// to confirm it took over, or takes over itself if it dies first. Never returns.
///
/// # Safety
///
/// `confirm_fd` must be the pipe the upgrading server left open for this process, which
/// nothing in it owns yet.
pub unsafe fn standby(state_fd: std::os::fd::RawFd, confirm_fd: std::os::fd::RawFd) -> ! {
    // SAFETY: the caller's guarantee.
    unsafe { handoff::standby(state_fd, confirm_fd) }
}

/// What `fugue-server --handoff-probe` prints: this binary's version, the handoff formats
/// it reads and the protocol versions it speaks.
pub fn handoff_probe_answer() -> String {
    handoff::probe::answer()
}

async fn serve(
    shared: Arc<Shared>,
    listener: UnixListener,
    connections: TaskTracker,
) -> Result<(), ServerError> {
    let mut socket_identity = socket::SocketIdentity::of(&shared.config.socket_path);
    let mut listener = listener;
    while let Stop::Upgrade(accepting, request) =
        listener::accept_loop(listener, &shared, &connections, &mut socket_identity).await?
    {
        // Returns only if the handoff could not begin: the server goes on as it was.
        let Err(given_back) = handoff::hand_over(&shared, accepting, &connections, request).await;
        listener = given_back;
    }
    connections.close();
    let drain = shared.config.shutdown_timeout;
    if tokio::time::timeout(drain, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(?drain, "connections did not close in time");
    }
    shared.sessions.hang_up_all().await;
    if let Some(identity) = socket_identity {
        identity.remove_if_unchanged(&shared.config.socket_path);
    }
    tracing::info!("server stopped");
    Ok(())
}
