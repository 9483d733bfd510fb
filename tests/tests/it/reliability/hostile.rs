//! Hostile input: random bytes, truncated frames, maximum-length headers and valid but
//! out-of-order requests, thrown at a live server while a well-behaved client streams a
//! session's output and must lose nothing; and a slowloris handshake.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use fugue_protocol::{
    ClientCodec, ClientMessage, DEFAULT_MAX_FRAME_LEN, ErrorCode, PROTOCOL_VERSION, Role,
    ServerMessage, TermSize,
};
use fugue_tests::{EVENT_TIMEOUT, TestClient, TestServer, spec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio_util::codec::Encoder;

use super::{ping, spawn_reader, wait_for_progress};

/// Garbage connections thrown at the server.
const N_GARBAGE: usize = 150;

/// xorshift64: deterministic noise, so a failure replays exactly.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// `msg` as a whole frame.
fn frame(msg: ClientMessage) -> BytesMut {
    let mut buf = BytesMut::new();
    ClientCodec::new().encode(msg, &mut buf).expect("encode");
    buf
}

fn hello(role: Role) -> ClientMessage {
    ClientMessage::Hello {
        protocol_version: PROTOCOL_VERSION,
        client_name: "hostile".into(),
        identity: None,
        role,
    }
}

/// Writes `bytes` on a fresh connection, says end-of-file, and reads until the server
/// closes; returns the error codes it sent. `after_hello` handshakes first.
async fn throw(socket: &std::path::Path, bytes: &[u8], after_hello: bool) -> Vec<ErrorCode> {
    let mut stream = UnixStream::connect(socket).await.expect("connect");
    if after_hello {
        stream
            .write_all(&frame(hello(Role::Interactive)))
            .await
            .expect("hello");
    }
    // The server may close before taking everything (an oversize prefix is refused
    // before its body is read): a failed write is expected then.
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
    let mut received = Vec::new();
    tokio::time::timeout(EVENT_TIMEOUT, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection in time")
        .expect("read");
    let mut codec = ClientCodec::new();
    let mut buf = BytesMut::from(&received[..]);
    let mut codes = Vec::new();
    while let Some(msg) = tokio_util::codec::Decoder::decode(&mut codec, &mut buf)
        .expect("the server's frames decode")
    {
        if let ServerMessage::Error { code, .. } = msg {
            codes.push(code);
        }
    }
    codes
}

/// A request on `client` that must be refused with `code`; the connection goes on.
async fn refused(
    client: &mut TestClient,
    code: ErrorCode,
    build: impl FnOnce(u32) -> ClientMessage,
) {
    match client.request(build).await {
        ServerMessage::Error { code: got, .. } => assert_eq!(got, code),
        other => panic!("expected {code:?}, got {other:?}"),
    }
}

/// A message without a request id that must be answered with `code`.
async fn refused_plain(client: &mut TestClient, code: ErrorCode, msg: ClientMessage) {
    client.send(msg).await;
    match client.next().await {
        Some(ServerMessage::Error {
            code: got,
            request_id: None,
            ..
        }) => assert_eq!(got, code),
        other => panic!("expected {code:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_errors_while_a_well_behaved_client_loses_nothing() {
    let server = TestServer::start().await;
    let socket = server.socket.clone();
    let stop = server.dir.path().join("stop");
    let command = format!(
        "read go; n=0; while [ ! -e {} ]; do seq $((n+1)) $((n+500)); n=$((n+500)); \
         sleep 0.02; done; echo STEADY-DONE; read end",
        stop.display()
    );
    let mut good = server.client(Role::Interactive).await;
    good.create(Some("steady"), &["sh", "-c", &command]).await;
    assert!(matches!(
        good.attach("steady").await,
        ServerMessage::Attached { .. }
    ));
    good.send(fugue_tests::input("go\r")).await;
    let (reader, mut progress) = spawn_reader(good, b"STEADY-DONE\r\n", true);
    wait_for_progress(&mut progress, 1).await;

    // Random bytes, before and after the handshake.
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    for i in 0..N_GARBAGE {
        let len = 1 + (noise.next() % 2048) as usize;
        let garbage = noise.bytes(len);
        let codes = throw(&socket, &garbage, i % 2 == 1).await;
        assert!(!codes.is_empty(), "garbage #{i} got no error");
    }
    // Truncated frames: every cut of a Hello, and of a request after the handshake.
    let whole = frame(hello(Role::Control));
    for cut in 1..whole.len() {
        let codes = throw(&socket, &whole[..cut], false).await;
        assert_eq!(codes, [ErrorCode::MalformedFrame], "Hello cut at {cut}");
    }
    let whole = frame(ClientMessage::Status { request_id: 1 });
    for cut in 1..whole.len() {
        let codes = throw(&socket, &whole[..cut], true).await;
        assert_eq!(codes, [ErrorCode::MalformedFrame], "Status cut at {cut}");
    }
    max_length_headers(&socket).await;
    out_of_order_requests(&server).await;

    // The well-behaved client got every line, in order, through all of it.
    std::fs::write(&stop, b"").unwrap();
    let (seen, _observer) = tokio::time::timeout(EVENT_TIMEOUT, reader)
        .await
        .expect("the stream ends")
        .expect("reader");
    assert!(seen.gaps.is_empty() && seen.resyncs == 0, "{seen:?}");
    let text = String::from_utf8(seen.bytes).expect("text");
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    let (done, numbers) = lines.split_last().expect("lines");
    let (go, numbers) = numbers.split_first().expect("the echo of go");
    assert_eq!(*go, "go");
    assert_eq!(*done, "STEADY-DONE");
    assert!(numbers.len() >= 500, "the stream ran through the test");
    for (i, line) in numbers.iter().enumerate() {
        assert_eq!(
            line.parse::<usize>().ok(),
            Some(i + 1),
            "line {i} is {line:?}"
        );
    }
    let mut after = server.client(Role::Control).await;
    ping(&mut after, 5).await;
}

/// Length prefixes at and around the maximum.
async fn max_length_headers(socket: &std::path::Path) {
    let max = DEFAULT_MAX_FRAME_LEN;
    for announced in [u32::MAX as usize, max + 1] {
        let prefix = (announced as u32).to_be_bytes();
        for after_hello in [false, true] {
            let codes = throw(socket, &prefix, after_hello).await;
            assert_eq!(codes, [ErrorCode::FrameTooLarge], "{announced} announced");
        }
    }
    // Exactly the maximum, body and all: decodes as far as a message goes, then has bytes
    // left over.
    let mut full = BytesMut::with_capacity(4 + max);
    full.put_u32(max as u32);
    full.put_bytes(0, max);
    let codes = throw(socket, &full, false).await;
    assert_eq!(codes, [ErrorCode::MalformedFrame]);
    // The maximum announced, then end-of-file halfway.
    let codes = throw(socket, &full[..4 + max / 2], true).await;
    assert_eq!(codes, [ErrorCode::MalformedFrame]);
    // A valid message of exactly the maximum length is served (and refused for what it
    // asks: input while not attached).
    let mut data_len = max - 4;
    let input = loop {
        let input = ClientMessage::Input {
            data: Bytes::from(vec![b'a'; data_len]),
        };
        let len = frame(input.clone()).len();
        if len == 4 + max {
            break input;
        }
        data_len = data_len + 4 + max - len;
    };
    let mut client = TestClient::connect(socket, Role::Interactive).await;
    client.send(input).await;
    match client.next().await {
        Some(ServerMessage::Error {
            code: ErrorCode::NotAttached,
            ..
        }) => {}
        other => panic!("expected NotAttached for a maximum-length input, got {other:?}"),
    }
    ping(&mut client, 3).await;
}

/// Requests that make no sense in the connection's state, each answered with an error on a
/// connection that goes on.
async fn out_of_order_requests(server: &TestServer) {
    // Input before Hello ends the connection with HandshakeRequired.
    let early = frame(ClientMessage::Input {
        data: Bytes::from_static(b"echo pwned\r"),
    });
    let codes = throw(&server.socket, &early, false).await;
    assert_eq!(codes, [ErrorCode::HandshakeRequired]);

    let mut client = server.client(Role::Interactive).await;
    let huge = TermSize {
        rows: u16::MAX,
        cols: u16::MAX,
    };
    refused(&mut client, ErrorCode::UnknownSession, |request_id| {
        ClientMessage::Attach {
            request_id,
            session: "nothing".into(),
            size: TermSize::DEFAULT,
            resume_from: None,
        }
    })
    .await;
    refused(&mut client, ErrorCode::NotAttached, |request_id| {
        ClientMessage::Detach { request_id }
    })
    .await;
    let resize = ClientMessage::Resize {
        size: TermSize::DEFAULT,
    };
    refused_plain(&mut client, ErrorCode::NotAttached, resize).await;
    refused_plain(
        &mut client,
        ErrorCode::InvalidSize,
        ClientMessage::Resize { size: huge },
    )
    .await;
    let input = fugue_tests::input("stray");
    refused_plain(&mut client, ErrorCode::NotAttached, input).await;
    refused_plain(
        &mut client,
        ErrorCode::HandshakeRequired,
        hello(Role::Control),
    )
    .await;
    refused(&mut client, ErrorCode::InvalidSize, |request_id| {
        ClientMessage::Attach {
            request_id,
            session: "steady".into(),
            size: huge,
            resume_from: None,
        }
    })
    .await;
    let mut big = spec(Some("huge"), &["true"]);
    big.size = huge;
    refused(&mut client, ErrorCode::InvalidSize, |request_id| {
        ClientMessage::CreateSession {
            request_id,
            spec: big,
            attach: false,
        }
    })
    .await;
    for bad in ["", "a/b", "nul\0byte", "new\nline", &"x".repeat(65)] {
        refused(&mut client, ErrorCode::InvalidName, |request_id| {
            ClientMessage::RenameSession {
                request_id,
                session: "steady".into(),
                new_name: bad.to_owned(),
            }
        })
        .await;
    }
    refused(&mut client, ErrorCode::UnknownSession, |request_id| {
        ClientMessage::RenameSession {
            request_id,
            session: "nothing".into(),
            new_name: "fine".into(),
        }
    })
    .await;
    refused(&mut client, ErrorCode::UnknownSession, |request_id| {
        ClientMessage::Capture {
            request_id,
            session: "nothing".into(),
            format: fugue_protocol::CaptureFormat::Plain,
            scrollback_lines: u32::MAX,
        }
    })
    .await;
    refused(&mut client, ErrorCode::UnknownSession, |request_id| {
        ClientMessage::KillSession {
            request_id,
            session: "nothing".into(),
        }
    })
    .await;
    refused(&mut client, ErrorCode::UnknownSession, |request_id| {
        ClientMessage::SendInput {
            request_id,
            session: "nothing".into(),
            data: Bytes::from_static(b"x"),
        }
    })
    .await;
    ping(&mut client, 11).await;

    let mut control = server.client(Role::Control).await;
    refused(&mut control, ErrorCode::ReadOnly, |request_id| {
        ClientMessage::Attach {
            request_id,
            session: "steady".into(),
            size: TermSize::DEFAULT,
            resume_from: None,
        }
    })
    .await;
    // Nothing above renamed or ended the streaming session.
    match control
        .request(|request_id| ClientMessage::ListSessions { request_id })
        .await
    {
        ServerMessage::Sessions { sessions, .. } => {
            let names: Vec<&str> = sessions.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names, ["steady"]);
        }
        other => panic!("expected Sessions, got {other:?}"),
    }
}

#[tokio::test]
async fn slowloris_is_dropped_at_the_handshake_timeout() {
    let server = TestServer::start_with(|config| {
        config.handshake_timeout = Duration::from_secs(3);
    })
    .await;
    let hello = frame(hello(Role::Control));
    let mut stream = UnixStream::connect(&server.socket).await.unwrap();
    let mut sent = 0;
    let mut received = Vec::new();
    // One byte a second until the server has its say and closes.
    loop {
        assert!(
            sent < hello.len(),
            "the whole Hello went through a byte a second"
        );
        if stream.write_all(&hello[sent..=sent]).await.is_err() {
            break;
        }
        sent += 1;
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Ok(Err(_)) => break,
        }
    }
    let mut codec = ClientCodec::new();
    let mut buf = BytesMut::from(&received[..]);
    let msg = tokio_util::codec::Decoder::decode(&mut codec, &mut buf).expect("decodes");
    assert!(
        matches!(
            msg,
            Some(ServerMessage::Error {
                code: ErrorCode::HandshakeTimeout,
                ..
            })
        ),
        "expected HandshakeTimeout, got {msg:?}"
    );
    // Not before the timeout, and long before the Hello could have been completed.
    assert!(
        sent >= 2,
        "dropped after only {sent} bytes, before the timeout"
    );
    let mut client = server.client(Role::Control).await;
    ping(&mut client, 1).await;
}
