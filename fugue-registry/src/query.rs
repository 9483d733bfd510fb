//! Read-only queries about clients and sessions, and the lagging mark.

use std::fmt::Debug;
use std::hash::Hash;

use crate::{ClientId, ClientInfo, LagFlag, Registry};

impl<K, M, I> Registry<K, M, I>
where
    K: Eq + Hash + Clone + Debug,
    I: ClientInfo,
{
    /// The session a client is attached to, if any.
    #[must_use]
    pub fn get_attached_session(&self, id: ClientId) -> Option<K> {
        let client = self.client(id)?;
        let slot = client.slot();
        slot.session.clone()
    }

    /// Whether a client is registered and attached to a session.
    #[must_use]
    pub fn is_client_attached(&self, id: ClientId) -> bool {
        self.client(id)
            .is_some_and(|client| client.slot().session.is_some())
    }

    /// The clients attached to `session`, in ascending id order (empty if none).
    #[must_use]
    pub fn get_session_clients(&self, session: &K) -> Vec<ClientId> {
        let Some(members) = self.members(session) else {
            return Vec::new();
        };
        let mut ids: Vec<ClientId> = members.iter().map(|client| client.id).collect();
        ids.sort_unstable();
        ids
    }

    /// How many messages wait in the shortest queue among the members of `session` that
    /// keep up (not lagging, receiver still open); `None` if it has no such member.
    ///
    /// This is flow control for a producer that must never wait for a slow consumer but
    /// should not outrun every consumer either: it can pace itself to its fastest member
    /// (read more only while this is small) and let slower members lag. Like a broadcast,
    /// it copies the member list out and holds no lock while it looks at the queues.
    #[must_use]
    pub fn shortest_queue(&self, session: &K) -> Option<usize> {
        let members = self.members(session)?;
        members
            .iter()
            .filter(|client| !client.lag.is_lagging() && !client.sender.is_closed())
            .map(|client| client.sender.max_capacity() - client.sender.capacity())
            .min()
    }

    /// Marks lagging every member of `session` that keeps up (not lagging, receiver open)
    /// whose queue holds at least `queued` messages, and returns their ids.
    ///
    /// The other half of pacing with [`Registry::shortest_queue`]: a producer that has
    /// waited long enough for room cuts its slow consumers loose, so they stop counting and
    /// their owners resync them (see [`Registry::clear_lagging`]) once they drain. Each mark
    /// counts as a lag event, as a broadcast's would.
    pub fn lag_members_with_queue(&self, session: &K, queued: usize) -> Vec<ClientId> {
        let Some(members) = self.members(session) else {
            return Vec::new();
        };
        let mut marked = Vec::new();
        for client in members.iter() {
            let waiting = client.sender.max_capacity() - client.sender.capacity();
            if client.lag.is_lagging() || client.sender.is_closed() || waiting < queued {
                continue;
            }
            if !client.lag.set() {
                self.counters.record_lag_event();
                tracing::debug!(client = %client.id, session = ?session, waiting, "client lagging");
                marked.push(client.id);
            }
        }
        marked
    }

    /// Whether a client is registered.
    #[must_use]
    pub fn is_registered(&self, id: ClientId) -> bool {
        self.client(id).is_some()
    }

    /// Whether broadcasts are skipping this client because its queue was full. `false` for
    /// an unknown client.
    #[must_use]
    pub fn is_lagging(&self, id: ClientId) -> bool {
        self.client(id)
            .is_some_and(|client| client.lag.is_lagging())
    }

    /// Marks a client lagging, as a full queue would: broadcasts skip it until
    /// [`Registry::clear_lagging`]. Returns `true` if it was not lagging before, `false` if
    /// it was or is unknown.
    pub fn set_lagging(&self, id: ClientId) -> bool {
        self.client(id).is_some_and(|client| !client.lag.set())
    }

    /// Clears a client's lagging mark, so broadcasts reach it again; call it once the
    /// client's queue has drained (and, typically, right before sending it a full resync).
    /// Returns `true` if the client was lagging, `false` if it was not or is unknown.
    pub fn clear_lagging(&self, id: ClientId) -> bool {
        self.client(id).is_some_and(|client| client.lag.clear())
    }

    /// A handle on a client's lagging mark that reads and clears it without a map lookup
    /// (for the task draining that client's queue). `None` for an unknown client.
    #[must_use]
    pub fn lag_flag(&self, id: ClientId) -> Option<LagFlag> {
        self.client(id).map(|client| client.lag.clone())
    }
}
