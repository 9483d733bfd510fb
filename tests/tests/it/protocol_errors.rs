//! Bad input at the protocol level: every case gets a typed error, the server keeps
//! serving everyone else.

use std::time::Duration;

use bytes::Bytes;
use fugue_protocol::{ClientMessage, ErrorCode, PROTOCOL_VERSION, Role, ServerMessage};
use fugue_tests::{TestClient, TestServer};
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;

/// Reads until the server closes; returns the error code it sent, if any.
async fn error_then_close(
    framed: &mut tokio_util::codec::Framed<tokio::net::UnixStream, fugue_protocol::ClientCodec>,
) -> Option<ErrorCode> {
    let mut code = None;
    while let Some(frame) = tokio::time::timeout(fugue_tests::EVENT_TIMEOUT, framed.next())
        .await
        .expect("in time")
    {
        if let Ok(ServerMessage::Error { code: got, .. }) = frame {
            code = Some(got);
        }
    }
    code
}

async fn assert_still_serving(server: &TestServer) {
    let mut client = server.client(Role::Control).await;
    client.send(ClientMessage::Ping { nonce: 9 }).await;
    assert_eq!(client.next().await, Some(ServerMessage::Pong { nonce: 9 }));
}

#[tokio::test]
async fn garbage_frame_gets_malformed_frame_and_close() {
    let server = TestServer::start().await;
    let mut framed = TestClient::connect_raw(&server.socket).await;
    framed
        .get_mut()
        .write_all(&[0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    assert_eq!(
        error_then_close(&mut framed).await,
        Some(ErrorCode::MalformedFrame)
    );
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn oversize_frame_is_refused_before_allocation() {
    let server = TestServer::start().await;
    let mut framed = TestClient::connect_raw(&server.socket).await;
    framed
        .get_mut()
        .write_all(&u32::MAX.to_be_bytes())
        .await
        .unwrap();
    assert_eq!(
        error_then_close(&mut framed).await,
        Some(ErrorCode::FrameTooLarge)
    );
    // After the handshake too.
    let client = server.client(Role::Interactive).await;
    let mut framed = client.into_framed();
    framed
        .get_mut()
        .write_all(&(2u32 << 20).to_be_bytes())
        .await
        .unwrap();
    assert_eq!(
        error_then_close(&mut framed).await,
        Some(ErrorCode::FrameTooLarge)
    );
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn messages_before_hello_are_refused() {
    let server = TestServer::start().await;
    let mut framed = TestClient::connect_raw(&server.socket).await;
    framed
        .send(ClientMessage::Input {
            data: Bytes::from_static(b"rm -rf /\r"),
        })
        .await
        .unwrap();
    assert_eq!(
        error_then_close(&mut framed).await,
        Some(ErrorCode::HandshakeRequired)
    );
    let mut framed = TestClient::connect_raw(&server.socket).await;
    framed
        .send(ClientMessage::Attach {
            request_id: 1,
            session: "0".into(),
            size: fugue_protocol::TermSize::DEFAULT,
            resume_from: None,
        })
        .await
        .unwrap();
    assert_eq!(
        error_then_close(&mut framed).await,
        Some(ErrorCode::HandshakeRequired)
    );
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn wrong_protocol_version_names_both_versions() {
    let server = TestServer::start().await;
    let mut framed = TestClient::connect_raw(&server.socket).await;
    let hello = ClientMessage::Hello {
        protocol_version: PROTOCOL_VERSION + 1,
        client_name: "future".into(),
        identity: None,
        role: Role::Control,
    };
    framed.send(hello).await.unwrap();
    match framed.next().await {
        Some(Ok(ServerMessage::Error {
            code: ErrorCode::VersionMismatch,
            message,
            ..
        })) => {
            assert!(
                message.contains(&(PROTOCOL_VERSION + 1).to_string()),
                "{message}"
            );
            assert!(message.contains(&PROTOCOL_VERSION.to_string()), "{message}");
        }
        other => panic!("expected VersionMismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn slow_handshake_times_out() {
    let server =
        TestServer::start_with(|config| config.handshake_timeout = Duration::from_millis(200))
            .await;
    let mut framed = TestClient::connect_raw(&server.socket).await;
    // A slowloris: one byte of a frame, then nothing.
    framed.get_mut().write_all(&[0]).await.unwrap();
    assert_eq!(
        error_then_close(&mut framed).await,
        Some(ErrorCode::HandshakeTimeout)
    );
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn silent_client_is_dropped_after_idle_timeout() {
    let server = TestServer::start_with(|config| {
        config.idle_timeout = Duration::from_millis(300);
        config.ping_interval = Duration::from_millis(50);
    })
    .await;
    let client = server.client(Role::Control).await;
    // Read what the server sends but never answer its pings.
    let mut framed = client.into_framed();
    assert_eq!(
        error_then_close(&mut framed).await,
        Some(ErrorCode::IdleTimeout)
    );
}

#[tokio::test]
async fn second_hello_is_an_error_but_not_fatal() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Control).await;
    client
        .send(ClientMessage::Hello {
            protocol_version: PROTOCOL_VERSION,
            client_name: "again".into(),
            identity: None,
            role: Role::Control,
        })
        .await;
    assert!(matches!(
        client.next().await,
        Some(ServerMessage::Error {
            code: ErrorCode::HandshakeRequired,
            ..
        })
    ));
    client.send(ClientMessage::Ping { nonce: 3 }).await;
    assert_eq!(client.next().await, Some(ServerMessage::Pong { nonce: 3 }));
}

#[tokio::test]
async fn same_identity_replaces_the_older_connection() {
    let server = TestServer::start().await;
    let identity = Some(uuid::Uuid::new_v4());
    let hello = |identity| ClientMessage::Hello {
        protocol_version: PROTOCOL_VERSION,
        client_name: "device".into(),
        identity,
        role: Role::Interactive,
    };
    let mut old = TestClient::connect_raw(&server.socket).await;
    old.send(hello(identity)).await.unwrap();
    assert!(matches!(
        old.next().await,
        Some(Ok(ServerMessage::Welcome { .. }))
    ));
    let mut new = TestClient::connect_raw(&server.socket).await;
    new.send(hello(identity)).await.unwrap();
    assert!(matches!(
        new.next().await,
        Some(Ok(ServerMessage::Welcome { .. }))
    ));
    let mut saw_replaced = false;
    while let Some(Ok(msg)) = old.next().await {
        if msg
            == (ServerMessage::Detached {
                reason: fugue_protocol::DetachReason::Replaced,
            })
        {
            saw_replaced = true;
        }
    }
    assert!(saw_replaced);
    new.send(ClientMessage::Ping { nonce: 1 }).await.unwrap();
    assert!(matches!(
        new.next().await,
        Some(Ok(ServerMessage::Pong { nonce: 1 }))
    ));
}
