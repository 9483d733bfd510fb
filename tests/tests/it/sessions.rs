//! PTY sessions: programs run, output reaches every attached client, input reaches the
//! program, and sessions end cleanly (the sessions issue).

use bytes::Bytes;
use fugue_protocol::{
    CaptureFormat, ClientMessage, DetachReason, ErrorCode, ExitStatus, Role, ServerMessage,
    TermSize,
};
use fugue_tests::{TestServer, contains, input, process_exists, spec, wait_until};

fn error_code(msg: &ServerMessage) -> ErrorCode {
    match msg {
        ServerMessage::Error { code, .. } => *code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn echo_output_reaches_two_attached_clients_identically_and_in_order() {
    let server = TestServer::start().await;
    let mut a = server.client(Role::Interactive).await;
    let mut b = server.client(Role::ReadOnly).await;
    a.create(Some("echo"), &["sh", "-c", "read go; seq 1 2000; echo END"])
        .await;
    assert!(matches!(
        a.attach("echo").await,
        ServerMessage::Attached { .. }
    ));
    assert!(matches!(
        b.attach("echo").await,
        ServerMessage::Attached { .. }
    ));
    a.send(input("go\r")).await;
    let done = |bytes: &[u8]| contains(bytes, b"END\r\n");
    let from_a = a.output_until(done).await;
    let from_b = b.output_until(done).await;
    let expected: String = (1..=2000).map(|n| format!("{n}\r\n")).collect();
    assert!(
        contains(&from_a.bytes, expected.as_bytes()),
        "a saw every line in order"
    );
    assert_eq!(
        from_a.bytes, from_b.bytes,
        "both clients saw the same bytes"
    );
    assert_eq!(from_a.last_seq, from_b.last_seq);
}

#[tokio::test]
async fn input_reaches_the_program() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Interactive).await;
    client.create(Some("cat"), &["cat"]).await;
    client.attach("cat").await;
    client.send(input("hello fugue\r")).await;
    // The terminal echoes the line, then cat prints it back.
    let out = client
        .output_until(|bytes| contains(bytes, b"hello fugue\r\nhello fugue\r\n"))
        .await;
    assert!(out.other.is_empty(), "{:?}", out.other);
}

#[tokio::test]
async fn read_only_clients_cannot_type() {
    let server = TestServer::start().await;
    let mut owner = server.client(Role::Control).await;
    owner.create(Some("ro"), &["cat"]).await;
    let mut viewer = server.client(Role::ReadOnly).await;
    viewer.attach("ro").await;
    viewer.send(input("nope\r")).await;
    let reply = viewer.next().await.unwrap();
    assert_eq!(error_code(&reply), ErrorCode::ReadOnly);
    let reply = viewer
        .request(|request_id| ClientMessage::SendInput {
            request_id,
            session: "ro".into(),
            data: Bytes::from_static(b"nope"),
        })
        .await;
    assert_eq!(error_code(&reply), ErrorCode::ReadOnly);
}

#[tokio::test]
async fn resize_reaches_the_program() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Interactive).await;
    client.create(Some("sz"), &["sh"]).await;
    client.attach("sz").await;
    client
        .send(ClientMessage::Resize {
            size: TermSize {
                rows: 33,
                cols: 101,
            },
        })
        .await;
    client.send(input("stty size\r")).await;
    client
        .output_until(|bytes| contains(bytes, b"33 101"))
        .await;
    let reply = client
        .request(|request_id| ClientMessage::ListSessions { request_id })
        .await;
    let ServerMessage::Sessions { sessions, .. } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(
        sessions[0].size,
        TermSize {
            rows: 33,
            cols: 101
        }
    );
}

#[tokio::test]
async fn viewers_never_resize_the_pty() {
    let server = TestServer::start().await;
    let mut owner = server.client(Role::Control).await;
    let session = owner.create(Some("fixed"), &["cat"]).await;
    let mut viewer = server.client(Role::ReadOnly).await;
    let size = TermSize { rows: 10, cols: 20 };
    let session_name = session.name.clone();
    viewer
        .request(|request_id| ClientMessage::Attach {
            request_id,
            session: session_name,
            size,
            resume_from: None,
        })
        .await;
    viewer.send(ClientMessage::Resize { size }).await;
    let reply = owner
        .request(|request_id| ClientMessage::ListSessions { request_id })
        .await;
    let ServerMessage::Sessions { sessions, .. } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(sessions[0].size, TermSize::DEFAULT);
}

