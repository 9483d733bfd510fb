//! Reserving room in a client's queue: all or nothing now, or waited for.

use std::time::Duration;

use fugue_registry::{ClientId, SendError};

use crate::support::{TestRegistry, assert_consistent, connect, drain};

#[test]
fn a_reservation_takes_every_slot_or_none() {
    let registry = TestRegistry::new();
    let (id, mut rx) = connect(&registry, 3);
    registry.try_send_to_client(id, 1).expect("room");
    assert_eq!(
        registry.try_reserve(id, 3).map(|room| room.len()),
        Err(SendError::Full { id, msg: () }),
        "two slots free, three asked"
    );
    let mut room = registry.try_reserve(id, 2).expect("two slots free");
    assert_eq!(
        registry.try_send_to_client(id, 9),
        Err(SendError::Full { id, msg: 9 }),
        "reserved slots are taken"
    );
    assert_eq!(room.send(2), Ok(()));
    assert_eq!(room.send(3), Ok(()));
    assert_eq!(room.send(4), Err(4), "no slot left");
    assert!(room.is_empty());
    drop(room);
    assert_eq!(drain(&mut rx), [1, 2, 3]);
    assert_eq!(registry.health_snapshot().messages_delivered, 3);
}

#[test]
fn dropping_a_reservation_frees_its_slots() {
    let registry = TestRegistry::new();
    let (id, mut rx) = connect(&registry, 2);
    let room = registry.try_reserve(id, 2).expect("room");
    drop(room);
    registry.try_send_to_client(id, 5).expect("freed");
    registry.try_send_to_client(id, 6).expect("freed");
    assert_eq!(drain(&mut rx), [5, 6]);
}

#[test]
fn reserving_for_a_gone_client_fails_and_unregisters_it() {
    let registry = TestRegistry::new();
    let ghost = ClientId::new(404);
    assert!(matches!(
        registry.try_reserve(ghost, 1),
        Err(SendError::UnknownClient(id)) if id == ghost
    ));
    let (id, rx) = connect(&registry, 2);
    drop(rx);
    assert!(matches!(
        registry.try_reserve(id, 1),
        Err(SendError::Disconnected(gone)) if gone == id
    ));
    assert!(!registry.is_registered(id));
    assert_consistent(&registry);
}

#[tokio::test]
async fn a_waited_reservation_comes_once_the_reader_makes_room() {
    let registry = TestRegistry::new();
    let (id, mut rx) = connect(&registry, 2);
    registry.try_send_to_client(id, 1).expect("room");
    registry.try_send_to_client(id, 2).expect("room");
    let waiting = tokio::time::timeout(Duration::from_millis(50), registry.reserve(id, 1)).await;
    assert!(waiting.is_err(), "no room yet");
    assert_eq!(rx.recv().await, Some(1));
    let mut room = registry.reserve(id, 1).await.expect("room was made");
    assert_eq!(room.send(3), Ok(()));
    assert_eq!(drain(&mut rx), [2, 3]);
}
