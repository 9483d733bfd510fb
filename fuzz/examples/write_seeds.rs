//! Writes the seed corpus kept in the repository: `fuzz/corpus/<target>/`, one file per
//! seed, a few KB in all. Run from `fuzz/`: `cargo run --example write_seeds`.
//!
//! Seeds are whole frames of every client message kind (the router reads frames after a
//! control byte), a few server messages for the decoder's other direction, and some
//! deliberately broken frames.

use std::fs;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use fugue_protocol::{
    CaptureFormat, ClientCodec, ClientMessage, DetachReason, ErrorCode, PROTOCOL_VERSION, Role,
    ServerCodec, ServerMessage, SessionSpec, TermSize,
};
use tokio_util::codec::Encoder;

fn client_frame(msg: ClientMessage) -> Vec<u8> {
    let mut buf = BytesMut::new();
    ClientCodec::new().encode(msg, &mut buf).expect("encode");
    buf.to_vec()
}

fn server_frame(msg: ServerMessage) -> Vec<u8> {
    let mut buf = BytesMut::new();
    ServerCodec::new().encode(msg, &mut buf).expect("encode");
    buf.to_vec()
}

fn client_messages() -> Vec<(&'static str, ClientMessage)> {
    let spec = SessionSpec {
        name: Some("seed".into()),
        command: vec!["cat".into()],
        cwd: None,
        env: vec![("KEY".into(), "value".into())],
        size: TermSize::DEFAULT,
        term: None,
    };
    vec![
        (
            "hello",
            ClientMessage::Hello {
                protocol_version: PROTOCOL_VERSION,
                client_name: "seed".into(),
                identity: None,
                role: Role::Interactive,
            },
        ),
        ("ping", ClientMessage::Ping { nonce: 1 }),
        ("list", ClientMessage::ListSessions { request_id: 1 }),
        (
            "create",
            ClientMessage::CreateSession {
                request_id: 2,
                spec: spec.clone(),
                attach: false,
            },
        ),
        (
            "create_attach",
            ClientMessage::CreateSession {
                request_id: 3,
                spec,
                attach: true,
            },
        ),
        (
            "attach",
            ClientMessage::Attach {
                request_id: 4,
                session: "seed".into(),
                size: TermSize {
                    rows: 40,
                    cols: 120,
                },
                resume_from: Some(0),
            },
        ),
        (
            "input",
            ClientMessage::Input {
                data: Bytes::from_static(b"hello\r\x1b[31mred\x1b[0m\r"),
            },
        ),
        (
            "resize",
            ClientMessage::Resize {
                size: TermSize { rows: 10, cols: 20 },
            },
        ),
        ("detach", ClientMessage::Detach { request_id: 5 }),
        (
            "send",
            ClientMessage::SendInput {
                request_id: 6,
                session: "seed".into(),
                data: Bytes::from_static(b"typed\r"),
            },
        ),
        (
            "capture",
            ClientMessage::Capture {
                request_id: 7,
                session: "seed".into(),
                format: CaptureFormat::Ansi,
                scrollback_lines: 10,
            },
        ),
        (
            "rename",
            ClientMessage::RenameSession {
                request_id: 8,
                session: "seed".into(),
                new_name: "renamed".into(),
            },
        ),
        (
            "kill",
            ClientMessage::KillSession {
                request_id: 9,
                session: "renamed".into(),
            },
        ),
        ("status", ClientMessage::Status { request_id: 10 }),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).expect("write seed");
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let decoder = root.join("frame_decoder");
    let router = root.join("router");
    for dir in [&decoder, &router] {
        fs::create_dir_all(dir).expect("corpus directory");
    }
    let messages = client_messages();
    for (name, msg) in &messages {
        let frame = client_frame(msg.clone());
        // Decoder: control byte 0 (default maximum, one piece), then the frame.
        write(&decoder, name, &[&[0][..], &frame].concat());
        // Router, interactive and with Hello sent: the frame, then a status.
        let status = client_frame(ClientMessage::Status { request_id: 99 });
        write(&router, name, &[&[0][..], &frame, &status].concat());
    }
    // A whole session's life on one connection.
    let life: Vec<u8> = [
        "create_attach",
        "input",
        "resize",
        "capture",
        "detach",
        "attach",
    ]
    .iter()
    .flat_map(|wanted| {
        let (_, msg) = messages
            .iter()
            .find(|(name, _)| name == wanted)
            .expect("seed");
        client_frame(msg.clone())
    })
    .collect();
    write(&router, "life", &[&[0][..], &life].concat());
    write(&decoder, "life_in_pieces", &[&[0x1c][..], &life].concat());
    // Broken frames: oversize prefix, truncated body, trailing garbage.
    write(&decoder, "oversize", &[0, 0xff, 0xff, 0xff, 0xff]);
    write(&router, "oversize", &[2, 0, 0x10, 0, 1, 0]);
    let hello = client_frame(messages[0].1.clone());
    write(
        &decoder,
        "truncated",
        &[&[1][..], &hello[..hello.len() - 2]].concat(),
    );
    write(
        &router,
        "garbage_after",
        &[&[2][..], &hello, &[0, 0, 0, 2, 0xff, 0xff]].concat(),
    );
    write(&router, "no_hello", &[&[0x80][..], &hello].concat());
    // The other direction, for the decoder.
    let server = [
        (
            "welcome",
            ServerMessage::Welcome {
                protocol_version: PROTOCOL_VERSION,
                server_version: "0.1.0".into(),
                client_id: 1,
            },
        ),
        (
            "error",
            ServerMessage::Error {
                request_id: Some(1),
                code: ErrorCode::UnknownSession,
                message: "no session".into(),
            },
        ),
        (
            "detached",
            ServerMessage::Detached {
                reason: DetachReason::ServerShutdown,
            },
        ),
        (
            "resync",
            ServerMessage::Resync {
                seq: 9,
                snapshot: Bytes::from_static(b"\x1b[H\x1b[2Jscreen"),
            },
        ),
    ];
    for (name, msg) in server {
        write(
            &decoder,
            &format!("server_{name}"),
            &[&[0][..], &server_frame(msg)].concat(),
        );
    }
}
