//! The viewer's WebSocket protocol against a live server, with a WebSocket client library:
//! authentication, roles and scopes, the envelope's replies, heartbeats and idle timeout,
//! same-device replacement, the Host and Origin checks, size caps and revocation.

use std::time::Duration;

use fugue_protocol::{Role, ServerMessage};
use fugue_tests::web;
use fugue_tests::{TestServer, contains};
use futures_util::SinkExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{self, Message};

#[tokio::test]
async fn a_good_token_connects_as_operator_and_sees_the_session_it_attaches_to() {
    let server = TestServer::start().await;
    let mut control = server.client(Role::Control).await;
    control.create(Some("work"), &["cat"]).await;
    let link = web::link(&mut control, web::grant()).await;
    assert!(link.url.starts_with("http://127.0.0.1:"), "{}", link.url);
    assert!(link.url.ends_with(&format!("/#token={}", link.token)));
    assert_eq!(link.token.len(), 64);

    let (mut ws, connected) = web::connect(link.port, &link.token, None).await;
    assert_eq!(connected["role"], "operator");
    assert_eq!(connected["sessions"][0]["name"], "work");
    let attached = web::attach(&mut ws, "work").await;
    assert_eq!(attached["type"], "attached");
    assert_eq!(attached["payload"]["fresh"], true);
    ws.send(Message::binary(b"typed by a browser\r".to_vec()))
        .await
        .unwrap();
    let out = web::output_until(&mut ws, |b| contains(b, b"typed by a browser\r\n")).await;
    assert!(out.seq > 0);
}

#[tokio::test]
async fn wrong_expired_and_missing_tokens_are_refused_alike() {
    let server = TestServer::start().await;
    let mut control = server.client(Role::Control).await;
    let good = web::link(&mut control, web::grant()).await;
    let expired = web::link(
        &mut control,
        fugue_protocol::WebGrant {
            expires_secs: 0,
            ..web::grant()
        },
    )
    .await;
    for token in ["0".repeat(64), expired.token.clone(), String::new()] {
        let mut ws = web::open(good.port).await;
        web::send(&mut ws, "auth", json!({ "token": token })).await;
        assert_eq!(web::closed(&mut ws, Some("unauthorized")).await, Some(4401));
    }
    // No auth at all: another message first.
    let mut ws = web::open(good.port).await;
    web::send(&mut ws, "ping", json!({})).await;
    assert_eq!(web::closed(&mut ws, Some("bad_message")).await, Some(4400));
}

#[tokio::test]
async fn a_viewer_link_cannot_type_or_resize() {
    let server = TestServer::start().await;
    let mut control = server.client(Role::Control).await;
    let session = control.create(Some("watched"), &["cat"]).await;
    let grant = fugue_protocol::WebGrant {
        read_only: true,
        ..web::grant()
    };
    let link = web::link(&mut control, grant).await;
    let (mut ws, connected) = web::connect(link.port, &link.token, None).await;
    assert_eq!(connected["role"], "viewer");
    web::send(
        &mut ws,
        "attach",
        json!({"session": "watched", "cols": 50, "rows": 10}),
    )
    .await;
    assert_eq!(web::next_json(&mut ws).await["type"], "attached");
    ws.send(Message::binary(b"rm -rf /\r".to_vec()))
        .await
        .unwrap();
    assert_eq!(
        web::next_json(&mut ws).await["payload"]["code"],
        "read_only"
    );
    web::send(&mut ws, "resize", json!({"cols": 50, "rows": 10})).await;
    assert_eq!(
        web::next_json(&mut ws).await["payload"]["code"],
        "read_only"
    );
    // Nothing reached the program: its screen is empty and its size unchanged.
    let reply = control
        .request(|request_id| fugue_protocol::ClientMessage::Capture {
            request_id,
            session: "watched".into(),
            format: fugue_protocol::CaptureFormat::Plain,
            scrollback_lines: 0,
        })
        .await;
    let ServerMessage::Captured { text, size, .. } = reply else {
        panic!("{reply:?}")
    };
    assert!(!text.contains("rm"), "{text:?}");
    assert_eq!(size, session.size);
}

