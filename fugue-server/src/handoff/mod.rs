//! Upgrading the server in place: the running server hands everything to a new binary,
//! which carries on with the same process, sessions, programs and client connections.
//!
//! The old server (`hand_over`): an `Upgrade` request probes the new binary first
//! (`probe.rs`: it must be a fugue-server that reads this server's handoff format), and
//! nothing changes if it fails. Then the accept loop stops (the listener stays open:
//! connections arriving now wait in its backlog); connections park (they finish the
//! request they serve and read no more, but keep writing output); sessions stop and give
//! their state (PTY master, pid, size, ring with its sequence numbers, screen model);
//! connections hand over their sockets with what they had not read and not written
//! (`connection/carry.rs`). The state goes into a sealed memfd (`state.rs`), every
//! descriptor it names is made inheritable, a standby process is started (`keeper.rs`),
//! and the server `exec`s the new binary: same pid, so the programs stay its children.
//!
//! The new server (`takeover.rs`) adopts the descriptors, restores sessions, clients and
//! connections, answers the upgrade request, tells the standby process it is in charge,
//! and serves. If it dies before that, the standby process (the old binary) takes over
//! from the same state instead. If `exec` fails, the old binary takes over at once.

pub(crate) mod fds;
mod keeper;
pub(crate) mod probe;
pub(crate) mod state;
mod takeover;

use std::convert::Infallible;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fugue_protocol::RequestId;
use fugue_registry::ClientId;
use tokio::net::UnixListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub(crate) use self::keeper::standby;
use self::state::{HandoffState, UpgradeNote};
pub use self::takeover::Takeover;
pub(crate) use self::takeover::takeover;
use crate::connection::CarriedConnection;
use crate::refusal::Refusal;
use crate::state::Shared;

/// How long connections get to finish the request they serve.
const PARK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long connections get to hand themselves over once sessions have stopped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// An upgrade asked for, and probed.
#[derive(Debug)]
pub(crate) struct UpgradeRequest {
    pub(crate) client: ClientId,
    pub(crate) request_id: RequestId,
    pub(crate) binary: PathBuf,
}

/// What connections and the accept loop share with an upgrade in progress.
#[derive(Default)]
pub(crate) struct Handoff {
    /// Connections stop reading requests.
    pub(crate) park: CancellationToken,
    /// Sessions have stopped: parked connections hand themselves over.
    pub(crate) drain: CancellationToken,
    /// Connections that have neither parked nor ended (see [`Presence`]).
    busy: AtomicUsize,
    busy_changed: Notify,
    carried: Mutex<Vec<CarriedConnection>>,
    request: Mutex<Option<UpgradeRequest>>,
    /// The accept loop waits on this for a request.
    pub(crate) requested: Notify,
}

impl Handoff {
    /// Asks for an upgrade; `false` if one is under way already.
    pub(crate) fn request(&self, request: UpgradeRequest) -> bool {
        let mut slot = self.request.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_some() || self.park.is_cancelled() {
            return false;
        }
        *slot = Some(request);
        self.requested.notify_one();
        true
    }

    /// The request the accept loop was woken for.
    pub(crate) fn take_request(&self) -> Option<UpgradeRequest> {
        self.request
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Counts a connection as busy until it parks or ends.
    pub(crate) fn enter(self: &Arc<Self>) -> Presence {
        self.busy.fetch_add(1, Ordering::AcqRel);
        Presence(Arc::new(PresenceInner {
            handoff: self.clone(),
            parked: AtomicBool::new(false),
        }))
    }

    fn leave(&self) {
        self.busy.fetch_sub(1, Ordering::AcqRel);
        self.busy_changed.notify_waiters();
    }

    /// A connection handed itself over.
    pub(crate) fn carried(&self, connection: CarriedConnection) {
        self.carried
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(connection);
    }
}

/// A connection's place in an upgrade's count of busy connections: it stops counting once,
/// when it parks or when it ends, whichever comes first.
#[derive(Clone)]
pub(crate) struct Presence(Arc<PresenceInner>);

struct PresenceInner {
    handoff: Arc<Handoff>,
    parked: AtomicBool,
}

impl Presence {
    /// The connection has parked: it reads no more requests (it stays alive until `drain`).
    pub(crate) fn park(&self) {
        if !self.0.parked.swap(true, Ordering::AcqRel) {
            self.0.handoff.leave();
        }
    }

