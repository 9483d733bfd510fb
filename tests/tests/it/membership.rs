//! Joining and leaving a session's stream: the session task alone changes who is attached,
//! in order with its output, so a client sees nothing of a session after its `Detached`.

use std::time::Duration;

use fugue_protocol::{
    CaptureFormat, ClientMessage, DetachReason, ErrorCode, ExitStatus, Role, ServerMessage,
    TermSize,
};
use fugue_tests::{TestClient, TestServer, input, process_exists, wait_until};
use uuid::Uuid;

use crate::reliability::status;

/// Whether `msg` is output of `session`.
fn is_output_of(msg: &ServerMessage, session: Uuid) -> bool {
    matches!(msg, ServerMessage::Output { session: of, .. } if *of == session)
}

/// Reads until `Detached`; returns it and whatever came before it, output excepted.
async fn until_detached(client: &mut TestClient) -> (DetachReason, Vec<ServerMessage>) {
    let mut before = Vec::new();
    loop {
        match client.next().await.expect("open until detached") {
            ServerMessage::Detached { reason } => return (reason, before),
            ServerMessage::Output { .. } => {}
            other => before.push(other),
        }
    }
}

#[tokio::test]
async fn after_detached_no_output_of_the_session_reaches_the_client() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Interactive).await;
    let flood = client
        .create(
            Some("flood"),
            &["sh", "-c", "while :; do echo flooding; done"],
        )
        .await;
    client.create(Some("quiet"), &["cat"]).await;
    client.attach("flood").await;
    while !is_output_of(&client.next().await.expect("open"), flood.id) {}
    // Output piles up in the client's queue while it reads nothing (the session paces
    // itself to the queue): what the detach must come after.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let request_id = client.request_id();
    client.send(ClientMessage::Detach { request_id }).await;
    let (reason, _) = until_detached(&mut client).await;
    assert_eq!(reason, DetachReason::Requested);
    // Joining another session: its `Attached` comes through the same queue, so any output
    // of the first session queued after the `Detached` shows before it, or after it until
    // the typed line echoes.
    let request_id = client.request_id();
    client
        .send(ClientMessage::Attach {
            request_id,
            session: "quiet".into(),
            size: TermSize::DEFAULT,
            resume_from: None,
        })
        .await;
    let mut attached = false;
    let mut echoed = Vec::new();
    while !fugue_tests::contains(&echoed, b"typed") {
        let msg = client.next().await.expect("open");
        assert!(
            !is_output_of(&msg, flood.id),
            "output of the left session after its Detached"
        );
        match msg {
            ServerMessage::Attached { .. } if !attached => {
                attached = true;
                client.send(input("typed\r")).await;
            }
            ServerMessage::Output { data, .. } => echoed.extend_from_slice(&data),
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut control = server.client(Role::Control).await;
    let listed = list_attached(&mut control).await;
    assert_eq!(listed, [("flood".to_owned(), 0), ("quiet".to_owned(), 1)]);
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_detach_while_the_program_floods_and_exits_is_answered_once() {
    let server = TestServer::start().await;
    for round in 0..5 {
        let mut client = server.client(Role::Interactive).await;
        let name = format!("burst-{round}");
        let command = "read go; head -c 2000000 /dev/zero | tr '\\000' x; exit 3";
        let session = client.create(Some(&name), &["sh", "-c", command]).await;
        client.attach(&name).await;
        client.send(input("\r")).await;
        // The detach races the flood and the exit: either ends the attachment, and the
        // client hears of it exactly once, with nothing of the session after it.
        let request_id = client.request_id();
        client.send(ClientMessage::Detach { request_id }).await;
        let (reason, before) = until_detached(&mut client).await;
        match reason {
            DetachReason::Requested => assert!(before.is_empty(), "{before:?}"),
            DetachReason::SessionEnded => assert_eq!(
                before,
                [ServerMessage::SessionExited {
                    session: name.clone(),
                    status: ExitStatus::Code { code: 3 },
                }]
            ),
            other => panic!("detached because {other:?}"),
        }
        // The connection still serves requests, and hears nothing more of the session.
        let request_id = client.request_id();
        client
            .send(ClientMessage::ListSessions { request_id })
            .await;
        let reply = client.next().await.expect("open");
        assert!(matches!(reply, ServerMessage::Sessions { .. }), "{reply:?}");
        wait_until("the program is reaped", || !process_exists(session.pid)).await;
        let mut control = server.client(Role::Control).await;
        assert_eq!(status(&mut control).await.attached_clients, 0);
    }
    server.shutdown().await.expect("clean shutdown");
}

/// Each session's name and attached-client count, oldest first.
async fn list_attached(control: &mut TestClient) -> Vec<(String, u32)> {
    match control
        .request(|request_id| ClientMessage::ListSessions { request_id })
        .await
    {
        ServerMessage::Sessions { sessions, .. } => sessions
            .into_iter()
            .map(|info| (info.name, info.attached_clients))
            .collect(),
        other => panic!("expected Sessions, got {other:?}"),
    }
}

#[tokio::test]
async fn input_right_after_create_and_attach_reaches_the_program() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Interactive).await;
    let request_id = client.request_id();
    let spec = fugue_tests::spec(Some("typed"), &["cat"]);
    client
        .send(ClientMessage::CreateSession {
            request_id,
            spec,
            attach: true,
        })
        .await;
    // Typed before the `Attached` reply is read: it follows the request on the socket.
    client.send(input("early bird\r")).await;
    let seen = client
        .output_until(|bytes| fugue_tests::contains(bytes, b"early bird\r\nearly bird"))
        .await;
    assert!(
        matches!(seen.other.first(), Some(ServerMessage::Attached { .. })),
        "{:?}",
        seen.other
    );
    assert!(
        !seen
            .other
            .iter()
            .any(|msg| matches!(msg, ServerMessage::Error { .. })),
        "{:?}",
        seen.other
    );
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_refused_attach_leaves_the_client_in_its_session() {
    // Resuming the printer's stream from its start takes 8 pieces of replayed output (2 MB
    // in pieces of 256 KiB) and the `Attached`: more than a queue of 4 holds.
    let server = TestServer::start_with(|config| config.client_queue_len = 4).await;
    let mut client = server.client(Role::Interactive).await;
    let mut control = server.client(Role::Control).await;
    let print = "head -c 2000000 /dev/zero | tr '\\000' x; echo; echo PRINTED; exec cat";
    control.create(Some("printer"), &["sh", "-c", print]).await;
    wait_for_capture(&mut control, "printer", "PRINTED").await;
    client.create(Some("home"), &["cat"]).await;
    client.attach("home").await;
    let request_id = client.request_id();
    client
        .send(ClientMessage::Attach {
            request_id,
            session: "printer".into(),
            size: TermSize::DEFAULT,
            resume_from: Some(0),
        })
        .await;
    match client.next().await.expect("open") {
        ServerMessage::Error {
            request_id: Some(id),
            code,
            ..
        } if id == request_id => assert_eq!(code, ErrorCode::Internal),
        other => panic!("expected the attach to be refused, got {other:?}"),
    }
    assert_eq!(
        list_attached(&mut control).await,
        [("printer".to_owned(), 0), ("home".to_owned(), 1)],
        "still a member of its session, not of the other"
    );
    // And still the home session's client: its typing reaches `cat`, which echoes it.
    client.send(input("still home\r")).await;
    let seen = client
        .output_until(|bytes| fugue_tests::contains(bytes, b"still home\r\nstill home"))
        .await;
    assert!(seen.other.is_empty(), "{:?}", seen.other);
    server.shutdown().await.expect("clean shutdown");
}

/// Polls captures of `session` until its screen shows `needle`.
async fn wait_for_capture(control: &mut TestClient, session: &str, needle: &str) {
    let shown = fugue_tests::poll::poll(async || {
        let reply = control
            .request(|request_id| ClientMessage::Capture {
                request_id,
                session: session.to_owned(),
                format: CaptureFormat::Plain,
                scrollback_lines: 0,
            })
            .await;
        match reply {
            ServerMessage::Captured { text, .. } if text.contains(needle) => Ok(()),
            other => Err(other),
        }
    })
    .await;
    if let Err(last) = shown {
        panic!("{needle:?} never showed in {session}: {last:?}");
    }
}
