//! Library tests against a scripted fake server on a real Unix socket.

// Helpers outside `#[test]` functions panic on purpose when the fixture breaks.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use fugue_client::{
    CaptureFormat, Client, ClientError, ConnectOptions, DetachReason, ErrorCode, Event, Events,
    TermSize,
};
use fugue_protocol::{ClientMessage, PROTOCOL_VERSION, ServerCodec, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::time::timeout;
use tokio_util::codec::Framed;
use uuid::Uuid;

type ServerSide = Framed<UnixStream, ServerCodec>;

const LIMIT: Duration = Duration::from_secs(5);

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    listener: UnixListener,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fugue.sock");
    let listener = UnixListener::bind(&path).unwrap();
    Fixture {
        _dir: dir,
        path,
        listener,
    }
}

/// Accepts one client and completes its handshake.
async fn accept(listener: &UnixListener) -> ServerSide {
    let (stream, _) = listener.accept().await.unwrap();
    let mut framed = Framed::new(stream, ServerCodec::new());
    let hello = framed.next().await.unwrap().unwrap();
    assert!(
        matches!(hello, ClientMessage::Hello { protocol_version, .. } if protocol_version == PROTOCOL_VERSION)
    );
    framed
        .send(ServerMessage::Welcome {
            protocol_version: PROTOCOL_VERSION,
            server_version: "test".to_owned(),
            client_id: 7,
        })
        .await
        .unwrap();
    framed
}

async fn connect(fixture: &Fixture) -> (Client, Events, ServerSide) {
    let options = ConnectOptions::new(&fixture.path);
    let (connected, server) = tokio::join!(Client::connect(&options), accept(&fixture.listener));
    let (client, events) = connected.unwrap();
    (client, events, server)
}

