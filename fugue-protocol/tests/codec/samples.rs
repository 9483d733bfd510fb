//! One fixed instance of every message variant, plus helpers to frame and unframe them.
//!
//! Field values are distinct and non-zero where they can be, so that swapping two fields of
//! the same type changes the encoding and the golden tests notice.

use bytes::{Bytes, BytesMut};
use fugue_protocol::{
    CaptureFormat, ClientMessage, ClientSummary, DetachReason, ErrorCode, EventKind, ExitStatus,
    Foreground, MessageCodec, Role, ServerMessage, ServerStatus, SessionEvent, SessionInfo,
    SessionSpec, TermSize, WebGrant,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::{Decoder, Encoder};
use uuid::Uuid;

/// The name of a client message's variant.
///
/// The match is exhaustive on purpose: a new variant stops this compiling, and whoever adds
/// it must also add a sample below (and a golden line in `golden.rs`).
pub fn client_variant(msg: &ClientMessage) -> &'static str {
    match msg {
        ClientMessage::Hello { .. } => "Hello",
        ClientMessage::Ping { .. } => "Ping",
        ClientMessage::Pong { .. } => "Pong",
        ClientMessage::ListSessions { .. } => "ListSessions",
        ClientMessage::CreateSession { .. } => "CreateSession",
        ClientMessage::Attach { .. } => "Attach",
        ClientMessage::Detach { .. } => "Detach",
        ClientMessage::Input { .. } => "Input",
        ClientMessage::Resize { .. } => "Resize",
        ClientMessage::KillSession { .. } => "KillSession",
        ClientMessage::RenameSession { .. } => "RenameSession",
        ClientMessage::SendInput { .. } => "SendInput",
        ClientMessage::Capture { .. } => "Capture",
        ClientMessage::Status { .. } => "Status",
        ClientMessage::KillServer { .. } => "KillServer",
        ClientMessage::Upgrade { .. } => "Upgrade",
        ClientMessage::Subscribe { .. } => "Subscribe",
        ClientMessage::Claim { .. } => "Claim",
        ClientMessage::Release { .. } => "Release",
        ClientMessage::SetAgent { .. } => "SetAgent",
        ClientMessage::Switch { .. } => "Switch",
        ClientMessage::AttachWithHistory { .. } => "AttachWithHistory",
        ClientMessage::ServeWeb { .. } => "ServeWeb",
        ClientMessage::RevokeWebTokens { .. } => "RevokeWebTokens",
        ClientMessage::ListClients { .. } => "ListClients",
    }
}

/// The name of a server message's variant; exhaustive for the same reason as
/// [`client_variant`].
pub fn server_variant(msg: &ServerMessage) -> &'static str {
    match msg {
        ServerMessage::Welcome { .. } => "Welcome",
        ServerMessage::Ping { .. } => "Ping",
        ServerMessage::Pong { .. } => "Pong",
        ServerMessage::Error { .. } => "Error",
        ServerMessage::Done { .. } => "Done",
        ServerMessage::Sessions { .. } => "Sessions",
        ServerMessage::Created { .. } => "Created",
        ServerMessage::Attached { .. } => "Attached",
        ServerMessage::Output { .. } => "Output",
        ServerMessage::Resync { .. } => "Resync",
        ServerMessage::SessionExited { .. } => "SessionExited",
        ServerMessage::Detached { .. } => "Detached",
        ServerMessage::Captured { .. } => "Captured",
        ServerMessage::Status { .. } => "Status",
        ServerMessage::Upgraded { .. } => "Upgraded",
        ServerMessage::InputTaken { .. } => "InputTaken",
        ServerMessage::Event { .. } => "Event",
        ServerMessage::EventsLost { .. } => "EventsLost",
        ServerMessage::WebLink { .. } => "WebLink",
        ServerMessage::WebRevoked { .. } => "WebRevoked",
        ServerMessage::Clients { .. } => "Clients",
    }
}

pub fn session_uuid() -> Uuid {
    Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff)
}

pub fn identity_uuid() -> Uuid {
    Uuid::from_u128(0xfeed_face_cafe_beef_0123_4567_89ab_cdef)
}

