//! Broadcast cost of the registry against two baselines: a naive `RwLock<HashMap>`
//! registry (the seed's design, lock held while sending) and `tokio::sync::broadcast`.
//!
//! Run with `cargo bench -p fugue-registry`. Groups:
//! - `broadcast_send`: one broadcast to a session of n clients (plus `bare_senders`, a plain
//!   `Vec` of senders: the floor set by tokio's channel); only the broadcast calls are
//!   timed, in batches of [`BATCH`], and the receivers are drained between batches outside
//!   the timed region (queues hold 1024, so none ever fills). tokio's broadcast channel is
//!   left out here: its send writes one slot whatever n is, and the per-receiver work happens
//!   in `recv`, so a send-only figure would not be comparable.
//! - `broadcast_delivered`: the broadcast plus every receiver taking its copy, all timed on
//!   one thread; the fair comparison with tokio's broadcast channel.
//! - `contention_broadcast`: 4 threads each broadcast to their own session of 100 clients
//!   (and drain them) while a fifth thread attaches and detaches 64 other clients to 8 other
//!   sessions; measures the broadcasters' deliveries.
//! - `contention_churn`: the same scene, measuring the attach+detach pairs of the fifth
//!   thread instead.
//! - `contention_broadcast_fit` and `contention_churn_fit`: the same two scenes with one
//!   broadcaster fewer than the machine has cores (at least one), so every thread has a core
//!   and a thread blocked on a lock leaves its core idle. With 5 threads on 2 cores a blocked
//!   broadcaster hands its core to another runnable one, which hides lock waits.
//!
//! Throughput is set to the number of deliveries per iteration, so criterion's `thrpt` line
//! is deliveries per second and `time / n` is the cost of one delivery.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use baselines::{BareSenders, RwLockRegistry};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fugue_registry::{ClientId, Registry};
use tokio::sync::{broadcast, mpsc};

/// A shared output chunk, as a terminal server would broadcast (cloning is a refcount bump).
type Msg = Arc<[u8]>;

// In a directory (`baselines/mod.rs`) so cargo does not take it for a bench target.
mod baselines;

const SIZES: [usize; 3] = [1, 100, 1000];
const BATCH: u64 = 256;
const CAPACITY: usize = 1024;

/// The operations both registries offer the benchmark.
trait Broadcaster: Sync {
    fn register(&self, id: ClientId, tx: mpsc::Sender<Msg>);
    fn attach(&self, id: ClientId, session: u64);
    fn detach(&self, id: ClientId);
    fn broadcast(&self, session: u64, msg: &Msg) -> usize;
}

impl Broadcaster for Registry<u64, Msg> {
    fn register(&self, id: ClientId, tx: mpsc::Sender<Msg>) {
        check(self.register_client(id, tx));
    }
    fn attach(&self, id: ClientId, session: u64) {
        check(self.attach_to_session(id, session));
    }
    fn detach(&self, id: ClientId) {
        self.detach_from_session(id);
    }
    fn broadcast(&self, session: u64, msg: &Msg) -> usize {
        self.broadcast_to_session(&session, Arc::clone(msg))
            .delivered
    }
}

fn check<T, E: std::fmt::Debug>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("benchmark setup failed: {err:?}"),
    }
}

fn message() -> Msg {
    Arc::from(&[b'x'; 64][..])
}

/// Registers `n` clients attached to `session`, ids starting at `first`.
fn populate(
    registry: &impl Broadcaster,
    first: u64,
    n: usize,
    session: u64,
) -> Vec<mpsc::Receiver<Msg>> {
    (0..n as u64)
        .map(|k| {
            let id = ClientId::new(first + k);
            let (tx, rx) = mpsc::channel(CAPACITY);
            registry.register(id, tx);
            registry.attach(id, session);
            rx
        })
        .collect()
}

