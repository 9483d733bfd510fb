//! Shared helpers: registries over bare `mpsc` channels, and a test info type.

use fugue_registry::{ClientId, ClientInfo, Registry};
use tokio::sync::mpsc;

/// Sessions are named by static strings, messages are numbers.
pub type TestRegistry = Registry<&'static str, u32>;

/// A registry whose clients carry [`Device`] info.
pub type DeviceRegistry = Registry<&'static str, u32, Device>;

/// Registers a fresh client with a queue of `capacity` and returns its id and receiver.
pub fn connect(registry: &TestRegistry, capacity: usize) -> (ClientId, mpsc::Receiver<u32>) {
    let id = registry.next_client_id();
    let (tx, rx) = mpsc::channel(capacity);
    registry
        .register_client(id, tx)
        .expect("fresh id registers");
    (id, rx)
}

/// Registers a fresh client and attaches it to `session`.
pub fn join(registry: &TestRegistry, session: &'static str) -> (ClientId, mpsc::Receiver<u32>) {
    let (id, rx) = connect(registry, 16);
    registry
        .attach_to_session(id, session)
        .expect("registered client attaches");
    (id, rx)
}

/// Everything queued on `rx` right now.
pub fn drain(rx: &mut mpsc::Receiver<u32>) -> Vec<u32> {
    let mut msgs = Vec::new();
    while let Ok(msg) = rx.try_recv() {
        msgs.push(msg);
    }
    msgs
}

/// Asserts the registry's indexes agree.
pub fn assert_consistent<K, M, I>(registry: &Registry<K, M, I>)
where
    K: Eq + std::hash::Hash + Clone + std::fmt::Debug,
    I: ClientInfo,
{
    if let Err(problem) = registry.check_invariants() {
        panic!("registry inconsistent: {problem}");
    }
}

/// Client info with an optional stable identity and a role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    pub identity: Option<u32>,
    pub read_only: bool,
}

impl Device {
    pub fn with_identity(identity: u32) -> Self {
        Self {
            identity: Some(identity),
            read_only: false,
        }
    }
}

impl ClientInfo for Device {
    type Identity = u32;

    fn identity(&self) -> Option<u32> {
        self.identity
    }

    fn role(&self) -> &'static str {
        if self.read_only {
            "read-only"
        } else {
            "interactive"
        }
    }
}