    /// Whether it has parked.
    pub(crate) fn is_parked(&self) -> bool {
        self.0.parked.load(Ordering::Acquire)
    }
}

impl Drop for PresenceInner {
    fn drop(&mut self) {
        if !*self.parked.get_mut() {
            self.handoff.leave();
        }
    }
}

/// Hands the server over to `request.binary` (see the module doc); never returns once it
/// has begun.
///
/// # Errors
///
/// When the listener cannot be copied out of the runtime: it is given back, nothing has
/// changed, and the requester has been told.
pub(crate) async fn hand_over(
    shared: &Arc<Shared>,
    listener: UnixListener,
    connections: &TaskTracker,
    request: UpgradeRequest,
) -> Result<Infallible, UnixListener> {
    // A copy out of the runtime first: this is the one step that may fail, and nothing
    // has changed yet.
    let copy = match rustix::io::fcntl_dupfd_cloexec(&listener, 3) {
        Ok(copy) => copy,
        Err(err) => {
            refuse(shared, &request, &err);
            return Err(listener);
        }
    };
    drop(listener);
    let listener = copy;
    let paused_unix_ms = now_unix_ms();
    tracing::info!(binary = %request.binary.display(), "upgrade: handing over");
    shared.handoff.park.cancel();
    wait_parked(shared).await;
    let (sessions, masters): (Vec<_>, Vec<_>) = shared
        .sessions
        .hand_over_all()
        .await
        .into_iter()
        .map(|session| (session.state, session.master))
        .unzip();
    let (connection_states, sockets) = drain_connections(shared, connections).await;
    let (web, web_socket) = shared.web.hand_over(&shared.config.web).await;
    let state = HandoffState {
        from_version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_ms: u64::try_from(shared.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        config: takeover::config_state(&shared.config),
        listener: listener.as_raw_fd(),
        shutdown: shared.shutdown.is_cancelled(),
        next_client_id: shared.registry.next_client_id().get(),
        next_auto_name: shared.sessions.next_auto_name(),
        paused_unix_ms,
        upgrade: Some(UpgradeNote {
            client: request.client.get(),
            request_id: request.request_id,
            failure: None,
        }),
        sessions,
        connections: connection_states,
        web: Some(web),
    };
    let descriptors = std::iter::once(listener)
        .chain(masters)
        .chain(sockets)
        .chain(web_socket)
        .collect();
    Ok(keeper::execute(state, descriptors, &request.binary))
}

/// Answers an upgrade request that could not begin.
fn refuse(shared: &Shared, request: &UpgradeRequest, err: &rustix::io::Errno) {
    tracing::error!(%err, "upgrade: cannot begin");
    let why = format!("the server cannot hand its socket over: {err}");
    let refused = Refusal::Upgrade(why).reply(Some(request.request_id));
    let _ = shared
        .registry
        .try_send_to_client(request.client, refused.into());
}

/// Once sessions have stopped: lets parked connections hand themselves over, and gathers
/// their states and sockets.
async fn drain_connections(
    shared: &Shared,
    connections: &TaskTracker,
) -> (Vec<state::ConnectionState>, Vec<OwnedFd>) {
    shared.handoff.drain.cancel();
    connections.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("upgrade: some connections did not hand over in time; they are cut off");
    }
    let mut carried = shared
        .handoff
        .carried
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    std::mem::take(&mut *carried)
        .into_iter()
        .map(|connection| (connection.state, connection.fd))
        .unzip()
}

/// Waits until no connection is busy any more, for at most [`PARK_TIMEOUT`].
async fn wait_parked(shared: &Shared) {
    let all_parked = async {
        loop {
            let changed = shared.handoff.busy_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if shared.handoff.busy.load(Ordering::Acquire) == 0 {
                return;
            }
            changed.await;
        }
    };
    if tokio::time::timeout(PARK_TIMEOUT, all_parked)
        .await
        .is_err()
    {
        tracing::warn!("upgrade: some connections are still busy; they will be cut off");
    }
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
