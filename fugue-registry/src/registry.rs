//! [`Registry`]: the client index, the session index, and the operations that keep them in
//! step (register, replace, unregister, attach, detach).

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use tokio::sync::mpsc;

use crate::client::Client;
use crate::health::Counters;
use crate::id::IdCounter;
use crate::{ClientId, ClientInfo, RegistryError};

/// The members of one session. Copy-on-write: a broadcast clones the `Arc` (one atomic
/// increment) under the shard's read lock and iterates after releasing it; attach and detach
/// edit the vector in place through `Arc::make_mut`, copying it only while a broadcast still
/// holds the old one.
pub(crate) type Members<K, M, I> = Arc<Vec<Arc<Client<K, M, I>>>>;

/// Why a client left, for the disconnect log line.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Removal {
    Unregistered,
    Replaced,
    ChannelClosed,
}

impl Removal {
    fn as_str(self) -> &'static str {
        match self {
            Self::Unregistered => "unregistered",
            Self::Replaced => "replaced by a new connection with the same identity",
            Self::ChannelClosed => "channel closed",
        }
    }
}

/// Tracks connected clients, the session each is attached to, and how to reach them.
///
/// `K` is the session key, `M` the message type sent to clients, `I` per-client info (see
/// [`ClientInfo`]; `()` when none is needed).
///
/// # Thread safety
///
/// All methods take `&self` and may be called concurrently from any number of threads and
/// tasks (share the registry in an `Arc`). Operations on one client (register, attach,
/// detach, unregister, replace) are linearizable with respect to each other: whatever the
/// interleaving, afterwards the client index and the session index agree, and no empty
/// session is left in the index. Queries and snapshots taken while other threads change the
/// registry see each client's state at some moment during the call, not one global instant.
/// No method blocks waiting for a client, and no lock is held across an `.await`.
pub struct Registry<K, M, I: ClientInfo = ()> {
    // Locking rules (why: a DashMap `Ref`/`RefMut` is a shard lock, and calling `insert`,
    // `entry` or `get_mut` on the same map while one is alive can deadlock; tokio tasks may
    // also migrate between threads at an `.await`):
    // - No map guard lives across an `.await` or across another map access. Every lookup
    //   clones what it needs (an `Arc`) out of the map and drops the guard at once.
    // - The one lock that is held across map accesses is a client's slot mutex. Lock order:
    //   slot mutex first, then at most one shard of `sessions` or `identities` at a time.
    //   `clients` is only touched with no lock held. No code takes a slot mutex while it
    //   holds a shard, so the order never inverts.
    // - Every change to a client's membership happens under its slot mutex, and an
    //   unregistered client's slot is marked `removed` under it, so attach/detach/unregister
    //   of one client serialize and cannot leave an orphan in `sessions`.
    /// Every registered client, by id.
    clients: DashMap<ClientId, Arc<Client<K, M, I>>>,
    /// Reverse index: the members of each session. A key exists only while it has members.
    sessions: DashMap<K, Members<K, M, I>>,
    /// Which registration (id, serial) holds each live identity.
    identities: DashMap<I::Identity, (ClientId, u64)>,
    ids: IdCounter,
    serials: IdCounter,
    pub(crate) counters: Counters,
}

impl<K: Eq + Hash, M, I: ClientInfo> Registry<K, M, I> {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self {
            clients: DashMap::new(),
            sessions: DashMap::new(),
            identities: DashMap::new(),
            ids: IdCounter::new(),
            serials: IdCounter::new(),
            counters: Counters::default(),
        }
    }

    /// A fresh client id, unique within this registry (lock-free counter, starts at 1).
    #[must_use]
    pub fn next_client_id(&self) -> ClientId {
        ClientId::new(self.ids.next())
    }

    /// Makes every id [`Registry::next_client_id`] hands out from now on greater than
    /// `used`: for clients registered with ids that an earlier registry gave them (a server
    /// that took over another's connections).
    pub fn skip_client_ids_through(&self, used: ClientId) {
        self.ids.skip_past(used.get());
    }

    /// Number of registered clients.
    #[must_use]
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Number of sessions with at least one attached client.
    #[must_use]
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }
}

impl<K: Eq + Hash, M, I: ClientInfo> Default for Registry<K, M, I> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Eq + Hash, M, I: ClientInfo> fmt::Debug for Registry<K, M, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("clients", &self.client_count())
            .field("sessions", &self.session_count())
            .finish_non_exhaustive()
    }
}

