//! Socket lifecycle, connections and graceful shutdown (the server-core issue).

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use fugue_protocol::{ClientMessage, DetachReason, Role, ServerMessage};
use fugue_server::{Config, ServerError};
use fugue_tests::poll::poll;
use fugue_tests::{TestClient, TestServer, open_fds, process_exists, wait_until};
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;

async fn status_clients(client: &mut TestClient) -> u32 {
    match client
        .request(|request_id| ClientMessage::Status { request_id })
        .await
    {
        ServerMessage::Status { status, .. } => status.clients,
        other => panic!("expected Status, got {other:?}"),
    }
}

/// Waits until the server counts exactly `n` clients (the asking client included).
async fn wait_for_clients(client: &mut TestClient, n: u32) {
    let counted = poll(async || {
        let count = status_clients(client).await;
        if count == n { Ok(()) } else { Err(count) }
    })
    .await;
    if let Err(count) = counted {
        panic!("client count stuck at {count}, want {n}");
    }
}

#[tokio::test]
async fn socket_and_missing_parent_dirs_are_created_private() {
    let server = TestServer::start().await;
    let dir = server.socket.parent().unwrap();
    assert_eq!(
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let socket_mode = std::fs::metadata(&server.socket)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(socket_mode & 0o777, 0o600);
}

#[tokio::test]
async fn stale_socket_is_replaced_and_live_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fugue.sock");
    // A socket file nobody listens on: what a killed server leaves behind.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let listener = fugue_server::socket::bind(&path).expect("stale socket is cleaned up");
    match fugue_server::socket::bind(&path) {
        Err(ServerError::AlreadyRunning { path: reported }) => assert_eq!(reported, path),
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
    drop(listener);
}

#[tokio::test]
async fn unsafe_socket_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = fugue_server::socket::bind(&open.join("s.sock")).unwrap_err();
    assert!(matches!(err, ServerError::UnsafeDirectory { .. }), "{err}");
    assert!(err.to_string().contains("chmod 700"), "{err}");

    let link = dir.path().join("link");
    let target = dir.path().join("target");
    std::fs::create_dir(&target).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = fugue_server::socket::bind(&link.join("s.sock")).unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");

    if rustix::process::geteuid().is_root() {
        let theirs = dir.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
        let err = fugue_server::socket::bind(&theirs.join("s.sock")).unwrap_err();
        assert!(err.to_string().contains("owned by uid 65534"), "{err}");
    }
}

#[tokio::test]
async fn bind_error_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"").unwrap();
    let err = fugue_server::socket::bind(&file.join("s.sock")).unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
    let err = fugue_server::socket::bind(&file).unwrap_err();
    assert!(err.to_string().contains("not a socket"), "{err}");
}