#[tokio::test]
async fn a_scoped_link_sees_and_attaches_only_its_sessions() {
    let server = TestServer::start().await;
    let mut control = server.client(Role::Control).await;
    control.create(Some("mine"), &["cat"]).await;
    control.create(Some("secret"), &["cat"]).await;
    let grant = fugue_protocol::WebGrant {
        sessions: vec!["mine".into()],
        ..web::grant()
    };
    let link = web::link(&mut control, grant).await;
    let (mut ws, connected) = web::connect(link.port, &link.token, None).await;
    let names: Vec<_> = connected["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(names, [json!("mine")]);
    assert_eq!(
        web::attach(&mut ws, "secret").await["payload"]["code"],
        "unknown_session"
    );
    web::send(&mut ws, "list", json!({})).await;
    assert_eq!(
        web::next_json(&mut ws).await["payload"]["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(web::attach(&mut ws, "mine").await["type"], "attached");
    // A scope naming a session that does not exist is refused when minted.
    let grant = fugue_protocol::WebGrant {
        sessions: vec!["nope".into()],
        ..web::grant()
    };
    let reply = control
        .request(|request_id| fugue_protocol::ClientMessage::ServeWeb { request_id, grant })
        .await;
    assert!(
        matches!(
            reply,
            ServerMessage::Error {
                code: fugue_protocol::ErrorCode::UnknownSession,
                ..
            }
        ),
        "{reply:?}"
    );
}

#[tokio::test]
async fn ping_unknown_types_and_bad_messages_are_answered_and_the_connection_goes_on() {
    let (_server, _control, link) = web::served().await;
    let (mut ws, _) = web::connect(link.port, &link.token, None).await;
    web::send(&mut ws, "ping", json!({})).await;
    assert_eq!(web::next_json(&mut ws).await["type"], "pong");
    web::send(&mut ws, "teleport", json!({})).await;
    let reply = web::next_json(&mut ws).await;
    assert_eq!(reply["payload"]["code"], "unknown_type", "{reply}");
    ws.send(Message::text("not json")).await.unwrap();
    assert_eq!(
        web::next_json(&mut ws).await["payload"]["code"],
        "bad_message"
    );
    web::send(&mut ws, "auth", json!({"token": link.token})).await;
    assert_eq!(
        web::closed(&mut ws, None).await,
        Some(4400),
        "auth twice ends it"
    );
}

#[tokio::test]
async fn a_browser_that_says_nothing_is_closed_after_the_idle_timeout() {
    let server = TestServer::start_with(|config| {
        config.idle_timeout = Duration::from_millis(600);
        config.ping_interval = Duration::from_millis(100);
    })
    .await;
    let mut control = server.client(Role::Control).await;
    let link = web::link(&mut control, web::grant()).await;
    let (mut ws, connected) = web::connect(link.port, &link.token, None).await;
    assert_eq!(connected["idle_timeout_ms"], 600);
    // The client library answers the server's pings; that alone does not keep it open.
    assert_eq!(web::closed(&mut ws, Some("idle_timeout")).await, Some(4408));
}

#[tokio::test]
async fn a_new_connection_of_the_same_device_replaces_the_old_one() {
    let (_server, mut control, link) = web::served().await;
    let device = uuid::Uuid::new_v4();
    let (mut old, _) = web::connect(link.port, &link.token, Some(device)).await;
    let (mut new, _) = web::connect(link.port, &link.token, Some(device)).await;
    assert_eq!(web::closed(&mut old, None).await, Some(4409));
    web::send(&mut new, "ping", json!({})).await;
    assert_eq!(web::next_json(&mut new).await["type"], "pong");
    let reply = control
        .request(|request_id| fugue_protocol::ClientMessage::ListClients { request_id })
        .await;
    let ServerMessage::Clients { clients, .. } = reply else {
        panic!("{reply:?}")
    };
    let browsers: Vec<_> = clients.iter().filter(|c| c.kind == "browser").collect();
    assert_eq!(browsers.len(), 1, "{clients:?}");
    // Its identity is derived from the device, so no page can name a terminal client's.
    assert!(
        browsers[0]
            .identity
            .is_some_and(|identity| identity != device)
    );
    assert!(browsers[0].remote.starts_with("127.0.0.1:"), "{clients:?}");
    assert_eq!(browsers[0].role, "browser");
}

#[tokio::test]
async fn a_foreign_origin_or_host_is_refused_before_the_upgrade() {
    let (_server, _control, link) = web::served().await;
    for (origin, host) in [
        (Some("http://evil.example"), None),
        (Some("null"), None),
        (None, Some("evil.example")),
        (None, Some(&*format!("rebound.example:{}", link.port))),
    ] {
        match web::open_with(link.port, origin, host).await {
            Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
            other => panic!("{origin:?} {host:?}: expected 403, got {other:?}"),
        }
    }
    // A plain request for the page with a rebound Host (DNS rebinding) is refused too.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", link.port))
        .await
        .unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.unwrap();
    assert!(
        response.starts_with(b"HTTP/1.1 403"),
        "{}",
        String::from_utf8_lossy(&response)
    );
}

#[tokio::test]
async fn an_oversize_frame_closes_with_1009_and_the_server_goes_on() {
    let (_server, _control, link) = web::served().await;
    let (mut ws, _) = web::connect(link.port, &link.token, None).await;
    let _ = ws.send(Message::binary(vec![b'x'; 200 * 1024])).await;
    assert_eq!(web::closed(&mut ws, None).await, Some(1009));
    let (mut again, _) = web::connect(link.port, &link.token, None).await;
    web::send(&mut again, "ping", json!({})).await;
    assert_eq!(web::next_json(&mut again).await["type"], "pong");
}

#[tokio::test]
async fn revoking_closes_open_browsers_and_refuses_their_links() {
    let (_server, mut control, link) = web::served().await;
    let (mut ws, _) = web::connect(link.port, &link.token, None).await;
    let reply = control
        .request(|request_id| fugue_protocol::ClientMessage::RevokeWebTokens { request_id })
        .await;
    assert!(
        matches!(
            reply,
            ServerMessage::WebRevoked {
                tokens: 1,
                connections: 1,
                ..
            }
        ),
        "{reply:?}"
    );
    assert_eq!(web::closed(&mut ws, None).await, Some(4401));
    let mut ws = web::open(link.port).await;
    web::send(&mut ws, "auth", json!({ "token": link.token })).await;
    assert_eq!(web::closed(&mut ws, Some("unauthorized")).await, Some(4401));
}

#[tokio::test]
async fn a_non_loopback_address_is_refused_without_tls() {
    let server = TestServer::start().await;
    let mut control = server.client(Role::Control).await;
    let grant = fugue_protocol::WebGrant {
        bind: Some("0.0.0.0:0".into()),
        ..web::grant()
    };
    let reply = control
        .request(|request_id| fugue_protocol::ClientMessage::ServeWeb { request_id, grant })
        .await;
    let ServerMessage::Error { message, .. } = reply else {
        panic!("{reply:?}")
    };
    assert!(message.contains("without TLS"), "{message}");
}

#[tokio::test]
async fn the_programs_exit_status_reaches_the_browser() {
    let server = TestServer::start().await;
    let mut control = server.client(Role::Control).await;
    control
        .create(Some("short"), &["sh", "-c", "read x; exit 3"])
        .await;
    let link = web::link(&mut control, web::grant()).await;
    let (mut ws, _) = web::connect(link.port, &link.token, None).await;
    assert_eq!(web::attach(&mut ws, "short").await["type"], "attached");
    ws.send(Message::binary(b"\r".to_vec())).await.unwrap();
    let exited = web::next_json(&mut ws).await;
    assert_eq!(exited["type"], "exited", "{exited}");
    assert_eq!(exited["payload"]["status"], 3);
    let detached = web::next_json(&mut ws).await;
    assert_eq!(detached["payload"]["reason"], "session_ended", "{detached}");
}

#[tokio::test]
async fn browsers_beyond_the_limit_are_refused_and_the_others_go_on() {
    let server = TestServer::start_with(|config| config.web.max_clients = 1).await;
    let mut control = server.client(Role::Control).await;
    let link = web::link(&mut control, web::grant()).await;
    let (mut first, _) = web::connect(link.port, &link.token, None).await;
    let mut second = web::open(link.port).await;
    web::send(&mut second, "auth", json!({ "token": link.token })).await;
    assert_eq!(
        web::closed(&mut second, Some("server_busy")).await,
        Some(4429)
    );
    web::send(&mut first, "ping", json!({})).await;
    assert_eq!(web::next_json(&mut first).await["type"], "pong");
}

#[tokio::test]
async fn a_viewer_is_told_the_size_another_client_gives_the_session() {
    let server = TestServer::start().await;
    let mut control = server.client(Role::Control).await;
    control.create(Some("sized"), &["cat"]).await;
    let viewer = web::link(
        &mut control,
        fugue_protocol::WebGrant {
            read_only: true,
            ..web::grant()
        },
    )
    .await;
    let (mut watching, _) = web::connect(viewer.port, &viewer.token, None).await;
    web::send(
        &mut watching,
        "attach",
        json!({"session": "sized", "cols": 200, "rows": 60}),
    )
    .await;
    let attached = web::next_json(&mut watching).await;
    assert_eq!(
        (
            attached["payload"]["session"]["cols"].clone(),
            attached["payload"]["session"]["rows"].clone()
        ),
        (json!(80), json!(24)),
        "a viewer's size is not the session's"
    );
    let operator = web::link(&mut control, web::grant()).await;
    let (mut typing, _) = web::connect(operator.port, &operator.token, None).await;
    web::send(
        &mut typing,
        "attach",
        json!({"session": "sized", "cols": 100, "rows": 30}),
    )
    .await;
    let size = loop {
        let msg = web::next_json(&mut watching).await;
        if msg["type"] == "size" {
            break msg["payload"].clone();
        }
    };
    assert_eq!(size, json!({"cols": 100, "rows": 30}));
}

#[tokio::test]
async fn an_open_page_is_closed_when_its_link_expires() {
    let server = TestServer::start().await;
    let mut control = server.client(Role::Control).await;
    let grant = fugue_protocol::WebGrant {
        expires_secs: 1,
        ..web::grant()
    };
    let link = web::link(&mut control, grant).await;
    let (mut ws, _) = web::connect(link.port, &link.token, None).await;
    assert_eq!(web::closed(&mut ws, None).await, Some(4401));
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_idle_timeout() {
    let server = TestServer::start_with(|config| {
        config.idle_timeout = Duration::from_millis(300);
    })
    .await;
    let mut control = server.client(Role::Control).await;
    let link = web::link(&mut control, web::grant()).await;
    // Not even a request line: it would hold its slot for ever.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", link.port))
        .await
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(fugue_tests::EVENT_TIMEOUT, tcp.read_to_end(&mut rest));
    assert!(read.await.is_ok(), "closed by the server");
}