pub fn session_spec() -> SessionSpec {
    SessionSpec {
        name: Some("work".into()),
        command: vec!["bash".into(), "-l".into()],
        cwd: Some("/tmp".into()),
        env: vec![("K".into(), "V".into())],
        size: TermSize {
            rows: 30,
            cols: 100,
        },
        term: Some("xterm".into()),
    }
}

pub fn session_info() -> SessionInfo {
    SessionInfo {
        id: session_uuid(),
        name: "work".into(),
        command: vec!["bash".into()],
        pid: 4242,
        created_unix_ms: 1_700_000_000_000,
        last_attached_unix_ms: 1_700_000_000_500,
        attached_clients: 2,
        size: TermSize {
            rows: 30,
            cols: 100,
        },
        seq: 1005,
        foreground: Some(Foreground {
            pid: 4343,
            command: "vim".into(),
        }),
        shell_marks: true,
    }
}

pub fn server_status() -> ServerStatus {
    ServerStatus {
        server_version: "0.1.0".into(),
        protocol_version: 1,
        pid: 99,
        uptime_ms: 1234,
        socket_path: "/run/f.sock".into(),
        clients: 3,
        attached_clients: 2,
        sessions: 4,
        clients_by_role: vec![("control".into(), 1)],
        messages_delivered: 500,
        messages_dropped: 6,
        lag_events: 7,
        pacing_timeouts: 8,
        pacing_missed_wake_ups: 9,
    }
}

/// Every client variant once, in declaration order.
pub fn client_samples() -> Vec<ClientMessage> {
    vec![
        ClientMessage::Hello {
            protocol_version: 1,
            client_name: "fugue 0.1.0".into(),
            identity: Some(identity_uuid()),
            role: Role::ReadOnly,
        },
        ClientMessage::Ping {
            nonce: 0x0102_0304_0506_0708,
        },
        ClientMessage::Pong { nonce: 300 },
        ClientMessage::ListSessions { request_id: 1 },
        ClientMessage::CreateSession {
            request_id: 2,
            spec: session_spec(),
            attach: true,
        },
        ClientMessage::Attach {
            request_id: 3,
            session: "work".into(),
            size: TermSize { rows: 24, cols: 80 },
            resume_from: Some(17),
        },
        ClientMessage::Detach { request_id: 4 },
        ClientMessage::Input {
            data: Bytes::from_static(b"ls\r"),
        },
        ClientMessage::Resize {
            size: TermSize {
                rows: 50,
                cols: 200,
            },
        },
        ClientMessage::KillSession {
            request_id: 5,
            session: "old".into(),
        },
        ClientMessage::RenameSession {
            request_id: 6,
            session: "work".into(),
            new_name: "play".into(),
        },
        ClientMessage::SendInput {
            request_id: 7,
            session: "work".into(),
            data: Bytes::from_static(b"echo\n"),
        },
        ClientMessage::Capture {
            request_id: 8,
            session: "work".into(),
            format: CaptureFormat::Ansi,
            scrollback_lines: 100,
        },
        ClientMessage::Status { request_id: 9 },
        ClientMessage::KillServer { request_id: 10 },
        ClientMessage::Upgrade {
            request_id: 11,
            server_binary: "/bin/fs".into(),
        },
        ClientMessage::Subscribe {
            request_id: 12,
            session: Some("work".into()),
        },
        ClientMessage::Claim {
            request_id: 13,
            session: "work".into(),
        },
        ClientMessage::Release {
            request_id: 14,
            session: "play".into(),
        },
        ClientMessage::SetAgent {
            request_id: 15,
            path: "/a".into(),
        },
        ClientMessage::Switch {
            request_id: 16,
            from: "a".into(),
            to: "b".into(),
        },
        ClientMessage::AttachWithHistory {
            request_id: 17,
            session: "w".into(),
            size: TermSize { rows: 24, cols: 80 },
            history: 1000,
        },
        ClientMessage::ServeWeb {
            request_id: 18,
            grant: WebGrant {
                read_only: true,
                sessions: vec!["w".into()],
                expires_secs: 3600,
                bind: Some("127.0.0.1:8".into()),
                tls: Some(("c".into(), "k".into())),
            },
        },
        ClientMessage::RevokeWebTokens { request_id: 19 },
        ClientMessage::ListClients { request_id: 20 },
    ]
}