fn drain(receivers: &mut [mpsc::Receiver<Msg>]) {
    for rx in receivers {
        while rx.try_recv().is_ok() {}
    }
}

/// Times `iters` broadcasts, in batches, draining between batches outside the clock.
fn time_sends(
    registry: &impl Broadcaster,
    receivers: &mut [mpsc::Receiver<Msg>],
    iters: u64,
) -> Duration {
    let msg = message();
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let batch = left.min(BATCH);
        let start = Instant::now();
        for _ in 0..batch {
            black_box(registry.broadcast(0, &msg));
        }
        total += start.elapsed();
        drain(receivers);
        left -= batch;
    }
    total
}

fn broadcast_send(c: &mut Criterion) {
    let mut group = c.benchmark_group("broadcast_send");
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        let registry = Registry::<u64, Msg>::new();
        let mut receivers = populate(&registry, 1, n, 0);
        group.bench_function(BenchmarkId::new("registry", n), |b| {
            b.iter_custom(|iters| time_sends(&registry, &mut receivers, iters));
        });
        let baseline = RwLockRegistry::default();
        let mut receivers = populate(&baseline, 1, n, 0);
        group.bench_function(BenchmarkId::new("rwlock_hashmap", n), |b| {
            b.iter_custom(|iters| time_sends(&baseline, &mut receivers, iters));
        });
        let floor = BareSenders::default();
        let mut receivers = populate(&floor, 1, n, 0);
        group.bench_function(BenchmarkId::new("bare_senders", n), |b| {
            b.iter_custom(|iters| time_sends(&floor, &mut receivers, iters));
        });
    }
    group.finish();
}

fn broadcast_delivered(c: &mut Criterion) {
    let mut group = c.benchmark_group("broadcast_delivered");
    let msg = message();
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        let registry = Registry::<u64, Msg>::new();
        let mut receivers = populate(&registry, 1, n, 0);
        group.bench_function(BenchmarkId::new("registry", n), |b| {
            b.iter(|| {
                black_box(registry.broadcast(0, &msg));
                drain(&mut receivers);
            });
        });
        let baseline = RwLockRegistry::default();
        let mut receivers = populate(&baseline, 1, n, 0);
        group.bench_function(BenchmarkId::new("rwlock_hashmap", n), |b| {
            b.iter(|| {
                black_box(baseline.broadcast(0, &msg));
                drain(&mut receivers);
            });
        });
        let (tx, _) = broadcast::channel::<Msg>(16);
        let mut receivers: Vec<_> = (0..n).map(|_| tx.subscribe()).collect();
        group.bench_function(BenchmarkId::new("tokio_broadcast", n), |b| {
            b.iter(|| {
                black_box(tx.send(Arc::clone(&msg)).ok());
                for rx in &mut receivers {
                    while rx.try_recv().is_ok() {}
                }
            });
        });
    }
    group.finish();
}

const BROADCASTERS: u64 = 4;
const MEMBERS: usize = 100;
const CHURNERS: u64 = 64;

/// 4 threads broadcast `iters` times each (draining their receivers after each broadcast)
/// while one thread attaches and detaches other clients; returns the broadcasters' wall time.
fn time_contended(
    registry: &impl Broadcaster,
    receivers: &[Mutex<Vec<mpsc::Receiver<Msg>>>],
    iters: u64,
) -> Duration {
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        scope.spawn(|| {
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                for k in 0..CHURNERS {
                    registry.attach(ClientId::new(1_000_000 + k), 100 + (k + round) % 8);
                }
                for k in 0..CHURNERS {
                    registry.detach(ClientId::new(1_000_000 + k));
                }
                round += 1;
            }
        });
        let start = Instant::now();
        let workers: Vec<_> = (0..receivers.len() as u64)
            .map(|session| {
                let receivers = &receivers[session as usize];
                scope.spawn(move || {
                    let msg = message();
                    let mut receivers = receivers
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    for _ in 0..iters {
                        black_box(registry.broadcast(session, &msg));
                        drain(&mut receivers);
                    }
                })
            })
            .collect();
        for worker in workers {
            check(worker.join().map_err(|_| "broadcaster panicked"));
        }
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        elapsed
    })
}

