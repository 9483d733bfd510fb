//! `SizePolicy`: which client's terminal size the PTY follows.
//!
//! The policy is tmux's `window-size latest`: the PTY takes the size of the interactive
//! client that most recently attached, resized or typed. Read-only viewers never count.
//! When that client leaves, the next most recent one's size applies.

use fugue_protocol::TermSize;
use fugue_registry::ClientId;

/// Interactive clients by recency, most recent last.
#[derive(Default)]
pub(crate) struct SizePolicy {
    clients: Vec<(ClientId, TermSize)>,
}

impl SizePolicy {
    /// Records `client`'s size and makes it the most recent.
    pub(crate) fn set(&mut self, client: ClientId, size: TermSize) {
        self.clients.retain(|(id, _)| *id != client);
        self.clients.push((client, size));
    }

    /// Makes `client` the most recent, if it is an interactive client of this session.
    pub(crate) fn touch(&mut self, client: ClientId) {
        if let Some(pos) = self.clients.iter().position(|(id, _)| *id == client) {
            let entry = self.clients.remove(pos);
            self.clients.push(entry);
        }
    }

    /// Forgets `client`.
    pub(crate) fn remove(&mut self, client: ClientId) {
        self.clients.retain(|(id, _)| *id != client);
    }

    /// Every client's size, least recent first.
    pub(crate) fn entries(&self) -> &[(ClientId, TermSize)] {
        &self.clients
    }

    /// A policy with these sizes, least recent first.
    pub(crate) fn from_entries(clients: Vec<(ClientId, TermSize)>) -> Self {
        SizePolicy { clients }
    }

    /// The most recent interactive client.
    pub(crate) fn latest(&self) -> Option<ClientId> {
        self.clients.last().map(|(id, _)| *id)
    }

    /// The size the PTY should have, if any interactive client is attached.
    pub(crate) fn current(&self) -> Option<TermSize> {
        self.clients.last().map(|(_, size)| *size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: TermSize = TermSize { rows: 24, cols: 80 };
    const BIG: TermSize = TermSize {
        rows: 50,
        cols: 200,
    };

    #[test]
    fn latest_client_wins_and_leaving_falls_back() {
        let (a, b) = (ClientId::new(1), ClientId::new(2));
        let mut policy = SizePolicy::default();
        assert_eq!(policy.current(), None);
        policy.set(a, SMALL);
        policy.set(b, BIG);
        assert_eq!(policy.current(), Some(BIG));
        policy.touch(a);
        assert_eq!(policy.current(), Some(SMALL));
        policy.remove(a);
        assert_eq!(policy.current(), Some(BIG));
        policy.touch(ClientId::new(3));
        assert_eq!(
            policy.current(),
            Some(BIG),
            "unknown clients change nothing"
        );
    }
}
