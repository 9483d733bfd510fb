//! The health snapshot: counts by state and role, and lifetime counters.

use fugue_registry::HealthSnapshot;
use tokio::sync::mpsc;

use crate::support::{Device, DeviceRegistry, TestRegistry, drain, join};

#[test]
fn empty_registry_reports_zeroes() {
    let registry = TestRegistry::new();
    assert_eq!(registry.health_snapshot(), HealthSnapshot::default());
}

#[test]
fn health_snapshot_counts_clients_sessions_and_roles() {
    let registry = DeviceRegistry::new();
    let mut receivers = Vec::new();
    for (n, read_only) in [false, false, true, false, true].into_iter().enumerate() {
        let id = registry.next_client_id();
        let (tx, rx) = mpsc::channel(1);
        registry
            .register_client_with(
                id,
                tx,
                Device {
                    identity: None,
                    read_only,
                },
            )
            .expect("fresh id");
        receivers.push(rx);
        if n < 3 {
            registry
                .attach_to_session(id, if n == 0 { "a" } else { "b" })
                .expect("registered");
        }
    }
    let health = registry.health_snapshot();
    assert_eq!(health.total_clients, 5);
    assert_eq!(health.attached_clients, 3);
    assert_eq!(health.sessions, 2);
    assert_eq!(health.roles.get("interactive"), Some(&3));
    assert_eq!(health.roles.get("read-only"), Some(&2));
    assert_eq!(health.connects, 5);
    assert_eq!(health.disconnects, 0);
}

#[test]
fn default_info_counts_under_the_client_role() {
    let registry = TestRegistry::new();
    let (_id, _rx) = join(&registry, "a");
    assert_eq!(registry.health_snapshot().roles.get("client"), Some(&1));
}

#[test]
fn message_counters_track_deliveries_and_drops() {
    let registry = TestRegistry::new();
    let (_fast, mut fast_rx) = join(&registry, "s");
    let (slow, _slow_rx) = join(&registry, "s");
    let (_gone, gone_rx) = join(&registry, "s");
    drop(gone_rx);
    // 16 fit in each queue; the 17th finds the slow one full. The first broadcast finds
    // the closed one.
    for n in 0..17 {
        registry.broadcast_to_session(&"s", n);
        drain(&mut fast_rx);
    }
    registry
        .try_send_to_client(slow, 1)
        .expect_err("queue full");
    let health = registry.health_snapshot();
    assert_eq!(health.messages_delivered, 17 + 16);
    assert_eq!(health.messages_dropped, 1 + 1 + 1, "closed, lagging, full");
    assert_eq!(health.lag_events, 1);
    assert_eq!(health.lagging_clients, 1);
    assert_eq!(health.disconnects, 1);
    assert_eq!(health.total_clients, 2);
}