/// Registers the churned clients (returned receivers only keep them open) and the
/// broadcasters' sessions.
type Contended = (
    Vec<Mutex<Vec<mpsc::Receiver<Msg>>>>,
    Vec<mpsc::Receiver<Msg>>,
);

fn contended_setup(registry: &impl Broadcaster, broadcasters: u64) -> Contended {
    let churned = (0..CHURNERS)
        .map(|k| {
            let (tx, rx) = mpsc::channel(CAPACITY);
            registry.register(ClientId::new(1_000_000 + k), tx);
            rx
        })
        .collect();
    let sessions = (0..broadcasters)
        .map(|session| {
            Mutex::new(populate(
                registry,
                1 + session * MEMBERS as u64,
                MEMBERS,
                session,
            ))
        })
        .collect();
    (sessions, churned)
}

/// The other side of the same scene: times `iters` attach+detach pairs of the churned
/// clients while the 4 broadcaster threads run flat out.
fn time_churn(
    registry: &impl Broadcaster,
    receivers: &[Mutex<Vec<mpsc::Receiver<Msg>>>],
    iters: u64,
) -> Duration {
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        for (session, receivers) in (0..).zip(receivers) {
            let stop = &stop;
            scope.spawn(move || {
                let msg = message();
                let mut receivers = receivers
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                while !stop.load(Ordering::Relaxed) {
                    black_box(registry.broadcast(session, &msg));
                    drain(&mut receivers);
                }
            });
        }
        let start = Instant::now();
        for n in 0..iters {
            let id = ClientId::new(1_000_000 + n % CHURNERS);
            registry.attach(id, 100 + n % 8);
            registry.detach(id);
        }
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        elapsed
    })
}

fn contention(c: &mut Criterion) {
    contended_scene(c, "", BROADCASTERS);
    contended_scene(c, "_fit", fitting_broadcasters());
}

/// Broadcasters that leave one core for the churning thread (at least one): the scene where
/// a broadcaster that blocks on a lock leaves a core idle instead of handing it to another
/// runnable thread.
fn fitting_broadcasters() -> u64 {
    let cores = thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    (cores as u64).saturating_sub(1).max(1)
}

/// Runs the contended scene with `broadcasters` threads for both registries, as two groups:
/// `contention_broadcast{suffix}` (the broadcasters' deliveries) and
/// `contention_churn{suffix}` (the churning thread's attach+detach pairs).
fn contended_scene(c: &mut Criterion, suffix: &str, broadcasters: u64) {
    let registry = Registry::<u64, Msg>::new();
    let (registry_receivers, _churned) = contended_setup(&registry, broadcasters);
    let baseline = RwLockRegistry::default();
    let (baseline_receivers, _churned) = contended_setup(&baseline, broadcasters);

    let mut group = c.benchmark_group(format!("contention_broadcast{suffix}"));
    group.throughput(Throughput::Elements(broadcasters * MEMBERS as u64));
    group.bench_function("registry", |b| {
        b.iter_custom(|iters| time_contended(&registry, &registry_receivers, iters));
    });
    group.bench_function("rwlock_hashmap", |b| {
        b.iter_custom(|iters| time_contended(&baseline, &baseline_receivers, iters));
    });
    group.finish();

    let mut group = c.benchmark_group(format!("contention_churn{suffix}"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("registry", |b| {
        b.iter_custom(|iters| time_churn(&registry, &registry_receivers, iters));
    });
    group.bench_function("rwlock_hashmap", |b| {
        b.iter_custom(|iters| time_churn(&baseline, &baseline_receivers, iters));
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = broadcast_send, broadcast_delivered, contention
}
criterion_main!(benches);
