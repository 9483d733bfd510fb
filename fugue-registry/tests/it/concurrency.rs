//! Many tasks on a multi-threaded runtime racing on one registry; afterwards the indexes
//! must agree and the counts be exact.

use std::sync::Arc;

use fugue_registry::{ClientId, SendError};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::support::{Device, DeviceRegistry, TestRegistry, assert_consistent};

const SESSIONS: [&str; 4] = ["s0", "s1", "s2", "s3"];

/// A tiny deterministic generator, so each task gets its own reproducible sequence.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % bound as u64) as usize
    }
}

fn register_many(registry: &TestRegistry, n: usize) -> Vec<(ClientId, mpsc::Receiver<u32>)> {
    (0..n)
        .map(|_| {
            let id = registry.next_client_id();
            let (tx, rx) = mpsc::channel(1024);
            registry.register_client(id, tx).expect("fresh id");
            (id, rx)
        })
        .collect()
}

async fn join_all<T: 'static>(mut tasks: JoinSet<T>) -> Vec<T> {
    let mut out = Vec::new();
    while let Some(result) = tasks.join_next().await {
        out.push(result.expect("task did not panic"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_are_all_counted() {
    let registry = Arc::new(TestRegistry::new());
    let mut tasks = JoinSet::new();
    for _ in 0..16 {
        let registry = Arc::clone(&registry);
        tasks.spawn(async move { register_many(&registry, 200) });
    }
    let receivers: Vec<_> = join_all(tasks).await.into_iter().flatten().collect();
    assert_eq!(receivers.len(), 3200);
    assert_eq!(registry.client_count(), 3200);
    assert_consistent(&*registry);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_unregistrations_each_succeed_exactly_once() {
    let registry = Arc::new(TestRegistry::new());
    let clients = register_many(&registry, 2000);
    let ids: Arc<Vec<ClientId>> = Arc::new(clients.iter().map(|(id, _)| *id).collect());
    for (n, (id, _)) in clients.iter().enumerate() {
        registry
            .attach_to_session(*id, SESSIONS[n % 4])
            .expect("registered");
    }
    let mut tasks = JoinSet::new();
    // Two tasks race for every id.
    for task in 0..8 {
        let registry = Arc::clone(&registry);
        let ids = Arc::clone(&ids);
        tasks.spawn(async move {
            ids.iter()
                .skip(task % 4)
                .step_by(4)
                .filter(|id| registry.unregister_client(**id))
                .count()
        });
    }
    let removed: usize = join_all(tasks).await.into_iter().sum();
    assert_eq!(removed, 2000);
    assert_eq!(registry.client_count(), 0);
    assert_eq!(registry.session_count(), 0);
    assert_consistent(&*registry);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_attach_and_detach_keep_indexes_in_step() {
    let registry = Arc::new(TestRegistry::new());
    let clients = register_many(&registry, 64);
    let ids: Arc<Vec<ClientId>> = Arc::new(clients.iter().map(|(id, _)| *id).collect());
    let mut tasks = JoinSet::new();
    for seed in 0..8 {
        let registry = Arc::clone(&registry);
        let ids = Arc::clone(&ids);
        tasks.spawn(async move {
            let mut rng = Lcg(seed);
            for step in 0..5000 {
                let id = ids[rng.next(ids.len())];
                if rng.next(3) == 0 {
                    registry.detach_from_session(id);
                } else {
                    registry
                        .attach_to_session(id, SESSIONS[rng.next(4)])
                        .expect("registered");
                }
                if step % 500 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
    }
    join_all(tasks).await;
    assert_consistent(&*registry);
    let members: usize = SESSIONS
        .iter()
        .map(|s| registry.get_session_clients(s).len())
        .sum();
    let attached = ids
        .iter()
        .filter(|id| registry.is_client_attached(**id))
        .count();
    assert_eq!(members, attached);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attach_racing_unregister_leaves_no_orphan() {
    let registry = Arc::new(TestRegistry::new());
    let clients = register_many(&registry, 2000);
    let ids: Arc<Vec<ClientId>> = Arc::new(clients.iter().map(|(id, _)| *id).collect());
    let mut tasks = JoinSet::new();
    for (task, session) in SESSIONS.into_iter().enumerate() {
        let registry = Arc::clone(&registry);
        let ids = Arc::clone(&ids);
        tasks.spawn(async move {
            for id in ids.iter() {
                if task == 0 {
                    registry.unregister_client(*id);
                } else {
                    // Hammer each client until its unregistration lands, so attaches keep
                    // racing it; the failing attach must not leave it in a session.
                    let mut spins = 0u32;
                    while registry.attach_to_session(*id, session).is_ok() {
                        registry.detach_from_session(*id);
                        spins += 1;
                        if spins.is_multiple_of(64) {
                            // Let the unregistering task run even on a busy worker.
                            tokio::task::yield_now().await;
                        }
                    }
                }
            }
        });
    }
    join_all(tasks).await;
    assert_eq!(registry.client_count(), 0);
    assert_eq!(
        registry.session_count(),
        0,
        "no session holds an unregistered client"
    );
    assert_consistent(&*registry);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sends_racing_unregister_fail_cleanly() {
    let registry = Arc::new(TestRegistry::new());
    let clients = register_many(&registry, 500);
    let ids: Arc<Vec<ClientId>> = Arc::new(clients.iter().map(|(id, _)| *id).collect());
    let mut tasks = JoinSet::new();
    for task in 0..6 {
        let registry = Arc::clone(&registry);
        let ids = Arc::clone(&ids);
        tasks.spawn(async move {
            let mut delivered = 0;
            for id in ids.iter() {
                let result = match task {
                    0 => {
                        registry.unregister_client(*id);
                        continue;
                    }
                    1 | 2 => registry.send_to_client(*id, 1).await,
                    _ => registry.try_send_to_client(*id, 1),
                };
                match result {
                    Ok(()) => delivered += 1,
                    Err(SendError::UnknownClient(_) | SendError::Disconnected(_)) => {}
                    Err(SendError::Full { .. }) => panic!("queues are large enough"),
                }
            }
            delivered
        });
    }
    let delivered: u64 = join_all(tasks).await.into_iter().sum();
    assert_eq!(registry.client_count(), 0);
    assert_eq!(registry.health_snapshot().messages_delivered, delivered);
    assert_consistent(&*registry);
    drop(clients);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broadcasts_during_disconnects_clean_up_every_closed_client() {
    let registry = Arc::new(TestRegistry::new());
    let mut clients = register_many(&registry, 600);
    for (id, _) in &clients {
        registry.attach_to_session(*id, "s").expect("registered");
    }
    // A third hang up (drop the receiver), a third are unregistered, a third stay.
    let dropped: Vec<_> = clients.drain(..200).collect();
    let unregistered: Vec<ClientId> = clients.drain(..200).map(|(id, _)| id).collect();
    let mut tasks = JoinSet::new();
    for _ in 0..3 {
        let registry = Arc::clone(&registry);
        tasks.spawn(async move {
            for n in 0..200 {
                let report = registry.broadcast_to_session(&"s", n);
                assert!(report.lagging.is_empty(), "queues never fill");
                if n % 20 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
    }
    tasks.spawn(async move { drop(dropped) });
    let unregisterer = Arc::clone(&registry);
    tasks.spawn(async move {
        for id in unregistered {
            unregisterer.unregister_client(id);
        }
    });
    join_all(tasks).await;
    // One more broadcast finds any hung-up client no earlier broadcast reached.
    let last = registry.broadcast_to_session(&"s", 999);
    assert_eq!(last.delivered, 200);
    assert_eq!(registry.client_count(), 200);
    assert_eq!(registry.get_session_clients(&"s").len(), 200);
    assert_consistent(&*registry);
    for (_, rx) in &mut clients {
        let mut last_seen = None;
        while let Ok(msg) = rx.try_recv() {
            last_seen = Some(msg);
        }
        assert_eq!(last_seen, Some(999));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reconnects_leave_one_client_per_identity() {
    let registry = Arc::new(DeviceRegistry::new());
    let mut tasks = JoinSet::new();
    for task in 0..8u64 {
        let registry = Arc::clone(&registry);
        tasks.spawn(async move {
            let mut rng = Lcg(task);
            let mut receivers = Vec::new();
            for _ in 0..300 {
                let id = registry.next_client_id();
                let (tx, rx) = mpsc::channel(4);
                registry
                    .register_client_with(id, tx, Device::with_identity(rng.next(5) as u32))
                    .expect("fresh id");
                let _ = registry.attach_to_session(id, SESSIONS[rng.next(4)]);
                if rng.next(4) == 0 {
                    registry.unregister_client(id);
                }
                receivers.push(rx);
            }
            receivers
        });
    }
    let receivers: Vec<_> = join_all(tasks).await.into_iter().flatten().collect();
    assert!(
        registry.client_count() <= 5,
        "at most one live client per identity"
    );
    assert_eq!(
        receivers.iter().filter(|rx| !rx.is_closed()).count(),
        registry.client_count()
    );
    assert_consistent(&*registry);
}
