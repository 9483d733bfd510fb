//! [`Registration`]: a guard that unregisters its client when dropped, so no exit path of a
//! connection task can forget to.

use std::fmt::{self, Debug};
use std::hash::Hash;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::registry::Removal;
use crate::{ClientId, ClientInfo, Registry, RegistryError};

/// Owns one client's registration; dropping it unregisters that client.
///
/// It removes exactly the registration it made: if the client was meanwhile replaced (same
/// identity) or cleaned up, the drop does nothing, even if the id was registered again.
///
/// ```
/// use std::sync::Arc;
/// use fugue_registry::{Registration, Registry};
/// use tokio::sync::mpsc;
///
/// let registry: Arc<Registry<u32, String>> = Arc::new(Registry::new());
/// let (tx, _rx) = mpsc::channel(8);
/// {
///     let registration = Registration::new(&registry, registry.next_client_id(), tx, ())?;
///     assert!(registry.is_registered(registration.id()));
/// } // the connection task ends, however it ends
/// assert_eq!(registry.client_count(), 0);
/// # Ok::<(), fugue_registry::RegistryError>(())
/// ```
pub struct Registration<K, M, I = ()>
where
    K: Eq + Hash + Clone + Debug,
    I: ClientInfo,
{
    registry: Arc<Registry<K, M, I>>,
    id: ClientId,
    serial: u64,
    replaced: Option<ClientId>,
}

impl<K, M, I> Registration<K, M, I>
where
    K: Eq + Hash + Clone + Debug,
    I: ClientInfo,
{
    /// Registers a client as [`Registry::replace_client`] does and returns the guard.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateClient`] if `id` is already registered.
    pub fn new(
        registry: &Arc<Registry<K, M, I>>,
        id: ClientId,
        sender: mpsc::Sender<M>,
        info: I,
    ) -> Result<Self, RegistryError> {
        let (serial, replaced) = registry.insert_client(id, sender, info)?;
        Ok(Self {
            registry: Arc::clone(registry),
            id,
            serial,
            replaced,
        })
    }

    /// The registered client's id.
    #[must_use]
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// The client this registration replaced (same identity), if any.
    #[must_use]
    pub fn replaced(&self) -> Option<ClientId> {
        self.replaced
    }

    /// The registry the client is registered in.
    #[must_use]
    pub fn registry(&self) -> &Arc<Registry<K, M, I>> {
        &self.registry
    }
}

impl<K, M, I> Drop for Registration<K, M, I>
where
    K: Eq + Hash + Clone + Debug,
    I: ClientInfo,
{
    fn drop(&mut self) {
        self.registry
            .remove_client(self.id, Some(self.serial), Removal::Unregistered);
    }
}

impl<K, M, I> fmt::Debug for Registration<K, M, I>
where
    K: Eq + Hash + Clone + Debug,
    I: ClientInfo,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
