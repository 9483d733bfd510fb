//! `Shared`: the state every connection and session task can reach.

use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Instant;

use fugue_protocol::Role;
use fugue_registry::{ClientInfo, Registry};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::config::Config;
use crate::outbound::Outbound;
use crate::sessions::Sessions;

/// What the registry records about each client.
#[derive(Debug, Clone)]
pub(crate) struct ClientMeta {
    pub(crate) role: Role,
    pub(crate) identity: Option<Uuid>,
    pub(crate) pid: Option<i32>,
    pub(crate) uid: u32,
}

impl ClientInfo for ClientMeta {
    type Identity = Uuid;

    fn identity(&self) -> Option<Uuid> {
        self.identity
    }

    fn role(&self) -> &'static str {
        self.role.as_str()
    }
}

/// The server's registry: clients keyed by session id, fed [`Outbound`] items.
pub(crate) type ClientRegistry = Registry<Uuid, Outbound, ClientMeta>;

/// State shared by all tasks. Everything in it is either immutable, atomic, or guarded by
/// its own short critical section; no task holds a guard across an `.await`.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) registry: ClientRegistry,
    pub(crate) sessions: Sessions,
    pub(crate) started: Instant,
    /// Cancelled when the server starts shutting down.
    pub(crate) shutdown: CancellationToken,
    /// Cancelled once connections have drained: sessions hang up their programs.
    pub(crate) sessions_token: CancellationToken,
    pub(crate) sessions_tracker: TaskTracker,
    /// Live connections, counted from accept to close (including before `Hello`).
    pub(crate) connections: AtomicUsize,
    /// Pacing waits, over all sessions, that lasted the whole stall limit (see
    /// `session::pacing`).
    pub(crate) pacing_timeouts: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        config: Config,
        shutdown: CancellationToken,
        sessions_token: CancellationToken,
        sessions_tracker: TaskTracker,
    ) -> Self {
        Shared {
            config,
            registry: Registry::new(),
            sessions: Sessions::default(),
            started: Instant::now(),
            shutdown,
            sessions_token,
            sessions_tracker,
            connections: AtomicUsize::new(0),
            pacing_timeouts: AtomicU64::new(0),
        }
    }
}
