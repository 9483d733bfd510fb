//! Observability: metrics counters, [`HealthSnapshot`], and per-client snapshots
//! ([`Registry::get_client`], [`Registry::list`]).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::client::Client;
use crate::{ClientId, ClientInfo, ClientSnapshot, Registry};

/// Lifetime counters. Plain atomics with `Relaxed` ordering: each is an independent tally
/// that nothing synchronizes on. A broadcast adds its totals once, not once per client, to
/// keep contended cache-line traffic off the delivery path.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    delivered: AtomicU64,
    dropped: AtomicU64,
    lag_events: AtomicU64,
    connects: AtomicU64,
    disconnects: AtomicU64,
}

impl Counters {
    pub(crate) fn record_delivered(&self, n: usize) {
        add(&self.delivered, n);
    }

    pub(crate) fn record_dropped(&self, n: usize) {
        add(&self.dropped, n);
    }

    pub(crate) fn record_lag_event(&self) {
        add(&self.lag_events, 1);
    }

    pub(crate) fn record_connect(&self) {
        add(&self.connects, 1);
    }

    pub(crate) fn record_disconnect(&self) {
        add(&self.disconnects, 1);
    }
}

fn add(counter: &AtomicU64, n: usize) {
    if n > 0 {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Counts describing the registry at one moment, for a status command or a health endpoint.
///
/// The counts are gathered client by client; while other threads change the registry they
/// may mix moments slightly (e.g. a client counted in `total_clients` has just left).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthSnapshot {
    /// Registered clients.
    pub total_clients: usize,
    /// Registered clients attached to a session.
    pub attached_clients: usize,
    /// Sessions with at least one attached client.
    pub sessions: usize,
    /// Clients currently marked lagging.
    pub lagging_clients: usize,
    /// Registered clients per [role](ClientInfo::role).
    pub roles: BTreeMap<&'static str, usize>,
    /// Messages queued for a client since the registry was created (broadcast deliveries
    /// count one per client).
    pub messages_delivered: u64,
    /// Messages addressed to a registered client but not queued: skipped as lagging, queue
    /// full, or receiver gone.
    pub messages_dropped: u64,
    /// Times a client went from keeping up to lagging.
    pub lag_events: u64,
    /// Registrations since the registry was created.
    pub connects: u64,
    /// Unregistrations (explicit, replaced, or found disconnected) since creation.
    pub disconnects: u64,
}

impl<K, M, I> Registry<K, M, I>
where
    K: Eq + Hash + Clone + Debug,
    I: ClientInfo,
{
    /// Current counts and lifetime counters. Costs a pass over all clients; meant for
    /// status requests, not for every message.
    #[must_use]
    pub fn health_snapshot(&self) -> HealthSnapshot {
        let clients = self.all_clients();
        let mut health = HealthSnapshot {
            total_clients: clients.len(),
            sessions: self.session_count(),
            messages_delivered: self.counters.delivered.load(Ordering::Relaxed),
            messages_dropped: self.counters.dropped.load(Ordering::Relaxed),
            lag_events: self.counters.lag_events.load(Ordering::Relaxed),
            connects: self.counters.connects.load(Ordering::Relaxed),
            disconnects: self.counters.disconnects.load(Ordering::Relaxed),
            ..HealthSnapshot::default()
        };
        for client in &clients {
            *health.roles.entry(client.info.role()).or_insert(0) += 1;
            if client.slot().session.is_some() {
                health.attached_clients += 1;
            }
            if client.lag.is_lagging() {
                health.lagging_clients += 1;
            }
        }
        health
    }

    /// A snapshot of one client, or `None` if it is not registered.
    #[must_use]
    pub fn get_client(&self, id: ClientId) -> Option<ClientSnapshot<K, I>>
    where
        I: Clone,
    {
        self.client(id).map(|client| snapshot(&client))
    }

    /// Snapshots of all registered clients, in ascending id order.
    #[must_use]
    pub fn list(&self) -> Vec<ClientSnapshot<K, I>>
    where
        I: Clone,
    {
        let mut all: Vec<_> = self
            .all_clients()
            .iter()
            .map(|client| snapshot(client))
            .collect();
        all.sort_unstable_by_key(|snapshot| snapshot.id);
        all
    }
}

fn snapshot<K: Clone, M, I: ClientInfo + Clone>(client: &Client<K, M, I>) -> ClientSnapshot<K, I> {
    ClientSnapshot {
        id: client.id,
        info: client.info.clone(),
        session: client.slot().session.clone(),
        connected_at: client.connected_at,
        connected_since: client.connected_since,
        lagging: client.lag.is_lagging(),
    }
}
