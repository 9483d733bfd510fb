//! What the server's registry holds: [`ClientMeta`] per client (with [`Browser`] for a
//! browser), [`Outbound`] items in each client's queue, and the [`ClientRegistry`] type
//! that ties them to session ids.

use std::net::SocketAddr;
use std::sync::Arc;

use fugue_protocol::{EncodedFrame, Role, ServerMessage};
use fugue_registry::{ClientInfo, Registry};
use uuid::Uuid;

/// What the registry records about each client.
#[derive(Debug, Clone)]
pub(crate) struct ClientMeta {
    pub(crate) role: Role,
    pub(crate) identity: Option<Uuid>,
    pub(crate) pid: Option<i32>,
    pub(crate) uid: u32,
    /// The protocol version the client speaks (at least `MIN_PROTOCOL_VERSION`).
    pub(crate) version: u32,
    /// Its ssh agent (`SetAgent`), kept by its connection.
    pub(crate) agent: Option<std::path::PathBuf>,
    /// Set for a browser, served through the viewer's gateway.
    pub(crate) browser: Option<Arc<Browser>>,
}

/// What the registry records of a browser beyond a terminal client's metadata.
#[derive(Debug)]
pub(crate) struct Browser {
    /// The peer's address.
    pub(crate) remote: SocketAddr,
    /// Its link may type and resize.
    pub(crate) operator: bool,
    /// The names of the sessions its link may see (empty for every session).
    pub(crate) scopes: Vec<String>,
}

impl ClientInfo for ClientMeta {
    type Identity = Uuid;

    fn identity(&self) -> Option<Uuid> {
        self.identity
    }

    fn role(&self) -> &'static str {
        match &self.browser {
            Some(browser) if browser.operator => "browser",
            Some(_) => "browser read-only",
            None => self.role.as_str(),
        }
    }
}

/// The server's registry: clients keyed by session id, fed [`Outbound`] items.
pub(crate) type ClientRegistry = Registry<Uuid, Outbound, ClientMeta>;

/// A connection's registration in the [`ClientRegistry`]; dropping it unregisters the
/// client (and so takes it out of its session's members).
pub(crate) type ClientRegistration = fugue_registry::Registration<Uuid, Outbound, ClientMeta>;

/// One item in a client's queue: a message, or a frame encoded once and shared by every
/// client of a session (program output is encoded once per chunk, not once per client).
#[derive(Debug, Clone)]
pub(crate) enum Outbound {
    /// A message the connection task encodes itself.
    Message(ServerMessage),
    /// A frame ready to be written as is.
    Frame(EncodedFrame<ServerMessage>),
}

impl From<ServerMessage> for Outbound {
    fn from(msg: ServerMessage) -> Self {
        Outbound::Message(msg)
    }
}
