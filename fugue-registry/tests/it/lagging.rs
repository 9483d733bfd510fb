//! Slow clients: a full queue marks a client lagging until its owner clears the mark.

use crate::support::{TestRegistry, assert_consistent, drain, join};

#[test]
fn full_queue_marks_client_lagging_and_reports_it() {
    let registry = TestRegistry::new();
    let (slow, mut slow_rx) = join(&registry, "s");
    let (fast, mut fast_rx) = join(&registry, "s");
    for n in 0..16 {
        registry.broadcast_to_session(&"s", n);
    }
    drain(&mut fast_rx);
    let report = registry.broadcast_to_session(&"s", 16);
    assert_eq!(report.delivered, 1, "the fast client keeps receiving");
    assert_eq!(report.lagging, vec![slow]);
    assert!(registry.is_lagging(slow));
    assert!(!registry.is_lagging(fast));
    assert_eq!(fast_rx.try_recv(), Ok(16));
    assert_eq!(
        drain(&mut slow_rx),
        (0..16).collect::<Vec<_>>(),
        "no holes before the mark"
    );
    assert_consistent(&registry);
}

#[test]
fn broadcast_skips_lagging_client_even_after_its_queue_drains() {
    let registry = TestRegistry::new();
    let (slow, mut slow_rx) = join(&registry, "s");
    for n in 0..17 {
        registry.broadcast_to_session(&"s", n);
    }
    assert!(registry.is_lagging(slow));
    drain(&mut slow_rx);
    let report = registry.broadcast_to_session(&"s", 100);
    assert_eq!(report.delivered, 0);
    assert_eq!(report.lagging, vec![slow]);
    assert!(
        drain(&mut slow_rx).is_empty(),
        "no stream with holes: nothing until cleared"
    );
}

#[test]
fn clearing_the_mark_resumes_broadcasts() {
    let registry = TestRegistry::new();
    let (slow, mut slow_rx) = join(&registry, "s");
    for n in 0..17 {
        registry.broadcast_to_session(&"s", n);
    }
    drain(&mut slow_rx);
    assert!(registry.clear_lagging(slow));
    assert!(!registry.clear_lagging(slow), "already cleared");
    assert!(!registry.is_lagging(slow));
    assert_eq!(registry.broadcast_to_session(&"s", 200).delivered, 1);
    assert_eq!(drain(&mut slow_rx), vec![200]);
}

#[test]
fn lag_event_is_counted_once_per_transition() {
    let registry = TestRegistry::new();
    let (slow, mut slow_rx) = join(&registry, "s");
    for n in 0..20 {
        registry.broadcast_to_session(&"s", n);
    }
    assert_eq!(registry.health_snapshot().lag_events, 1);
    drain(&mut slow_rx);
    registry.clear_lagging(slow);
    for n in 0..20 {
        registry.broadcast_to_session(&"s", n);
    }
    let health = registry.health_snapshot();
    assert_eq!(health.lag_events, 2);
    assert_eq!(health.lagging_clients, 1);
}

#[test]
fn lag_flag_handle_reads_and_clears_without_the_registry() {
    let registry = TestRegistry::new();
    let (slow, mut slow_rx) = join(&registry, "s");
    let flag = registry.lag_flag(slow).expect("registered");
    assert!(!flag.is_lagging());
    for n in 0..17 {
        registry.broadcast_to_session(&"s", n);
    }
    assert!(flag.is_lagging());
    drain(&mut slow_rx);
    assert!(flag.clear());
    assert!(!registry.is_lagging(slow));
    assert!(
        registry
            .lag_flag(fugue_registry::ClientId::new(0))
            .is_none()
    );
}

#[tokio::test]
async fn direct_send_reaches_a_lagging_client() {
    let registry = TestRegistry::new();
    let (slow, mut slow_rx) = join(&registry, "s");
    for n in 0..17 {
        registry.broadcast_to_session(&"s", n);
    }
    drain(&mut slow_rx);
    registry
        .send_to_client(slow, 999)
        .await
        .expect("resync goes through");
    assert_eq!(drain(&mut slow_rx), vec![999]);
    assert!(
        registry.is_lagging(slow),
        "only clear_lagging clears the mark"
    );
}