#[tokio::test]
async fn exit_status_reaches_attached_clients_and_no_zombie_is_left() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Interactive).await;
    let session = client
        .create(Some("seven"), &["sh", "-c", "read x; exit 7"])
        .await;
    client.attach("seven").await;
    client.send(input("\r")).await;
    let mut events = Vec::new();
    loop {
        match client.next().await.expect("open until detached") {
            ServerMessage::Output { .. } => {}
            msg @ ServerMessage::Detached { .. } => {
                events.push(msg);
                break;
            }
            msg => events.push(msg),
        }
    }
    let exited = ServerMessage::SessionExited {
        session: "seven".into(),
        status: ExitStatus::Code { code: 7 },
    };
    let detached = ServerMessage::Detached {
        reason: DetachReason::SessionEnded,
    };
    assert_eq!(events, vec![exited, detached]);
    wait_until("the program is reaped", || !process_exists(session.pid)).await;
}

#[tokio::test]
async fn ended_session_is_gone_and_reaped() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Interactive).await;
    let session = client
        .create(Some("seven"), &["sh", "-c", "read x; exit 7"])
        .await;
    client.attach("seven").await;
    client.send(input("\r")).await;
    loop {
        if let Some(ServerMessage::Detached { .. }) = client.next().await {
            break;
        }
    }
    wait_until("the program is reaped", || !process_exists(session.pid)).await;
    let reply = client.attach("seven").await;
    assert_eq!(error_code(&reply), ErrorCode::UnknownSession);
}

#[tokio::test]
async fn kill_ends_even_a_program_that_ignores_sighup() {
    let server =
        TestServer::start_with(|config| config.kill_grace = std::time::Duration::from_millis(200))
            .await;
    let mut client = server.client(Role::Control).await;
    let stubborn = client
        .create(
            Some("stubborn"),
            &["sh", "-c", "trap '' HUP; while :; do sleep 1; done"],
        )
        .await;
    let plain = client.create(Some("plain"), &["sleep", "1000"]).await;
    for name in ["stubborn", "plain"] {
        let reply = client
            .request(|request_id| ClientMessage::KillSession {
                request_id,
                session: name.into(),
            })
            .await;
        assert!(matches!(reply, ServerMessage::Done { .. }), "{reply:?}");
    }
    let reply = client
        .request(|request_id| ClientMessage::ListSessions { request_id })
        .await;
    assert_eq!(
        reply,
        ServerMessage::Sessions {
            request_id: reply.reply_to().unwrap(),
            sessions: vec![]
        }
    );
    wait_until("both programs are reaped", || {
        !process_exists(stubborn.pid) && !process_exists(plain.pid)
    })
    .await;
}

#[tokio::test]
async fn rename_keeps_the_id_and_checks_names() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Control).await;
    let a = client.create(Some("a"), &["cat"]).await;
    client.create(Some("b"), &["cat"]).await;
    let rename = |session: &str, new_name: &str| {
        let (session, new_name) = (session.to_owned(), new_name.to_owned());
        move |request_id| ClientMessage::RenameSession {
            request_id,
            session,
            new_name,
        }
    };
    assert!(matches!(
        client.request(rename("a", "c")).await,
        ServerMessage::Done { .. }
    ));
    assert_eq!(
        error_code(&client.request(rename("c", "b")).await),
        ErrorCode::DuplicateName
    );
    assert_eq!(
        error_code(&client.request(rename("c", "x/y")).await),
        ErrorCode::InvalidName
    );
    assert_eq!(
        error_code(&client.request(rename("a", "z")).await),
        ErrorCode::UnknownSession
    );
    let reply = client
        .request(|request_id| ClientMessage::ListSessions { request_id })
        .await;
    let ServerMessage::Sessions { sessions, .. } = reply else {
        panic!("{reply:?}")
    };
    let c = sessions.iter().find(|s| s.name == "c").expect("renamed");
    assert_eq!(c.id, a.id);
    // Lookup by id works too.
    let id_text = a.id.to_string();
    assert!(matches!(
        client.request(rename(&id_text, "d")).await,
        ServerMessage::Done { .. }
    ));
}

#[tokio::test]
async fn bad_create_requests_get_typed_errors_and_leave_nothing() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Control).await;
    client.create(Some("taken"), &["cat"]).await;
    let cases: Vec<(fugue_protocol::SessionSpec, ErrorCode)> = vec![
        (spec(Some("taken"), &["cat"]), ErrorCode::DuplicateName),
        (spec(Some(""), &["cat"]), ErrorCode::InvalidName),
        (spec(Some("a/b"), &["cat"]), ErrorCode::InvalidName),
        (
            spec(Some("nope"), &["/definitely/not/a/program"]),
            ErrorCode::SpawnFailed,
        ),
        (
            fugue_protocol::SessionSpec {
                cwd: Some("/no/such/dir".into()),
                ..spec(Some("cwd"), &["cat"])
            },
            ErrorCode::SpawnFailed,
        ),
        (
            fugue_protocol::SessionSpec {
                size: TermSize { rows: 0, cols: 80 },
                ..spec(Some("zero"), &["cat"])
            },
            ErrorCode::InvalidSize,
        ),
        (
            fugue_protocol::SessionSpec {
                size: TermSize {
                    rows: 60000,
                    cols: 60000,
                },
                ..spec(Some("huge"), &["cat"])
            },
            ErrorCode::InvalidSize,
        ),
    ];
    for (spec, code) in cases {
        let reply = client
            .request(|request_id| ClientMessage::CreateSession {
                request_id,
                spec,
                attach: false,
            })
            .await;
        assert_eq!(error_code(&reply), code);
    }
    let reply = client
        .request(|request_id| ClientMessage::ListSessions { request_id })
        .await;
    let ServerMessage::Sessions { sessions, .. } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(sessions.len(), 1, "no half-made session is left");
    // The failed name is free again.
    client.create(Some("nope"), &["cat"]).await;
}