#[tokio::test]
async fn clients_get_unique_ids_and_many_connect_at_once() {
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for _ in 0..120 {
        let socket = server.socket.clone();
        clients.push(tokio::spawn(async move {
            TestClient::connect(&socket, Role::Control).await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut connected = Vec::new();
    for client in clients {
        let client = client.await.unwrap();
        assert!(
            ids.insert(client.client_id),
            "duplicate id {}",
            client.client_id
        );
        connected.push(client);
    }
    let mut probe = server.client(Role::Control).await;
    assert_eq!(status_clients(&mut probe).await, 121);
    drop(connected);
    wait_for_clients(&mut probe, 1).await;
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Control).await;
    client.send(ClientMessage::Ping { nonce: 42 }).await;
    assert_eq!(client.next().await, Some(ServerMessage::Pong { nonce: 42 }));
}

#[tokio::test]
async fn graceful_shutdown_tells_clients_reaps_sessions_and_removes_socket() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Interactive).await;
    let session = client.create(Some("work"), &["sleep", "1000"]).await;
    assert!(matches!(
        client.attach("work").await,
        ServerMessage::Attached { .. }
    ));
    let socket = server.socket.clone();
    let shutdown = tokio::spawn(server.shutdown());
    let mut saw_shutdown = false;
    while let Some(msg) = client.next().await {
        if msg
            == (ServerMessage::Detached {
                reason: DetachReason::ServerShutdown,
            })
        {
            saw_shutdown = true;
        }
    }
    assert!(saw_shutdown, "client is told before the connection closes");
    shutdown.await.unwrap().expect("run returns Ok");
    assert!(!socket.exists(), "socket removed");
    wait_until("the session's program is reaped", || {
        !process_exists(session.pid)
    })
    .await;
}

#[tokio::test]
async fn server_restarts_over_its_own_stale_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("fugue.sock");
    let start = || {
        let listener = fugue_server::socket::bind(&socket).expect("bind");
        let token = tokio_util::sync::CancellationToken::new();
        let run = tokio::spawn(fugue_server::run(
            listener,
            Config::new(socket.clone()),
            token.clone(),
        ));
        (token, run)
    };
    let (token, run) = start();
    token.cancel();
    run.await.unwrap().unwrap();
    // What a server killed with SIGKILL leaves behind: a socket file nobody listens on.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let (token, run) = start();
    let mut client = TestClient::connect(&socket, Role::Control).await;
    client.send(ClientMessage::Ping { nonce: 1 }).await;
    assert_eq!(client.next().await, Some(ServerMessage::Pong { nonce: 1 }));
    token.cancel();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn rapid_connect_disconnect_leaks_no_client_or_fd() {
    let server = TestServer::start().await;
    let mut probe = server.client(Role::Control).await;
    // Warm up so lazily created runtime fds are already counted.
    drop(server.client(Role::Control).await);
    wait_for_clients(&mut probe, 1).await;
    let fds_before = open_fds();
    for i in 0..1000 {
        let client = server.client(Role::Control).await;
        if i % 2 == 0 {
            // Half of them vanish mid-frame.
            let mut framed = client.into_framed();
            framed.get_mut().write_all(&[0, 0, 0, 9, 1]).await.unwrap();
        }
    }
    wait_for_clients(&mut probe, 1).await;
    wait_until("fds return to the baseline", || {
        open_fds() <= fds_before + 2
    })
    .await;
}

// On the test's own clock (paused, advanced only while everything waits), so a loaded
// machine cannot stretch a 50 ms pause past the idle timeout.
#[tokio::test(start_paused = true)]
async fn long_running_connection_stays_served() {
    let server = TestServer::start_with(|config| {
        config.ping_interval = std::time::Duration::from_millis(20);
        config.idle_timeout = std::time::Duration::from_millis(400);
    })
    .await;
    let mut client = server.client(Role::Control).await;
    // Answering the server's pings (which `next` does) for many idle periods keeps us in.
    let started = tokio::time::Instant::now();
    let mut pings = 0;
    while started.elapsed() < std::time::Duration::from_millis(1500) {
        client.send(ClientMessage::Ping { nonce: pings }).await;
        assert_eq!(
            client.next().await,
            Some(ServerMessage::Pong { nonce: pings })
        );
        pings += 1;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status_clients(&mut client).await, 1);
}

#[tokio::test]
async fn client_limit_answers_server_busy() {
    let server = TestServer::start_with(|config| config.max_clients = 2).await;
    let _a = server.client(Role::Control).await;
    let _b = server.client(Role::Control).await;
    let mut third = TestClient::connect_raw(&server.socket).await;
    match third.next().await {
        Some(Ok(ServerMessage::Error { code, .. })) => {
            assert_eq!(code, fugue_protocol::ErrorCode::ServerBusy)
        }
        other => panic!("expected ServerBusy, got {other:?}"),
    }
    assert!(third.next().await.is_none(), "then closed");
    let _ = third.send(ClientMessage::Ping { nonce: 0 }).await;
}

#[tokio::test]
async fn sigusr1_recreates_a_deleted_socket() {
    let server = TestServer::start().await;
    // A round trip proves the accept loop (and its SIGUSR1 handler) is running; before
    // that the signal's default action would end the test process.
    let mut first = server.client(Role::Control).await;
    first.send(ClientMessage::Ping { nonce: 4 }).await;
    assert_eq!(first.next().await, Some(ServerMessage::Pong { nonce: 4 }));
    std::fs::remove_file(&server.socket).unwrap();
    rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::USR1)
        .unwrap();
    wait_until("the socket is re-created", || server.socket.exists()).await;
    let mut client = server.client(Role::Control).await;
    client.send(ClientMessage::Ping { nonce: 5 }).await;
    assert_eq!(client.next().await, Some(ServerMessage::Pong { nonce: 5 }));
    let inode = std::fs::metadata(&server.socket).unwrap().ino();
    assert!(inode > 0);
}
