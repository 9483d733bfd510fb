//! Attaching and detaching clients, and the session index.

use fugue_registry::{ClientId, RegistryError};

use crate::support::{TestRegistry, assert_consistent, connect, join};

#[test]
fn attach_puts_client_in_session() {
    let registry = TestRegistry::new();
    let (id, _rx) = connect(&registry, 4);
    assert_eq!(registry.attach_to_session(id, "work"), Ok(None));
    assert_eq!(registry.get_attached_session(id), Some("work"));
    assert!(registry.is_client_attached(id));
    assert_eq!(registry.get_session_clients(&"work"), vec![id]);
    assert_eq!(registry.session_count(), 1);
    assert_consistent(&registry);
}

#[test]
fn detach_removes_client_and_empty_session() {
    let registry = TestRegistry::new();
    let (id, _rx) = join(&registry, "work");
    assert_eq!(registry.detach_from_session(id), Some("work"));
    assert_eq!(registry.get_attached_session(id), None);
    assert!(!registry.is_client_attached(id));
    assert!(registry.get_session_clients(&"work").is_empty());
    assert_eq!(
        registry.session_count(),
        0,
        "an empty session leaves the index"
    );
    assert!(registry.is_registered(id), "detaching does not unregister");
    assert_consistent(&registry);
}

#[test]
fn detach_of_unattached_or_unknown_client_returns_none() {
    let registry = TestRegistry::new();
    let (id, _rx) = connect(&registry, 4);
    assert_eq!(registry.detach_from_session(id), None);
    assert_eq!(registry.detach_from_session(ClientId::new(777)), None);
    assert_consistent(&registry);
}

#[test]
fn conditional_detach_only_leaves_the_named_session() {
    let registry = TestRegistry::new();
    let (id, _rx) = join(&registry, "a");
    assert!(
        !registry.detach_if_attached_to(id, &"b"),
        "attached to a, not b"
    );
    assert_eq!(registry.get_attached_session(id), Some("a"));
    assert!(registry.detach_if_attached_to(id, &"a"));
    assert_eq!(registry.get_attached_session(id), None);
    assert_eq!(registry.session_count(), 0);
    assert!(
        !registry.detach_if_attached_to(id, &"a"),
        "already detached"
    );
    assert!(!registry.detach_if_attached_to(ClientId::new(777), &"a"));
    registry.unregister_client(id);
    assert!(!registry.detach_if_attached_to(id, &"a"));
    assert_consistent(&registry);
}

#[test]
fn reattach_moves_client_to_the_new_session() {
    let registry = TestRegistry::new();
    let (id, _rx) = join(&registry, "a");
    let (other, _other_rx) = join(&registry, "a");
    assert_eq!(registry.attach_to_session(id, "b"), Ok(Some("a")));
    assert_eq!(registry.get_attached_session(id), Some("b"));
    assert_eq!(registry.get_session_clients(&"a"), vec![other]);
    assert_eq!(registry.get_session_clients(&"b"), vec![id]);
    assert_eq!(registry.attach_to_session(other, "b"), Ok(Some("a")));
    assert_eq!(
        registry.session_count(),
        1,
        "session a emptied and left the index"
    );
    assert_consistent(&registry);
}

#[test]
fn attaching_to_the_current_session_changes_nothing() {
    let registry = TestRegistry::new();
    let (id, _rx) = join(&registry, "a");
    assert_eq!(registry.attach_to_session(id, "a"), Ok(Some("a")));
    assert_eq!(registry.get_session_clients(&"a"), vec![id]);
    assert_consistent(&registry);
}

#[test]
fn attach_of_unknown_client_fails_and_leaves_no_trace() {
    let registry = TestRegistry::new();
    let ghost = ClientId::new(404);
    assert_eq!(
        registry.attach_to_session(ghost, "a"),
        Err(RegistryError::UnknownClient(ghost))
    );
    assert_eq!(registry.session_count(), 0);
    assert!(registry.get_session_clients(&"a").is_empty());
    assert_consistent(&registry);
}

#[test]
fn attach_after_unregister_fails() {
    let registry = TestRegistry::new();
    let (id, _rx) = connect(&registry, 4);
    registry.unregister_client(id);
    assert_eq!(
        registry.attach_to_session(id, "a"),
        Err(RegistryError::UnknownClient(id))
    );
    assert_eq!(registry.session_count(), 0);
}

#[test]
fn unregister_removes_client_from_its_session() {
    let registry = TestRegistry::new();
    let (id, _rx) = join(&registry, "a");
    let (other, _other_rx) = join(&registry, "a");
    registry.unregister_client(id);
    assert_eq!(registry.get_session_clients(&"a"), vec![other]);
    registry.unregister_client(other);
    assert_eq!(registry.session_count(), 0);
    assert_consistent(&registry);
}

#[test]
fn several_clients_share_a_session_and_are_listed_in_id_order() {
    let registry = TestRegistry::new();
    let clients: Vec<_> = (0..5).map(|_| join(&registry, "shared")).collect();
    let expected: Vec<ClientId> = clients.iter().map(|(id, _)| *id).collect();
    assert_eq!(registry.get_session_clients(&"shared"), expected);
    assert_eq!(registry.session_count(), 1);
    assert_consistent(&registry);
}
