//! Edge cases: an empty registry, many clients, a crowded session, and attach/detach churn.

use fugue_registry::ClientId;

use crate::support::{TestRegistry, assert_consistent, connect, drain, join};

#[test]
fn empty_registry_answers_every_query() {
    let registry = TestRegistry::new();
    let ghost = ClientId::new(1);
    assert_eq!(registry.client_count(), 0);
    assert_eq!(registry.session_count(), 0);
    assert!(registry.list().is_empty());
    assert!(registry.get_session_clients(&"s").is_empty());
    assert_eq!(registry.get_attached_session(ghost), None);
    assert!(!registry.is_client_attached(ghost));
    assert_eq!(registry.broadcast_to_session(&"s", 1).delivered, 0);
    assert_consistent(&registry);
}

#[test]
fn thousands_of_clients_register_attach_and_leave() {
    let registry = TestRegistry::new();
    let sessions = ["a", "b", "c", "d", "e"];
    let clients: Vec<_> = (0..2500).map(|_| connect(&registry, 2)).collect();
    for (n, (id, _)) in clients.iter().enumerate() {
        registry
            .attach_to_session(*id, sessions[n % sessions.len()])
            .expect("registered");
    }
    assert_eq!(registry.client_count(), 2500);
    assert_eq!(registry.session_count(), 5);
    assert_eq!(registry.get_session_clients(&"c").len(), 500);
    assert_eq!(registry.health_snapshot().attached_clients, 2500);
    assert_consistent(&registry);
    for (id, _) in &clients {
        assert!(registry.unregister_client(*id));
    }
    assert_eq!(registry.client_count(), 0);
    assert_eq!(registry.session_count(), 0);
    assert_consistent(&registry);
}

#[test]
fn crowded_session_broadcast_reaches_every_member() {
    let registry = TestRegistry::new();
    let mut members: Vec<_> = (0..300).map(|_| join(&registry, "crowd")).collect();
    let report = registry.broadcast_to_session(&"crowd", 42);
    assert_eq!(report.delivered, 300);
    assert!(report.reached_all());
    for (_, rx) in &mut members {
        assert_eq!(drain(rx), vec![42]);
    }
    let except = members[150].0;
    assert_eq!(
        registry
            .broadcast_to_session_except(&"crowd", except, 43)
            .delivered,
        299
    );
    assert!(drain(&mut members[150].1).is_empty());
}

#[test]
fn rapid_attach_detach_cycles_leave_no_sessions_behind() {
    let registry = TestRegistry::new();
    let (id, _rx) = connect(&registry, 1);
    let (anchor, _anchor_rx) = join(&registry, "anchor");
    for n in 0..100_000u32 {
        let session: &'static str = if n % 2 == 0 { "even" } else { "odd" };
        registry.attach_to_session(id, session).expect("registered");
        if n % 3 == 0 {
            registry
                .attach_to_session(id, "anchor")
                .expect("registered");
        }
        registry.detach_from_session(id);
    }
    assert_eq!(
        registry.session_count(),
        1,
        "only the anchor's session remains"
    );
    assert_eq!(registry.get_session_clients(&"anchor"), vec![anchor]);
    assert_consistent(&registry);
}

#[test]
fn many_short_sessions_do_not_accumulate() {
    let registry: fugue_registry::Registry<u64, u32> = fugue_registry::Registry::new();
    let id = registry.next_client_id();
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    registry.register_client(id, tx).expect("fresh id");
    for session in 0..50_000u64 {
        registry.attach_to_session(id, session).expect("registered");
    }
    assert_eq!(
        registry.session_count(),
        1,
        "each move empties and drops the previous session"
    );
    registry.unregister_client(id);
    assert_eq!(registry.session_count(), 0);
    assert_consistent(&registry);
}