#[tokio::test]
async fn unknown_sessions_get_typed_errors() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Interactive).await;
    assert_eq!(
        error_code(&client.attach("ghost").await),
        ErrorCode::UnknownSession
    );
    for build in [
        (|request_id| ClientMessage::KillSession {
            request_id,
            session: "ghost".into(),
        }) as fn(u32) -> ClientMessage,
        |request_id| ClientMessage::SendInput {
            request_id,
            session: "ghost".into(),
            data: Bytes::new(),
        },
        |request_id| ClientMessage::Capture {
            request_id,
            session: "ghost".into(),
            format: CaptureFormat::Plain,
            scrollback_lines: 0,
        },
    ] {
        assert_eq!(
            error_code(&client.request(build).await),
            ErrorCode::UnknownSession
        );
    }
    assert_eq!(
        error_code(
            &client
                .request(|request_id| ClientMessage::Detach { request_id })
                .await
        ),
        ErrorCode::NotAttached
    );
}

#[tokio::test]
async fn fifty_sessions_run_at_once() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Control).await;
    for i in 0..50 {
        client
            .create(None, &["sh", "-c", &format!("echo session-{i}; exec cat")])
            .await;
    }
    for i in 0..50 {
        let session = i.to_string();
        let expected = format!("session-{i}");
        wait_until_capture(&mut client, &session, &expected).await;
    }
    let reply = client
        .request(|request_id| ClientMessage::ListSessions { request_id })
        .await;
    let ServerMessage::Sessions { sessions, .. } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(sessions.len(), 50);
}

async fn wait_until_capture(
    client: &mut fugue_tests::TestClient,
    session: &str,
    needle: &str,
) -> String {
    let shown = fugue_tests::poll::poll(async || {
        let name = session.to_owned();
        let reply = client
            .request(|request_id| ClientMessage::Capture {
                request_id,
                session: name,
                format: CaptureFormat::Plain,
                scrollback_lines: 0,
            })
            .await;
        let ServerMessage::Captured { text, .. } = reply else {
            panic!("{reply:?}")
        };
        if text.contains(needle) {
            Ok(text)
        } else {
            Err(text)
        }
    })
    .await;
    shown.unwrap_or_else(|text| panic!("{needle:?} never appeared in {text:?}"))
}

#[tokio::test]
async fn sessions_survive_clients_coming_and_going_and_restore_the_screen() {
    let server = TestServer::start().await;
    let first_pid;
    {
        let mut client = server.client(Role::Interactive).await;
        first_pid = client.create(Some("keep"), &["sh"]).await.pid;
        client.attach("keep").await;
        client.send(input("echo remembered-$((6*7))\r")).await;
        client
            .output_until(|bytes| contains(bytes, b"remembered-42"))
            .await;
    }
    let mut again = server.client(Role::Interactive).await;
    let ServerMessage::Attached {
        snapshot: Some(snapshot),
        session,
        ..
    } = again.attach("keep").await
    else {
        panic!("expected Attached with a snapshot")
    };
    assert_eq!(session.pid, first_pid);
    assert!(
        contains(&snapshot, b"remembered-42"),
        "the snapshot restores the screen"
    );
    again.send(input("echo still-$((1+1))\r")).await;
    again
        .output_until(|bytes| contains(bytes, b"still-2"))
        .await;
}

#[tokio::test]
async fn create_and_attach_misses_nothing_of_a_program_that_exits_at_once() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Interactive).await;
    for _ in 0..10 {
        let spec = spec(None, &["sh", "-c", "echo bye; exit 3"]);
        let reply = client
            .request(|request_id| ClientMessage::CreateSession {
                request_id,
                spec,
                attach: true,
            })
            .await;
        let ServerMessage::Attached { seq: 0, .. } = reply else {
            panic!("{reply:?}")
        };
        let mut output = Vec::new();
        let status = loop {
            match client.next().await.expect("open") {
                ServerMessage::Output { data, .. } => output.extend_from_slice(&data),
                ServerMessage::SessionExited { status, .. } => break status,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert!(contains(&output, b"bye"), "{output:?}");
        assert_eq!(status, ExitStatus::Code { code: 3 });
        let detached = ServerMessage::Detached {
            reason: DetachReason::SessionEnded,
        };
        assert_eq!(client.next().await, Some(detached));
    }
}