#[test]
fn unknown_client_is_not_lagging() {
    let registry = TestRegistry::new();
    assert!(!registry.is_lagging(fugue_registry::ClientId::new(1)));
    assert!(!registry.clear_lagging(fugue_registry::ClientId::new(1)));
}

#[test]
fn shortest_queue_follows_the_fastest_member_that_keeps_up() {
    let registry = TestRegistry::new();
    assert_eq!(registry.shortest_queue(&"s"), None, "unknown session");
    let (slow, mut slow_rx) = join(&registry, "s");
    let (_fast, mut fast_rx) = join(&registry, "s");
    assert_eq!(registry.shortest_queue(&"s"), Some(0));
    for n in 0..5 {
        registry.broadcast_to_session(&"s", n);
    }
    assert_eq!(registry.shortest_queue(&"s"), Some(5));
    fast_rx.try_recv().expect("queued");
    fast_rx.try_recv().expect("queued");
    assert_eq!(
        registry.shortest_queue(&"s"),
        Some(3),
        "the fast member's queue"
    );
    drain(&mut fast_rx);
    for n in 5..20 {
        registry.broadcast_to_session(&"s", n);
        drain(&mut fast_rx);
    }
    assert!(registry.is_lagging(slow));
    drain(&mut slow_rx);
    assert_eq!(
        registry.shortest_queue(&"s"),
        Some(0),
        "only the member that keeps up counts"
    );
}

#[test]
fn shortest_queue_ignores_lagging_and_closed_members() {
    let registry = TestRegistry::new();
    let (slow, _slow_rx) = join(&registry, "s");
    let (_gone, gone_rx) = join(&registry, "s");
    drop(gone_rx);
    for n in 0..17 {
        registry.broadcast_to_session(&"s", n);
    }
    assert!(registry.is_lagging(slow));
    assert_eq!(
        registry.shortest_queue(&"s"),
        None,
        "nobody keeps up: a producer need not wait for anyone"
    );
}

#[test]
fn lag_members_with_queue_cuts_only_full_enough_members_loose() {
    let registry = TestRegistry::new();
    let (slow, mut slow_rx) = join(&registry, "s");
    let (fast, mut fast_rx) = join(&registry, "s");
    for n in 0..6 {
        registry.broadcast_to_session(&"s", n);
    }
    drain(&mut fast_rx);
    assert_eq!(registry.lag_members_with_queue(&"s", 6), vec![slow]);
    assert!(registry.is_lagging(slow));
    assert!(!registry.is_lagging(fast));
    assert_eq!(registry.health_snapshot().lag_events, 1);
    assert!(
        registry.lag_members_with_queue(&"s", 6).is_empty(),
        "marked once"
    );
    assert_eq!(
        registry.shortest_queue(&"s"),
        Some(0),
        "only the fast one counts"
    );
    assert_eq!(
        drain(&mut slow_rx),
        (0..6).collect::<Vec<_>>(),
        "what was queued stays queued"
    );
    assert_eq!(registry.broadcast_to_session(&"s", 9).lagging, vec![slow]);
    assert!(registry.lag_members_with_queue(&"nobody", 0).is_empty());
}

#[test]
fn a_client_marked_lagging_by_hand_is_skipped_until_cleared() {
    let registry = TestRegistry::new();
    let (id, mut rx) = crate::support::join(&registry, "s");
    assert!(registry.set_lagging(id));
    assert!(!registry.set_lagging(id), "already lagging");
    assert!(!registry.broadcast_to_session(&"s", 1).reached_all());
    assert!(rx.try_recv().is_err());
    assert!(registry.clear_lagging(id));
    assert_eq!(registry.broadcast_to_session(&"s", 2).delivered, 1);
    assert_eq!(rx.try_recv().ok(), Some(2));
    assert!(!registry.set_lagging(fugue_registry::ClientId::new(999)));
}

#[test]
fn ids_handed_out_after_a_skip_are_past_it() {
    let registry = TestRegistry::new();
    registry.skip_client_ids_through(fugue_registry::ClientId::new(100));
    assert_eq!(registry.next_client_id().get(), 101);
}
