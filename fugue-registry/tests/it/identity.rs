//! Stable identities: a reconnecting client replaces its stale connection.

use std::sync::Arc;

use fugue_registry::{Registration, RegistryError};
use tokio::sync::mpsc;

use crate::support::{Device, DeviceRegistry, assert_consistent, drain};

fn register(
    registry: &DeviceRegistry,
    device: Device,
) -> (
    fugue_registry::ClientId,
    mpsc::Receiver<u32>,
    Option<fugue_registry::ClientId>,
) {
    let id = registry.next_client_id();
    let (tx, rx) = mpsc::channel(4);
    let replaced = registry.replace_client(id, tx, device).expect("fresh id");
    (id, rx, replaced)
}

#[test]
fn same_identity_replaces_the_live_client() {
    let registry = DeviceRegistry::new();
    let (old, old_rx, none) = register(&registry, Device::with_identity(7));
    assert_eq!(none, None);
    registry.attach_to_session(old, "s").expect("registered");
    let (new, _new_rx, replaced) = register(&registry, Device::with_identity(7));
    assert_eq!(replaced, Some(old));
    assert!(!registry.is_registered(old));
    assert!(registry.is_registered(new));
    assert!(old_rx.is_closed(), "the replaced client's channel closes");
    assert_eq!(
        registry.session_count(),
        0,
        "the replaced client left its session"
    );
    assert_eq!(registry.client_count(), 1);
    assert_consistent(&registry);
}

#[test]
fn unregistering_the_replaced_id_never_removes_the_replacement() {
    let registry = DeviceRegistry::new();
    let (old, _old_rx, _) = register(&registry, Device::with_identity(7));
    let (new, mut new_rx, _) = register(&registry, Device::with_identity(7));
    registry.attach_to_session(new, "s").expect("registered");
    assert!(!registry.unregister_client(old));
    assert!(registry.is_registered(new));
    assert_eq!(registry.broadcast_to_session(&"s", 1).delivered, 1);
    assert_eq!(drain(&mut new_rx), vec![1]);
    let (third, _third_rx, replaced) = register(&registry, Device::with_identity(7));
    assert_eq!(
        replaced,
        Some(new),
        "the identity still points at the live replacement"
    );
    assert!(registry.is_registered(third));
    assert_consistent(&registry);
}

#[test]
fn different_identities_and_anonymous_clients_coexist() {
    let registry = DeviceRegistry::new();
    let (_, _a, r1) = register(&registry, Device::with_identity(1));
    let (_, _b, r2) = register(&registry, Device::with_identity(2));
    let (_, _c, r3) = register(&registry, Device::default());
    let (_, _d, r4) = register(&registry, Device::default());
    assert_eq!((r1, r2, r3, r4), (None, None, None, None));
    assert_eq!(registry.client_count(), 4);
    assert_consistent(&registry);
}

#[test]
fn identity_is_free_again_after_its_holder_unregisters() {
    let registry = DeviceRegistry::new();
    let (old, _old_rx, _) = register(&registry, Device::with_identity(3));
    registry.unregister_client(old);
    let (_, _rx, replaced) = register(&registry, Device::with_identity(3));
    assert_eq!(replaced, None);
    assert_consistent(&registry);
}

#[test]
fn duplicate_id_with_an_identity_replaces_nothing() {
    let registry = DeviceRegistry::new();
    let (holder, _holder_rx, _) = register(&registry, Device::with_identity(5));
    let (other, _other_rx, _) = register(&registry, Device::with_identity(6));
    let (tx, _rx) = mpsc::channel(1);
    assert_eq!(
        registry.replace_client(other, tx, Device::with_identity(5)),
        Err(RegistryError::DuplicateClient(other))
    );
    assert!(
        registry.is_registered(holder),
        "a refused registration replaces no one"
    );
    assert_consistent(&registry);
}

#[test]
fn register_client_with_replaces_too() {
    let registry = DeviceRegistry::new();
    let (old, _old_rx, _) = register(&registry, Device::with_identity(8));
    let (tx, _rx) = mpsc::channel(1);
    registry
        .register_client_with(registry.next_client_id(), tx, Device::with_identity(8))
        .expect("fresh id");
    assert!(!registry.is_registered(old));
    assert_eq!(registry.client_count(), 1);
}

#[test]
fn dropping_a_registration_unregisters_its_client() {
    let registry = Arc::new(DeviceRegistry::new());
    let (tx, rx) = mpsc::channel(1);
    let registration =
        Registration::new(&registry, registry.next_client_id(), tx, Device::default())
            .expect("fresh id");
    registry
        .attach_to_session(registration.id(), "s")
        .expect("registered");
    assert_eq!(registration.replaced(), None);
    drop(registration);
    assert_eq!(registry.client_count(), 0);
    assert_eq!(registry.session_count(), 0);
    assert!(rx.is_closed());
    assert_consistent(&*registry);
}

#[test]
fn dropping_a_replaced_registration_leaves_the_replacement_alone() {
    let registry = Arc::new(DeviceRegistry::new());
    let (tx, _old_rx) = mpsc::channel(1);
    let old = Registration::new(
        &registry,
        registry.next_client_id(),
        tx,
        Device::with_identity(1),
    )
    .expect("fresh id");
    let (tx, _new_rx) = mpsc::channel(1);
    let new = Registration::new(
        &registry,
        registry.next_client_id(),
        tx,
        Device::with_identity(1),
    )
    .expect("fresh id");
    assert_eq!(new.replaced(), Some(old.id()));
    drop(old);
    assert!(registry.is_registered(new.id()));
    assert_consistent(&*registry);
}

#[test]
fn dropping_a_stale_registration_spares_a_new_client_with_the_same_id() {
    let registry = Arc::new(DeviceRegistry::new());
    let id = registry.next_client_id();
    let (tx, _rx) = mpsc::channel(1);
    let stale = Registration::new(&registry, id, tx, Device::default()).expect("fresh id");
    registry.unregister_client(id);
    let (tx, _rx2) = mpsc::channel(1);
    registry
        .register_client_with(id, tx, Device::default())
        .expect("id free again");
    drop(stale);
    assert!(
        registry.is_registered(id),
        "the guard removes only its own registration"
    );
    assert_consistent(&*registry);
}
