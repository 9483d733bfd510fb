//! [`Registry::check_invariants`]: a consistency check of all indexes, for tests.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

use crate::{ClientInfo, Registry};

impl<K, M, I> Registry<K, M, I>
where
    K: Eq + Hash + Clone + Debug,
    I: ClientInfo,
{
    /// Checks that the client index, the session index and the identity index agree, that
    /// no session is empty, and that the connect/disconnect counters match the client
    /// count. Meant for tests, on a quiescent registry (no operation in flight).
    ///
    /// # Errors
    ///
    /// A description of the first inconsistency found.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let clients = self.all_clients();
        let sessions = self.all_sessions();
        let identities = self.all_identities();
        let by_id: HashMap<_, _> = clients.iter().map(|client| (client.id, client)).collect();
        if by_id.len() != clients.len() {
            return Err("two clients share one id".to_string());
        }

        let mut n_attached = 0;
        for client in &clients {
            let slot = client.slot();
            if slot.removed {
                return Err(format!(
                    "client {} is indexed but marked removed",
                    client.id
                ));
            }
            let Some(key) = &slot.session else { continue };
            n_attached += 1;
            let Some((_, members)) = sessions.iter().find(|(k, _)| k == key) else {
                return Err(format!(
                    "client {} attached to {key:?}, which is not indexed",
                    client.id
                ));
            };
            let n = members.iter().filter(|member| member.same(client)).count();
            if n != 1 {
                return Err(format!(
                    "client {} appears {n} times in its session {key:?}",
                    client.id
                ));
            }
        }

        let mut n_members = 0;
        for (key, members) in &sessions {
            if members.is_empty() {
                return Err(format!("session {key:?} is indexed with no clients"));
            }
            n_members += members.len();
            for member in members.iter() {
                match by_id.get(&member.id) {
                    Some(client) if client.same(member) => {}
                    _ => {
                        return Err(format!(
                            "session {key:?} holds unregistered client {}",
                            member.id
                        ));
                    }
                }
                if member.slot().session.as_ref() != Some(key) {
                    return Err(format!(
                        "session {key:?} holds client {} attached elsewhere",
                        member.id
                    ));
                }
            }
        }
        if n_members != n_attached {
            return Err(format!(
                "{n_members} session members but {n_attached} attached clients"
            ));
        }

        for (identity, (id, serial)) in &identities {
            match by_id.get(id) {
                Some(client)
                    if client.serial == *serial && client.identity.as_ref() == Some(identity) => {}
                _ => {
                    return Err(format!(
                        "identity {identity:?} claimed by stale client {id}"
                    ));
                }
            }
        }
        for client in &clients {
            let Some(identity) = &client.identity else {
                continue;
            };
            if !identities
                .iter()
                .any(|(claimed, (id, _))| claimed == identity && *id == client.id)
            {
                return Err(format!(
                    "client {} holds identity {identity:?} without claiming it",
                    client.id
                ));
            }
        }

        let health = self.health_snapshot();
        let (connects, disconnects) = (health.connects, health.disconnects);
        if connects.checked_sub(disconnects) != Some(clients.len() as u64) {
            return Err(format!(
                "{connects} connects - {disconnects} disconnects != {} clients",
                clients.len()
            ));
        }
        Ok(())
    }
}