impl<K, M, I> Registry<K, M, I>
where
    K: Eq + Hash + Clone + fmt::Debug,
    I: ClientInfo,
{
    /// Registers a client with default info.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateClient`] if `id` is already registered; the existing
    /// registration stays intact and `sender` is dropped.
    pub fn register_client(
        &self,
        id: ClientId,
        sender: mpsc::Sender<M>,
    ) -> Result<(), RegistryError>
    where
        I: Default,
    {
        self.register_client_with(id, sender, I::default())
    }

    /// Registers a client with its info. A live client holding the same
    /// [identity](ClientInfo::identity) is replaced, as in [`Registry::replace_client`].
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateClient`] if `id` is already registered; the existing
    /// registration stays intact.
    pub fn register_client_with(
        &self,
        id: ClientId,
        sender: mpsc::Sender<M>,
        info: I,
    ) -> Result<(), RegistryError> {
        self.replace_client(id, sender, info).map(drop)
    }

    /// Registers a client and returns the id of the live client it replaced, if any.
    ///
    /// If `info` has an identity that a live client holds, that client is unregistered
    /// (detached from its session, its sender dropped so its receiver sees the channel
    /// close). Unregistering the replaced id later returns `false` and never touches the
    /// replacement. Of two concurrent registrations with one identity, the later to claim
    /// the identity wins and the other is replaced.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateClient`] if `id` is already registered; nothing changes and
    /// nothing is replaced.
    pub fn replace_client(
        &self,
        id: ClientId,
        sender: mpsc::Sender<M>,
        info: I,
    ) -> Result<Option<ClientId>, RegistryError> {
        self.insert_client(id, sender, info)
            .map(|(_, replaced)| replaced)
    }

    /// Registers a client; returns the new registration's serial and the id of the client
    /// it replaced.
    pub(crate) fn insert_client(
        &self,
        id: ClientId,
        sender: mpsc::Sender<M>,
        info: I,
    ) -> Result<(u64, Option<ClientId>), RegistryError> {
        let client = Arc::new(Client::new(id, self.serials.next(), sender, info));
        // The entry's shard guard ends with this statement; the refused `client` (whose
        // drop runs user code in `I`'s destructor) is dropped after it.
        let inserted = match self.clients.entry(id) {
            Entry::Occupied(_) => false,
            Entry::Vacant(vacant) => {
                drop(vacant.insert(Arc::clone(&client)));
                true
            }
        };
        if !inserted {
            return Err(RegistryError::DuplicateClient(id));
        }
        self.counters.record_connect();
        tracing::info!(client = %id, role = client.info.role(), "client connected");

        let Some(identity) = &client.identity else {
            return Ok((client.serial, None));
        };
        // Claim the identity under our slot lock, so that a concurrent unregister of this
        // new client either runs before (we see `removed` and claim nothing) or after (it
        // sees our claim and releases it). Either way no stale claim survives.
        let displaced = {
            let slot = client.slot();
            if slot.removed {
                None
            } else {
                self.identities
                    .insert(identity.clone(), (id, client.serial))
            }
        };
        let replaced = displaced
            .and_then(|(old_id, old_serial)| {
                self.remove_client(old_id, Some(old_serial), Removal::Replaced)
            })
            .map(|old| old.id);
        Ok((client.serial, replaced))
    }

    /// Unregisters a client: detaches it from its session (dropping the session from the
    /// index if it was the last member) and drops its sender. Returns `false` if `id` is
    /// not registered (including a client already replaced or cleaned up).
    pub fn unregister_client(&self, id: ClientId) -> bool {
        self.remove_client(id, None, Removal::Unregistered)
            .is_some()
    }

    /// Removes `id` from both indexes. With `serial`, only that exact registration is
    /// removed, so a stale cleanup never removes a newer client that reused the id.
    pub(crate) fn remove_client(
        &self,
        id: ClientId,
        serial: Option<u64>,
        why: Removal,
    ) -> Option<Arc<Client<K, M, I>>> {
        let (_, client) = match serial {
            Some(serial) => self
                .clients
                .remove_if(&id, |_, client| client.serial == serial),
            None => self.clients.remove(&id),
        }?;
        let session = {
            let mut slot = client.slot();
            slot.removed = true;
            let session = slot.session.take();
            if let Some(key) = &session {
                self.remove_member(key, &client);
            }
            if let Some(identity) = &client.identity {
                self.identities
                    .remove_if(identity, |_, (_, serial)| *serial == client.serial);
            }
            session
        };
        self.counters.record_disconnect();
        tracing::info!(
            client = %id,
            role = client.info.role(),
            session = ?session,
            reason = why.as_str(),
            "client disconnected"
        );
        Some(client)
    }

    /// Attaches a client to `session`, detaching it from its current session first.
    /// Returns the session it was attached to before (`Some(session)` again, with no change,
    /// if it was already attached there).
    ///
    /// # Errors
    ///
    /// [`RegistryError::UnknownClient`] if `id` is not registered (or is unregistered
    /// concurrently); the session index is left untouched.
    pub fn attach_to_session(&self, id: ClientId, session: K) -> Result<Option<K>, RegistryError> {
        let client = self.client(id).ok_or(RegistryError::UnknownClient(id))?;
        let mut slot = client.slot();
        if slot.removed {
            return Err(RegistryError::UnknownClient(id));
        }
        if slot.session.as_ref() == Some(&session) {
            return Ok(Some(session));
        }
        let previous = slot.session.take();
        if let Some(old) = &previous {
            self.remove_member(old, &client);
        }
        {
            let mut members = self.sessions.entry(session.clone()).or_default();
            Arc::make_mut(&mut members).push(Arc::clone(&client));
        }
        tracing::debug!(client = %id, session = ?session, previous = ?previous, "client attached");
        slot.session = Some(session);
        Ok(previous)
    }

    /// Detaches a client from its session. Returns the session it left, or `None` if it was
    /// not attached or is not registered.
    pub fn detach_from_session(&self, id: ClientId) -> Option<K> {
        let client = self.client(id)?;
        let mut slot = client.slot();
        if slot.removed {
            return None;
        }
        let session = slot.session.take()?;
        self.remove_member(&session, &client);
        drop(slot);
        tracing::debug!(client = %id, session = ?session, "client detached");
        Some(session)
    }

    /// Detaches a client from `session` if that is the session it is attached to; returns
    /// whether it was. The check and the detach are one step, so an owner of `session`
    /// never detaches a client that meanwhile attached elsewhere or was unregistered.
    pub fn detach_if_attached_to(&self, id: ClientId, session: &K) -> bool {
        let Some(client) = self.client(id) else {
            return false;
        };
        let mut slot = client.slot();
        if slot.removed || slot.session.as_ref() != Some(session) {
            return false;
        }
        slot.session = None;
        self.remove_member(session, &client);
        drop(slot);
        tracing::debug!(client = %id, session = ?session, "client detached");
        true
    }

    /// The registration of `id`, cloned out so no shard lock outlives this call.
    pub(crate) fn client(&self, id: ClientId) -> Option<Arc<Client<K, M, I>>> {
        self.clients.get(&id).map(|client| Arc::clone(&client))
    }

    /// The members of `session`, cloned out (one `Arc` increment) so no shard lock outlives
    /// this call.
    pub(crate) fn members(&self, session: &K) -> Option<Members<K, M, I>> {
        self.sessions
            .get(session)
            .map(|members| Arc::clone(&members))
    }

    /// All registrations, cloned out of the index.
    pub(crate) fn all_clients(&self) -> Vec<Arc<Client<K, M, I>>> {
        self.clients
            .iter()
            .map(|entry| Arc::clone(entry.value()))
            .collect()
    }

    /// All sessions and their members, cloned out of the index.
    pub(crate) fn all_sessions(&self) -> Vec<(K, Members<K, M, I>)> {
        self.sessions
            .iter()
            .map(|entry| (entry.key().clone(), Arc::clone(entry.value())))
            .collect()
    }

    /// All identity claims, cloned out of the index.
    pub(crate) fn all_identities(&self) -> Vec<(I::Identity, (ClientId, u64))> {
        self.identities
            .iter()
            .map(|entry| (entry.key().clone(), *entry.value()))
            .collect()
    }

    /// Removes `client` from the members of `session`, and the session from the index if it
    /// is left empty. One shard write lock, held only for the edit. Called with the client's
    /// slot mutex held (see the lock order on `Registry`).
    fn remove_member(&self, session: &K, client: &Client<K, M, I>) {
        self.sessions.remove_if_mut(session, |_, members| {
            let members = Arc::make_mut(members);
            if let Some(pos) = members.iter().position(|member| member.same(client)) {
                members.swap_remove(pos);
            }
            members.is_empty()
        });
    }
}
