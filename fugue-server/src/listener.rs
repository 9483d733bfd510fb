//! The accept loop: one task per connection, backoff on accept errors, SIGUSR1 re-binding,
//! and the way out to an upgrade.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::task::TaskTracker;

use crate::connection::{self, Refuse};
use crate::error::ServerError;
use crate::handoff::UpgradeRequest;
use crate::socket::{self, SocketIdentity};
use crate::state::Shared;

const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Why the accept loop stopped.
pub(crate) enum Stop {
    /// The server shuts down.
    Shutdown,
    /// An upgrade takes over, with the listener (still open: connections arriving now
    /// wait in its backlog for the next server).
    Upgrade(UnixListener, UpgradeRequest),
}

/// Accepts until shutdown or an upgrade. Accept errors (e.g. out of file descriptors) are
/// logged and retried with exponential backoff, so they neither spin nor end the loop.
///
/// # Errors
///
/// Only if the SIGUSR1 handler cannot be installed.
pub(crate) async fn accept_loop(
    mut listener: UnixListener,
    shared: &Arc<Shared>,
    tracker: &TaskTracker,
    identity: &mut Option<SocketIdentity>,
) -> Result<Stop, ServerError> {
    let mut usr1 = signal(SignalKind::user_defined1())
        .map_err(|err| ServerError::io("cannot install the SIGUSR1 handler", err))?;
    let mut backoff = Duration::from_millis(5);
    loop {
        tokio::select! {
            biased;
            () = shared.shutdown.cancelled() => return Ok(Stop::Shutdown),
            () = shared.handoff.requested.notified() => {
                if let Some(request) = shared.handoff.take_request() {
                    return Ok(Stop::Upgrade(listener, request));
                }
            }
            _ = usr1.recv() => {
                if let Some(rebound) = rebind(shared) {
                    listener = rebound;
                    *identity = SocketIdentity::of(&shared.config.socket_path);
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    backoff = Duration::from_millis(5);
                    spawn_connection(shared, tracker, stream);
                }
                Err(err) => {
                    tracing::warn!(%err, ?backoff, "accept failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shared.shutdown.cancelled() => return Ok(Stop::Shutdown),
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            },
        }
    }
}

fn spawn_connection(shared: &Arc<Shared>, tracker: &TaskTracker, stream: tokio::net::UnixStream) {
    let live = shared.connections.fetch_add(1, Ordering::AcqRel) + 1;
    let cred = stream.peer_cred().ok();
    let uid = rustix::process::geteuid().as_raw();
    let refuse = match cred {
        Some(cred) if cred.uid() != uid => Some(Refuse::OtherUser { uid: cred.uid() }),
        None => Some(Refuse::OtherUser { uid: u32::MAX }),
        Some(_) if live > shared.config.max_clients => Some(Refuse::Busy),
        Some(_) => None,
    };
    if let (Some(Refuse::OtherUser { uid }), Some(cred)) = (&refuse, cred) {
        tracing::warn!(peer_uid = uid, peer_pid = ?cred.pid(), "refused a client of another user");
    }
    let shared = shared.clone();
    tracker.spawn(async move {
        connection::serve(shared.clone(), stream, refuse, bytes::Bytes::new()).await;
        shared.connections.fetch_sub(1, Ordering::AcqRel);
    });
}

/// Binds the socket again if it was deleted from under the server.
fn rebind(shared: &Shared) -> Option<UnixListener> {
    let path = &shared.config.socket_path;
    if path.exists() {
        tracing::info!(path = %path.display(), "SIGUSR1: socket still present");
        return None;
    }
    match socket::bind(path) {
        Ok(listener) => {
            tracing::info!(path = %path.display(), "SIGUSR1: socket re-created");
            Some(listener)
        }
        Err(err) => {
            tracing::error!(%err, "SIGUSR1: cannot re-create the socket");
            None
        }
    }
}
