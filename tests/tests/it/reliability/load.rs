//! Load: a thousand clients at once with a hundred attached to one session under output,
//! and ten thousand connect/handshake/disconnect cycles against a real server process.

use std::time::Duration;

use fugue_protocol::{ClientMessage, Role, ServerMessage};
use fugue_tests::process::{ServerProcess, raise_fd_limit};
use fugue_tests::{TestClient, TestServer, contains, wait_until};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;

use super::{ping, seq_text, wait_for_status};

/// Clients connected at once.
const N_CLIENTS: usize = 1000;
/// Of them, attached to the one session.
const N_ATTACHED: usize = 100;
/// Lines the session prints: about 110 KB, which a hundred clients take without lagging.
const LINES: u64 = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_at_once_and_a_hundred_attached_all_get_every_byte() {
    // Each client is two descriptors here: the server runs in this process.
    let limit = raise_fd_limit();
    assert!(
        limit >= 2 * N_CLIENTS as u64 + 200,
        "RLIMIT_NOFILE hard limit {limit} is too low for {N_CLIENTS} clients"
    );
    let server = TestServer::start().await;
    let mut owner = server.client(Role::Control).await;
    let command = format!("read go; seq 1 {LINES}; echo LOAD-DONE; read end");
    owner.create(Some("load"), &["sh", "-c", &command]).await;

    let mut idle = JoinSet::new();
    for _ in 0..N_CLIENTS - N_ATTACHED - 1 {
        let socket = server.socket.clone();
        idle.spawn(async move { TestClient::connect(&socket, Role::Control).await });
    }
    let mut readers = JoinSet::new();
    for _ in 0..N_ATTACHED {
        let socket = server.socket.clone();
        readers.spawn(async move {
            let mut client = TestClient::connect(&socket, Role::ReadOnly).await;
            assert!(matches!(
                client.attach("load").await,
                ServerMessage::Attached { .. }
            ));
            let collected = client
                .output_until(|bytes| contains(bytes, b"LOAD-DONE\r\n"))
                .await;
            (collected, client)
        });
    }
    let idle = idle.join_all().await;
    let connected = wait_for_status(&mut owner, "all clients are connected", |s| {
        s.clients as usize == N_CLIENTS && s.attached_clients as usize == N_ATTACHED
    })
    .await;
    owner
        .request(|request_id| ClientMessage::SendInput {
            request_id,
            session: "load".into(),
            data: bytes::Bytes::from_static(b"go\r"),
        })
        .await;

    let expected = format!("go\r\n{}LOAD-DONE\r\n", seq_text(1, LINES));
    let mut attached = Vec::new();
    while let Some(joined) = readers.join_next().await {
        let (collected, client) = joined.expect("reader");
        attached.push(client);
        assert!(
            collected.bytes == expected.as_bytes(),
            "a client got {} bytes, not the {} expected, or out of order",
            collected.bytes.len(),
            expected.len()
        );
        assert!(
            !collected
                .other
                .iter()
                .any(|msg| matches!(msg, ServerMessage::Resync { .. })),
            "a client was resynchronised instead of getting every byte"
        );
    }
    assert_eq!(attached.len(), N_ATTACHED);
    let after = super::status(&mut owner).await;
    assert_eq!(
        after.messages_dropped, connected.messages_dropped,
        "no output was dropped"
    );
    assert_eq!(
        after.clients as usize, N_CLIENTS,
        "everyone is still connected"
    );
    drop(idle);
    wait_for_status(&mut owner, "the idle clients are gone", |s| {
        s.clients as usize == 1 + N_ATTACHED
    })
    .await;
}

/// Cycles in the main run, and in the warm-up that lets the allocator reach its steady size.
const CYCLES: usize = 10_000;
const WARM_UP: usize = 1_000;
/// Connections cycling at once.
const CONCURRENCY: usize = 4;
/// RSS the server may keep above its warmed-up baseline.
const RSS_TOLERANCE_KIB: u64 = 2 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connect_cycles_leave_no_client_fd_or_memory_behind() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run").join("fugue.sock");
    let server = ServerProcess::start(&socket);
    let mut probe = TestClient::connect(&socket, Role::Control).await;
    cycle(&socket, WARM_UP).await;
    wait_for_status(&mut probe, "the warm-up clients are gone", |s| {
        s.clients == 1
    })
    .await;
    let fds_before = server.fd_count();
    let rss_before = server.rss_kib();

    cycle(&socket, CYCLES).await;
    wait_for_status(&mut probe, "every cycled client is unregistered", |s| {
        s.clients == 1 && s.attached_clients == 0
    })
    .await;
    ping(&mut probe, 1).await;
    wait_until("the server's fds are back to the baseline", || {
        server.fd_count() == fds_before
    })
    .await;
    let rss_after = server.rss_kib();
    eprintln!(
        "after {CYCLES} cycles: fds {fds_before} -> {}, RSS {rss_before} -> {rss_after} KiB",
        server.fd_count()
    );
    assert!(
        rss_after <= rss_before + RSS_TOLERANCE_KIB,
        "server RSS grew from {rss_before} KiB to {rss_after} KiB over {CYCLES} cycles"
    );
}

/// `n` connect/handshake/disconnect cycles, [`CONCURRENCY`] at a time. Every tenth asks
/// for a status first; every seventh hangs up in the middle of a frame.
async fn cycle(socket: &std::path::Path, n: usize) {
    let mut workers = JoinSet::new();
    for worker in 0..CONCURRENCY {
        let socket = socket.to_owned();
        workers.spawn(async move {
            for i in (worker..n).step_by(CONCURRENCY) {
                let mut client = TestClient::connect(&socket, Role::Control).await;
                if i % 10 == 0 {
                    super::status(&mut client).await;
                }
                if i % 7 == 0 {
                    let mut framed = client.into_framed();
                    framed.get_mut().write_all(&[0, 0, 0, 9, 1]).await.unwrap();
                }
            }
        });
    }
    let deadline = Duration::from_secs(120);
    tokio::time::timeout(deadline, workers.join_all())
        .await
        .expect("the cycles finish");
}