/// Every server variant once, in declaration order.
pub fn server_samples() -> Vec<ServerMessage> {
    vec![
        ServerMessage::Welcome {
            protocol_version: 1,
            server_version: "0.1.0".into(),
            client_id: 77,
        },
        ServerMessage::Ping {
            nonce: 0x0102_0304_0506_0708,
        },
        ServerMessage::Pong { nonce: 300 },
        ServerMessage::Error {
            request_id: Some(3),
            code: ErrorCode::UnknownSession,
            message: "no such session".into(),
        },
        ServerMessage::Done { request_id: 4 },
        ServerMessage::Sessions {
            request_id: 5,
            sessions: vec![session_info()],
        },
        ServerMessage::Created {
            request_id: 6,
            session: session_info(),
        },
        ServerMessage::Attached {
            request_id: 7,
            session: session_info(),
            seq: 1000,
            snapshot: Some(Bytes::from_static(b"\x1b[H")),
        },
        ServerMessage::Output {
            session: session_uuid(),
            seq: 1003,
            data: Bytes::from_static(b"hi\n"),
        },
        ServerMessage::Resync {
            seq: 2000,
            snapshot: Bytes::from_static(b"\x1b[2J"),
        },
        ServerMessage::SessionExited {
            session: "work".into(),
            status: ExitStatus::Signal { signal: 9 },
        },
        ServerMessage::Detached {
            reason: DetachReason::SessionEnded,
        },
        ServerMessage::Captured {
            request_id: 8,
            text: "$ ls\n".into(),
            cursor: (1, 2),
            size: TermSize { rows: 24, cols: 80 },
            seq: 99,
        },
        ServerMessage::Status {
            request_id: 9,
            status: server_status(),
        },
        ServerMessage::Upgraded {
            request_id: 10,
            from_version: "0.1.0".into(),
            to_version: "0.2.0".into(),
            sessions: 3,
            clients: 4,
            pause_ms: 42,
        },
        ServerMessage::InputTaken {
            request_id: 11,
            seq: 1010,
        },
        ServerMessage::Event {
            event: SessionEvent {
                session: session_uuid(),
                name: "work".into(),
                seq: Some(1020),
                unix_ms: 1_700_000_001_000,
                kind: EventKind::Exited {
                    status: ExitStatus::Code { code: 3 },
                },
            },
        },
        ServerMessage::EventsLost { count: 12 },
        ServerMessage::WebLink {
            request_id: 13,
            url: "http://h/#token=t".into(),
            token: "t".into(),
            expires_unix_ms: 1_700_000_002_000,
        },
        ServerMessage::WebRevoked {
            request_id: 14,
            tokens: 2,
            connections: 3,
        },
        ServerMessage::Clients {
            request_id: 15,
            clients: vec![ClientSummary {
                id: 5,
                kind: "browser".into(),
                role: "web viewer".into(),
                session: Some("w".into()),
                remote: "127.0.0.1:9".into(),
                connected_unix_ms: 1_700_000_003_000,
                scopes: vec!["w".into()],
                identity: Some(identity_uuid()),
            }],
        },
    ]
}

/// Encodes `msgs` back to back through the `Encoder<Out>` impl.
pub fn frames<In, Out: Serialize + Clone>(
    codec: &mut MessageCodec<In, Out>,
    msgs: &[Out],
) -> BytesMut {
    let mut dst = BytesMut::new();
    for msg in msgs {
        codec.encode(msg.clone(), &mut dst).unwrap();
    }
    dst
}

/// Decodes every whole frame in `src`, stopping at the first error (as `Framed` does).
pub fn decode_all<In: DeserializeOwned, Out>(
    codec: &mut MessageCodec<In, Out>,
    src: &mut BytesMut,
    out: &mut Vec<In>,
) -> Result<(), fugue_protocol::CodecError> {
    while let Some(msg) = codec.decode(src)? {
        out.push(msg);
    }
    Ok(())
}
