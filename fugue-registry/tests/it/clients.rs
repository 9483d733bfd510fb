//! Registering, unregistering, counting and listing clients.

use fugue_registry::{ClientId, RegistryError};
use tokio::sync::mpsc;

use crate::support::{TestRegistry, assert_consistent, connect};

#[test]
fn registered_client_is_known_and_counted() {
    let registry = TestRegistry::new();
    let (id, _rx) = connect(&registry, 4);
    assert!(registry.is_registered(id));
    assert_eq!(registry.client_count(), 1);
    assert!(!registry.is_client_attached(id));
    assert_consistent(&registry);
}

#[test]
fn unregister_removes_client_and_closes_its_channel() {
    let registry = TestRegistry::new();
    let (id, rx) = connect(&registry, 4);
    assert!(registry.unregister_client(id));
    assert!(!registry.is_registered(id));
    assert_eq!(registry.client_count(), 0);
    assert!(rx.is_closed(), "the registry held the only sender");
    assert_consistent(&registry);
}

#[test]
fn duplicate_registration_is_refused_and_first_stays_intact() {
    let registry = TestRegistry::new();
    let (id, mut first_rx) = connect(&registry, 4);
    let (second_tx, second_rx) = mpsc::channel(4);
    assert_eq!(
        registry.register_client(id, second_tx),
        Err(RegistryError::DuplicateClient(id))
    );
    assert!(second_rx.is_closed(), "the refused sender is dropped");
    assert_eq!(registry.client_count(), 1);
    registry
        .try_send_to_client(id, 7)
        .expect("first registration still reachable");
    assert_eq!(first_rx.try_recv(), Ok(7));
    assert_consistent(&registry);
}

#[test]
fn unregister_unknown_client_returns_false() {
    let registry = TestRegistry::new();
    assert!(!registry.unregister_client(ClientId::new(99)));
    let (id, _rx) = connect(&registry, 4);
    assert!(registry.unregister_client(id));
    assert!(
        !registry.unregister_client(id),
        "second unregister finds nothing"
    );
    assert_consistent(&registry);
}

#[test]
fn client_count_tracks_registrations_exactly() {
    let registry = TestRegistry::new();
    assert_eq!(registry.client_count(), 0);
    let clients: Vec<_> = (0..10).map(|_| connect(&registry, 1)).collect();
    assert_eq!(registry.client_count(), 10);
    for (id, _rx) in &clients[..4] {
        registry.unregister_client(*id);
    }
    assert_eq!(registry.client_count(), 6);
    assert_consistent(&registry);
}

#[test]
fn next_client_id_is_unique_and_increasing() {
    let registry = TestRegistry::new();
    let a = registry.next_client_id();
    let b = registry.next_client_id();
    assert!(b > a);
    assert_ne!(a, b);
}

#[test]
fn caller_chosen_ids_work_and_can_be_reused_after_unregister() {
    let registry = TestRegistry::new();
    let id = ClientId::new(5);
    let (tx, _rx) = mpsc::channel(1);
    registry.register_client(id, tx).expect("free id");
    registry.unregister_client(id);
    let (tx, _rx2) = mpsc::channel(1);
    registry.register_client(id, tx).expect("id is free again");
    assert_eq!(registry.client_count(), 1);
    assert_consistent(&registry);
}

#[test]
fn get_client_snapshots_session_and_connect_time() {
    let registry = TestRegistry::new();
    let before = std::time::SystemTime::now();
    let (id, _rx) = connect(&registry, 1);
    registry.attach_to_session(id, "main").expect("registered");
    let snapshot = registry.get_client(id).expect("registered");
    assert_eq!(snapshot.id, id);
    assert_eq!(snapshot.session, Some("main"));
    assert!(snapshot.connected_at >= before);
    assert!(!snapshot.lagging);
    assert!(registry.get_client(ClientId::new(12345)).is_none());
}

#[test]
fn list_returns_every_client_in_id_order() {
    let registry = TestRegistry::new();
    let clients: Vec<_> = (0..5).map(|_| connect(&registry, 1)).collect();
    let listed: Vec<ClientId> = registry.list().iter().map(|snapshot| snapshot.id).collect();
    let expected: Vec<ClientId> = clients.iter().map(|(id, _)| *id).collect();
    assert_eq!(listed, expected);
}

#[test]
fn registry_debug_shows_counts_only() {
    let registry = TestRegistry::default();
    let (_id, _rx) = connect(&registry, 1);
    assert_eq!(
        format!("{registry:?}"),
        "Registry { clients: 1, sessions: 0, .. }"
    );
}

#[test]
fn registry_and_guard_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<fugue_registry::Registry<String, Vec<u8>>>();
    assert_send_sync::<fugue_registry::Registration<String, Vec<u8>>>();
}
