//! `Shared`: the state every connection task can reach.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::clients::ClientRegistry;
use crate::config::Config;
use crate::handoff::Handoff;
use crate::session::Sessions;
use crate::web::Web;

/// State shared by all connection tasks. Everything in it is either immutable, atomic, or
/// guarded by its own short critical section; no task holds a guard across an `.await`.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) registry: Arc<ClientRegistry>,
    pub(crate) sessions: Arc<Sessions>,
    pub(crate) started: Instant,
    /// Cancelled when the server starts shutting down.
    pub(crate) shutdown: CancellationToken,
    /// Live connections, counted from accept to close (including before `Hello`).
    pub(crate) connections: AtomicUsize,
    /// An upgrade's handoff, for connections and the accept loop.
    pub(crate) handoff: Arc<Handoff>,
    /// The browser viewer: its listener (once started) and tokens.
    pub(crate) web: Web,
}

impl Shared {
    pub(crate) fn new(config: Config, shutdown: CancellationToken) -> Self {
        let registry = Arc::new(ClientRegistry::new());
        let sessions = Arc::new(Sessions::new(config.clone(), registry.clone()));
        Shared {
            config,
            registry,
            sessions,
            started: Instant::now(),
            shutdown,
            connections: AtomicUsize::new(0),
            handoff: Arc::default(),
            web: Web::default(),
        }
    }
}
