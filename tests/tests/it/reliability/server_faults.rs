//! Server faults: the server killed with SIGKILL or stopped with SIGTERM while clients are
//! attached, a program that ignores SIGHUP at shutdown, and the server running out of file
//! descriptors.

use std::time::Duration;

use bytes::Bytes;
use fugue_protocol::{
    ClientMessage, DetachReason, ErrorCode, PROTOCOL_VERSION, Role, ServerMessage,
};
use fugue_tests::process::{self, ServerOptions, ServerProcess};
use fugue_tests::tmux::{Fugue, assert_success};
use fugue_tests::{EVENT_TIMEOUT, TestClient, process_exists, wait_until};
use futures_util::{SinkExt, StreamExt};
use rustix::process::Signal;

use super::client_faults::attached_in_terminal;
use super::{ping, shell_options, temp_socket, wait_for_status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_is_noticed_at_once_and_the_next_start_replaces_its_socket() {
    // The `fugue` client's side (message, terminal restored, exit status 3) is
    // `cli::killed_server_ends_the_attach_with_a_message_and_restores_the_terminal`.
    let world = Fugue::new();
    let server = ServerProcess::start(world.socket());
    let mut client = TestClient::connect(world.socket(), Role::Interactive).await;
    let session = client.create(Some("orphan"), &["cat"]).await;
    assert!(matches!(
        client.attach("orphan").await,
        ServerMessage::Attached { .. }
    ));
    server.signal(Signal::KILL);
    loop {
        match client.next().await {
            None => break,
            Some(ServerMessage::Ping { .. } | ServerMessage::Output { .. }) => {}
            Some(other) => panic!("expected the connection to drop, got {other:?}"),
        }
    }
    drop(server);
    assert!(world.socket().exists(), "a killed server leaves its socket");
    // The program lost its terminal with the server: the kernel hangs it up.
    wait_until("the orphaned session's program ends", || {
        !process::is_alive(session.pid)
    })
    .await;

    // The next server start cleans the stale socket and serves.
    let restarted = ServerProcess::start(world.socket());
    let mut client = TestClient::connect(world.socket(), Role::Control).await;
    ping(&mut client, 1).await;
    drop(client);
    drop(restarted);
    // And so does the next `fugue`, which starts a server of its own.
    assert!(
        world.socket().exists(),
        "the second killed server left its socket"
    );
    let output = world.run(&["new", "-d", "-s", "again", "--", "cat"]);
    assert_success(&output, "fugue new -d over a stale socket");
    assert!(
        world.server_pid().is_some(),
        "the auto-started server answers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_attached_clients_restores_terminals_and_exits_zero() {
    let world = Fugue::new();
    let mut server = ServerProcess::start_with(world.socket(), shell_options());
    let output = world.run(&["new", "-d", "-s", "work"]);
    assert_success(&output, "fugue new -d");
    let term = world.terminal();
    let before = term.stty();
    let mut probe = TestClient::connect(world.socket(), Role::Control).await;
    let job = term.start_job("fugue attach work");
    attached_in_terminal(&mut probe, &term).await;
    drop(probe);
    let mut viewer = TestClient::connect(world.socket(), Role::ReadOnly).await;
    let program = match viewer.attach("work").await {
        ServerMessage::Attached { session, .. } => session.pid,
        other => panic!("expected Attached, got {other:?}"),
    };

    server.signal(Signal::TERM);
    let mut told = false;
    while let Some(msg) = viewer.next().await {
        told |= msg
            == ServerMessage::Detached {
                reason: DetachReason::ServerShutdown,
            };
    }
    assert!(
        told,
        "the protocol client is told before the connection closes"
    );
    term.wait_for_line("[fugue-server shut down]");
    assert_eq!(
        term.exit_code(job),
        3,
        "fugue exits with the server-gone status"
    );
    assert_eq!(term.stty(), before, "the terminal is restored");
    let status = server.wait_exit(EVENT_TIMEOUT);
    assert_eq!(status.code(), Some(0), "{status}\n{}", server.log_tail());
    assert!(!world.socket().exists(), "the socket is removed");
    assert!(!process_exists(program), "the session's program is reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_a_program_that_ignores_sighup_and_leaves_no_process() {
    // `fugue kill` of such a program: `sessions::kill_ends_even_a_program_that_ignores_sighup`.
    let (_dir, socket) = temp_socket();
    let mut server = ServerProcess::start(&socket);
    let mut client = TestClient::connect(&socket, Role::Control).await;
    // The leader and a background child both ignore SIGHUP (an ignored signal stays
    // ignored across exec).
    let command = "trap '' HUP; sleep 1000 & exec sleep 1001";
    let session = client
        .create(Some("stubborn"), &["sh", "-c", command])
        .await;
    wait_until("the program has started its child", || {
        process::children(session.pid).len() == 1
    })
    .await;
    let child = process::children(session.pid)[0];

    server.signal(Signal::TERM);
    assert!(
        client
            .next()
            .await
            .is_none_or(|msg| matches!(msg, ServerMessage::Detached { .. })),
        "the client is told or closed"
    );
    let status = server.wait_exit(EVENT_TIMEOUT);
    assert_eq!(status.code(), Some(0), "{status}\n{}", server.log_tail());
    // The leader was the server's child: reaped, not a zombie. The background child was
    // the leader's, so after SIGKILL it is init's to reap; it must not be running.
    assert_eq!(
        process::state(session.pid),
        None,
        "the program was not reaped"
    );
    wait_until("the program's child is dead", || !process::is_alive(child)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fd_exhaustion_keeps_clients_served_without_spinning_and_accepting_resumes() {
    const MAX_FDS: usize = 64;
    let (_dir, socket) = temp_socket();
    let options = ServerOptions {
        max_fds: Some(MAX_FDS as u64),
        ..ServerOptions::default()
    };
    let server = ServerProcess::start_with(&socket, options);
    let mut existing = TestClient::connect(&socket, Role::Control).await;
    // Fill the server's descriptor table with welcomed clients. (Descriptors it inherited
    // may sit above the limit; only the numbers below it can be handed out.)
    let mut held = Vec::new();
    while server
        .fd_numbers()
        .iter()
        .filter(|&&fd| fd < MAX_FDS)
        .count()
        < MAX_FDS
    {
        assert!(
            held.len() < MAX_FDS,
            "the server never ran out of descriptors"
        );
        held.push(TestClient::connect(&socket, Role::Control).await);
    }
    // Connections beyond the limit wait in the backlog, their Hello already sent.
    let mut waiting = Vec::new();
    for _ in 0..5 {
        let mut framed = TestClient::connect_raw(&socket).await;
        framed.send(hello()).await.expect("send hello");
        waiting.push(framed);
    }
    let cpu_before = server.cpu_time();
    // Observe the exhausted server for a while: existing clients are served throughout, and
    // nobody waiting gets in.
    let observed = tokio::time::Instant::now();
    let mut nonce = 0;
    while observed.elapsed() < Duration::from_secs(3) {
        nonce += 1;
        ping(&mut existing, nonce).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ping(held.last_mut().expect("held"), 99).await;
    let cpu_used = server.cpu_time().saturating_sub(cpu_before);
    assert!(
        cpu_used < Duration::from_millis(600),
        "the server used {cpu_used:?} of CPU in 3 s while out of descriptors: it spins"
    );
    for framed in &mut waiting {
        let early = tokio::time::timeout(Duration::from_millis(10), framed.next()).await;
        assert!(
            early.is_err(),
            "a connection beyond the limit was served: {early:?}"
        );
    }

    // Free some descriptors: the waiting connections are accepted and welcomed.
    held.truncate(held.len() - 10);
    for framed in &mut waiting {
        match tokio::time::timeout(EVENT_TIMEOUT, framed.next()).await {
            Ok(Some(Ok(ServerMessage::Welcome { .. }))) => {}
            other => panic!("a waiting client was not accepted once fds freed: {other:?}"),
        }
    }
    let mut late = TestClient::connect(&socket, Role::Control).await;
    ping(&mut late, 7).await;
    let expected = 1 + held.len() + waiting.len() + 1;
    wait_for_status(&mut late, "every client is counted", |s| {
        s.clients as usize == expected
    })
    .await;
    assert!(
        server.log().contains("accept failed"),
        "{}",
        server.log_tail()
    );
    let refused = ClientMessage::Input {
        data: Bytes::from_static(b"x"),
    };
    // An error reply is still possible while descriptors are scarce.
    late.send(refused).await;
    assert!(matches!(
        late.next().await,
        Some(ServerMessage::Error {
            code: ErrorCode::NotAttached,
            ..
        })
    ));
}

fn hello() -> ClientMessage {
    ClientMessage::Hello {
        protocol_version: PROTOCOL_VERSION,
        client_name: "fugue-tests".into(),
        identity: None,
        role: Role::Control,
    }
}