async fn next(server: &mut ServerSide) -> ClientMessage {
    timeout(LIMIT, server.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

fn request_id(msg: &ClientMessage) -> u32 {
    match msg {
        ClientMessage::ListSessions { request_id }
        | ClientMessage::Status { request_id }
        | ClientMessage::KillSession { request_id, .. }
        | ClientMessage::Capture { request_id, .. }
        | ClientMessage::Attach { request_id, .. }
        | ClientMessage::Detach { request_id } => *request_id,
        other => panic!("not a request: {other:?}"),
    }
}

#[tokio::test]
async fn concurrent_requests_get_their_own_replies_in_any_order() {
    let fixture = fixture();
    let (client, _events, mut server) = connect(&fixture).await;
    assert_eq!(client.server_version(), "test");
    let server_task = tokio::spawn(async move {
        let first = next(&mut server).await;
        let second = next(&mut server).await;
        // Answer in reverse order.
        for msg in [second, first] {
            let request_id = request_id(&msg);
            let reply = match msg {
                ClientMessage::ListSessions { .. } => ServerMessage::Sessions {
                    request_id,
                    sessions: Vec::new(),
                },
                _ => ServerMessage::Error {
                    request_id: Some(request_id),
                    code: ErrorCode::UnknownSession,
                    message: "no session named nope".to_owned(),
                },
            };
            server.send(reply).await.unwrap();
        }
        server
    });
    let (sessions, killed) = tokio::join!(client.list_sessions(), client.kill_session("nope"));
    assert!(sessions.unwrap().is_empty());
    let err = killed.unwrap_err();
    assert_eq!(err.server_code(), Some(ErrorCode::UnknownSession));
    assert_eq!(err.to_string(), "no session named nope");
    server_task.await.unwrap();
}

#[tokio::test]
async fn answers_server_pings_and_pings_when_quiet() {
    let fixture = fixture();
    let options = ConnectOptions::new(&fixture.path).with_keepalive(Duration::from_millis(100));
    let (connected, mut server) =
        tokio::join!(Client::connect(&options), accept(&fixture.listener));
    let (_client, _events) = connected.unwrap();
    server
        .send(ServerMessage::Ping { nonce: 42 })
        .await
        .unwrap();
    assert_eq!(next(&mut server).await, ClientMessage::Pong { nonce: 42 });
    assert!(matches!(
        next(&mut server).await,
        ClientMessage::Ping { .. }
    ));
}

#[tokio::test]
async fn unread_output_never_blocks_a_reply() {
    let fixture = fixture();
    let (client, mut events, mut server) = connect(&fixture).await;
    let server_task = tokio::spawn(async move {
        let capture = next(&mut server).await;
        for seq in 0..2_000 {
            let data = Bytes::from_static(b"output that nobody reads\r\n");
            let session = Uuid::nil();
            server
                .send(ServerMessage::Output { session, seq, data })
                .await
                .unwrap();
        }
        let request_id = request_id(&capture);
        let size = TermSize::DEFAULT;
        let text = "ready".to_owned();
        let reply = ServerMessage::Captured {
            request_id,
            text,
            cursor: (0, 5),
            size,
            seq: 0,
        };
        server.send(reply).await.unwrap();
        server
    });
    let capture = timeout(LIMIT, client.capture("s", CaptureFormat::Plain, 0)).await;
    assert_eq!(capture.unwrap().unwrap().text, "ready");
    let _server = server_task.await.unwrap();
    // Output that fitted comes first, then the count of what did not.
    let mut n_output = 0;
    let lost = loop {
        match timeout(LIMIT, events.recv()).await.unwrap().unwrap() {
            Event::Output { .. } => n_output += 1,
            Event::OutputLost { frames } => break frames,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(n_output > 0);
    assert_eq!(n_output + lost, 2_000);
}

#[tokio::test]
async fn detach_waits_for_detached_and_reports_it_as_an_event() {
    let fixture = fixture();
    let (client, mut events, mut server) = connect(&fixture).await;
    let server_task = tokio::spawn(async move {
        let detach = next(&mut server).await;
        assert!(matches!(detach, ClientMessage::Detach { .. }));
        let reason = DetachReason::Requested;
        server
            .send(ServerMessage::Detached { reason })
            .await
            .unwrap();
        server
    });
    assert_eq!(client.detach().await.unwrap(), DetachReason::Requested);
    let event = timeout(LIMIT, events.recv()).await.unwrap().unwrap();
    assert!(matches!(
        event,
        Event::Detached {
            reason: DetachReason::Requested
        }
    ));
    drop(server_task.await.unwrap());
}

#[tokio::test]
async fn server_hanging_up_fails_requests_and_closes_events() {
    let fixture = fixture();
    let (client, mut events, mut server) = connect(&fixture).await;
    let server_task = tokio::spawn(async move {
        let _status = next(&mut server).await;
        drop(server);
    });
    let err = timeout(LIMIT, client.status()).await.unwrap().unwrap_err();
    assert!(matches!(err, ClientError::Closed), "{err:?}");
    server_task.await.unwrap();
    let event = timeout(LIMIT, events.recv()).await.unwrap().unwrap();
    assert!(matches!(event, Event::Closed { error: None }), "{event:?}");
    assert!(events.recv().await.is_none());
    assert!(matches!(
        client.list_sessions().await,
        Err(ClientError::Closed)
    ));
}

#[tokio::test]
async fn refusal_in_handshake_is_reported() {
    let fixture = fixture();
    let options = ConnectOptions::new(&fixture.path);
    let refuse = async {
        let (stream, _) = fixture.listener.accept().await.unwrap();
        let mut framed = Framed::new(stream, ServerCodec::new());
        let _hello = framed.next().await;
        let message = "protocol version 99 is not supported".to_owned();
        let code = ErrorCode::VersionMismatch;
        let error = ServerMessage::Error {
            request_id: None,
            code,
            message,
        };
        framed.send(error).await.unwrap();
    };
    let (connected, ()) = tokio::join!(Client::connect(&options), refuse);
    let err = connected.unwrap_err();
    assert_eq!(err.server_code(), Some(ErrorCode::VersionMismatch));
    // A version mismatch says what the server is and what to do about it, and names the
    // process that refused (this test's own).
    let ClientError::OtherVersion { server, .. } = &err else {
        panic!("expected OtherVersion, got {err:?}");
    };
    let server = server.as_ref().expect("the refusing process is identified");
    assert_eq!(server.pid(), std::process::id());
    let text = err.to_string();
    assert!(text.contains("another version of fugue"), "{text}");
    assert!(
        text.contains("protocol version 99 is not supported"),
        "{text}"
    );
    assert!(text.contains("fugue kill-server"), "{text}");
}

#[tokio::test]
async fn missing_socket_is_not_running_without_auto_start() {
    let dir = tempfile::tempdir().unwrap();
    let options = ConnectOptions::new(dir.path().join("none.sock"));
    let err = Client::connect(&options).await.unwrap_err();
    assert!(matches!(err, ClientError::NotRunning { .. }), "{err:?}");
}

#[tokio::test]
async fn auto_start_failure_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let options = ConnectOptions::new(dir.path().join("none.sock"))
        .with_auto_start(true)
        .with_server_program(Some(dir.path().join("no-such-server")));
    let err = Client::connect(&options).await.unwrap_err();
    assert!(matches!(err, ClientError::StartServer { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("could not start fugue-server: ")
    );
}

#[tokio::test]
async fn auto_start_reports_the_servers_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fake-server");
    std::fs::write(
        &script,
        "#!/bin/sh\necho 'fugue-server: socket directory is not ours' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let options = ConnectOptions::new(dir.path().join("none.sock"))
        .with_auto_start(true)
        .with_server_program(Some(script));
    let err = Client::connect(&options).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not start fugue-server: socket directory is not ours"
    );
}
