//! [`ClientInfo`], what the registry needs to know about a client besides how to reach it.

use std::fmt::Debug;
use std::hash::Hash;

/// Per-client information stored with each registration.
///
/// Implement it for whatever describes a connection in your server (a name, a role, an
/// address, a device id). Both methods have defaults, so a plain type needs only the
/// associated `Identity` type; `()` implements it for registries that need no info.
///
/// ```
/// use fugue_registry::ClientInfo;
///
/// #[derive(Clone)]
/// struct Device { user: u32, device: u32, read_only: bool }
///
/// impl ClientInfo for Device {
///     type Identity = (u32, u32);
///     fn identity(&self) -> Option<(u32, u32)> { Some((self.user, self.device)) }
///     fn role(&self) -> &'static str { if self.read_only { "read-only" } else { "interactive" } }
/// }
/// ```
pub trait ClientInfo: Send + Sync + 'static {
    /// Stable identity: a new client registering with an identity a live client holds
    /// replaces that client (see [`Registry::replace_client`](crate::Registry::replace_client)).
    type Identity: Eq + Hash + Clone + Debug + Send + Sync + 'static;

    /// This client's stable identity, if it has one. Asked once, at registration.
    fn identity(&self) -> Option<Self::Identity> {
        None
    }

    /// Role name for the per-role counts of the health snapshot (e.g. `"interactive"`,
    /// `"read-only"`).
    fn role(&self) -> &'static str {
        "client"
    }
}

impl ClientInfo for () {
    type Identity = ();
}
