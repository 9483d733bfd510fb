//! Sending to one client and broadcasting to a session.

use fugue_registry::{BroadcastReport, ClientId, SendError};

use crate::support::{TestRegistry, assert_consistent, connect, drain, join};

#[tokio::test]
async fn send_to_client_delivers_the_message() {
    let registry = TestRegistry::new();
    let (id, mut rx) = connect(&registry, 4);
    registry
        .send_to_client(id, 1)
        .await
        .expect("registered and open");
    assert_eq!(rx.recv().await, Some(1));
}

#[tokio::test]
async fn send_to_unknown_client_is_an_error() {
    let registry = TestRegistry::new();
    let ghost = ClientId::new(31);
    assert_eq!(
        registry.send_to_client(ghost, 1).await,
        Err(SendError::UnknownClient(ghost))
    );
    assert_eq!(
        registry.try_send_to_client(ghost, 1),
        Err(SendError::UnknownClient(ghost))
    );
}

#[tokio::test]
async fn send_to_disconnected_client_unregisters_it() {
    let registry = TestRegistry::new();
    let (id, rx) = join(&registry, "a");
    drop(rx);
    assert_eq!(
        registry.send_to_client(id, 1).await,
        Err(SendError::Disconnected(id))
    );
    assert!(!registry.is_registered(id));
    assert_eq!(
        registry.session_count(),
        0,
        "cleanup includes the session index"
    );
    assert_consistent(&registry);
}

#[tokio::test]
async fn send_to_client_waits_for_room_in_a_full_queue() {
    let registry = TestRegistry::new();
    let (id, mut rx) = connect(&registry, 1);
    registry.try_send_to_client(id, 1).expect("room for one");
    let (sent, received) = tokio::join!(registry.send_to_client(id, 2), async {
        let first = rx.recv().await;
        let second = rx.recv().await;
        (first, second)
    });
    sent.expect("queued once there was room");
    assert_eq!(received, (Some(1), Some(2)));
}

#[test]
fn try_send_to_full_queue_gives_the_message_back() {
    let registry = TestRegistry::new();
    let (id, mut rx) = connect(&registry, 1);
    registry.try_send_to_client(id, 1).expect("room for one");
    let err = registry
        .try_send_to_client(id, 2)
        .expect_err("queue is full");
    assert_eq!(err, SendError::Full { id, msg: 2 });
    assert_eq!(err.into_message(), Some(2));
    assert!(!registry.is_lagging(id), "direct sends never mark lagging");
    assert_eq!(drain(&mut rx), vec![1]);
}

#[test]
fn try_send_to_disconnected_client_unregisters_it() {
    let registry = TestRegistry::new();
    let (id, rx) = connect(&registry, 1);
    drop(rx);
    assert_eq!(
        registry.try_send_to_client(id, 1),
        Err(SendError::Disconnected(id))
    );
    assert!(!registry.is_registered(id));
    assert_consistent(&registry);
}

#[test]
fn broadcast_reaches_every_client_of_the_session_only() {
    let registry = TestRegistry::new();
    let (a, mut a_rx) = join(&registry, "s");
    let (b, mut b_rx) = join(&registry, "s");
    let (_outsider, mut outsider_rx) = join(&registry, "other");
    let (_idle, mut idle_rx) = connect(&registry, 4);
    let report = registry.broadcast_to_session(&"s", 9);
    assert_eq!(
        report,
        BroadcastReport {
            delivered: 2,
            lagging: vec![],
            disconnected: vec![]
        }
    );
    assert!(report.reached_all());
    assert_eq!(drain(&mut a_rx), vec![9]);
    assert_eq!(drain(&mut b_rx), vec![9]);
    assert!(drain(&mut outsider_rx).is_empty());
    assert!(drain(&mut idle_rx).is_empty());
    assert!(registry.is_registered(a) && registry.is_registered(b));
}

#[test]
fn broadcast_to_empty_or_unknown_session_delivers_nothing() {
    let registry = TestRegistry::new();
    assert_eq!(
        registry.broadcast_to_session(&"nobody", 1),
        BroadcastReport::default()
    );
    let (id, _rx) = join(&registry, "s");
    registry.detach_from_session(id);
    assert_eq!(
        registry.broadcast_to_session(&"s", 1),
        BroadcastReport::default()
    );
}

#[test]
fn broadcast_except_skips_the_sender() {
    let registry = TestRegistry::new();
    let (sender, mut sender_rx) = join(&registry, "s");
    let (_peer, mut peer_rx) = join(&registry, "s");
    let report = registry.broadcast_to_session_except(&"s", sender, 5);
    assert_eq!(report.delivered, 1);
    assert!(report.reached_all());
    assert!(drain(&mut sender_rx).is_empty());
    assert_eq!(drain(&mut peer_rx), vec![5]);
}

#[test]
fn broadcast_except_a_non_member_reaches_everyone() {
    let registry = TestRegistry::new();
    let (_a, _a_rx) = join(&registry, "s");
    let (_b, _b_rx) = join(&registry, "s");
    assert_eq!(
        registry
            .broadcast_to_session_except(&"s", ClientId::new(999), 5)
            .delivered,
        2
    );
}

#[test]
fn broadcast_unregisters_disconnected_clients_and_reports_them() {
    let registry = TestRegistry::new();
    let (alive, mut alive_rx) = join(&registry, "s");
    let (gone, gone_rx) = join(&registry, "s");
    drop(gone_rx);
    let report = registry.broadcast_to_session(&"s", 3);
    assert_eq!(report.delivered, 1);
    assert_eq!(report.disconnected, vec![gone]);
    assert!(!registry.is_registered(gone));
    assert_eq!(registry.get_session_clients(&"s"), vec![alive]);
    assert_eq!(drain(&mut alive_rx), vec![3]);
    assert_consistent(&registry);
}

#[test]
fn broadcast_of_last_disconnected_member_removes_the_session() {
    let registry = TestRegistry::new();
    let (_gone, gone_rx) = join(&registry, "s");
    drop(gone_rx);
    registry.broadcast_to_session(&"s", 3);
    assert_eq!(registry.session_count(), 0);
    assert_eq!(registry.client_count(), 0);
    assert_consistent(&registry);
}
