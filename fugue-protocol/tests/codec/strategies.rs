//! Proptest strategies that reach every message variant and every nested type.

use bytes::Bytes;
use fugue_protocol::{
    CaptureFormat, ClientMessage, ClientSummary, DetachReason, ErrorCode, EventKind, ExitStatus,
    Foreground, Role, ServerMessage, ServerStatus, SessionEvent, SessionInfo, SessionSpec,
    TermSize, WebGrant,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use uuid::Uuid;

pub fn bytes() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..64).prop_map(Bytes::from)
}

/// Short strings, with any Unicode in them.
pub fn text() -> impl Strategy<Value = String> {
    ".{0,12}"
}

pub fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

pub fn term_size() -> impl Strategy<Value = TermSize> {
    (any::<u16>(), any::<u16>()).prop_map(|(rows, cols)| TermSize { rows, cols })
}

pub fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::Interactive),
        Just(Role::ReadOnly),
        Just(Role::Control)
    ]
}

pub fn exit_status() -> impl Strategy<Value = ExitStatus> {
    prop_oneof![
        any::<i32>().prop_map(|code| ExitStatus::Code { code }),
        any::<i32>().prop_map(|signal| ExitStatus::Signal { signal }),
    ]
}

pub fn detach_reason() -> impl Strategy<Value = DetachReason> {
    prop_oneof![
        Just(DetachReason::Requested),
        Just(DetachReason::Replaced),
        Just(DetachReason::SessionEnded),
        Just(DetachReason::ServerShutdown),
        Just(DetachReason::TooSlow),
    ]
}

pub const ALL_ERROR_CODES: [ErrorCode; 18] = [
    ErrorCode::VersionMismatch,
    ErrorCode::ServerBusy,
    ErrorCode::PermissionDenied,
    ErrorCode::HandshakeRequired,
    ErrorCode::HandshakeTimeout,
    ErrorCode::FrameTooLarge,
    ErrorCode::MalformedFrame,
    ErrorCode::UnknownSession,
    ErrorCode::DuplicateName,
    ErrorCode::InvalidName,
    ErrorCode::InvalidSize,
    ErrorCode::SpawnFailed,
    ErrorCode::NotAttached,
    ErrorCode::ReadOnly,
    ErrorCode::IdleTimeout,
    ErrorCode::Internal,
    ErrorCode::InvalidRequest,
    ErrorCode::UpgradeRefused,
];

pub fn error_code() -> impl Strategy<Value = ErrorCode> {
    proptest::sample::select(&ALL_ERROR_CODES[..])
}

pub fn capture_format() -> impl Strategy<Value = CaptureFormat> {
    prop_oneof![Just(CaptureFormat::Plain), Just(CaptureFormat::Ansi)]
}

pub fn session_spec() -> impl Strategy<Value = SessionSpec> {
    (
        option::of(text()),
        vec(text(), 0..4),
        option::of(text()),
        vec((text(), text()), 0..3),
        term_size(),
        option::of(text()),
    )
        .prop_map(|(name, command, cwd, env, size, term)| SessionSpec {
            name,
            command,
            cwd,
            env,
            size,
            term,
        })
}

pub fn session_info() -> impl Strategy<Value = SessionInfo> {
    (
        uuid(),
        text(),
        vec(text(), 0..4),
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        any::<u32>(),
        term_size(),
        (any::<u64>(), option::of(foreground()), any::<bool>()),
    )
        .prop_map(
            |(
                id,
                name,
                command,
                pid,
                created_unix_ms,
                last_attached_unix_ms,
                attached_clients,
                size,
                (seq, foreground, shell_marks),
            )| {
                SessionInfo {
                    id,
                    name,
                    command,
                    pid,
                    created_unix_ms,
                    last_attached_unix_ms,
                    attached_clients,
                    size,
                    seq,
                    foreground,
                    shell_marks,
                }
            },
        )
}

pub fn foreground() -> impl Strategy<Value = Foreground> {
    (any::<u32>(), text()).prop_map(|(pid, command)| Foreground { pid, command })
}

pub fn event_kind() -> impl Strategy<Value = EventKind> {
    prop_oneof![
        Just(EventKind::Created),
        text().prop_map(|from| EventKind::Renamed { from }),
        Just(EventKind::Killed),
        exit_status().prop_map(|status| EventKind::Exited { status }),
        (any::<u64>(), role()).prop_map(|(client, role)| EventKind::Attached { client, role }),
        any::<u64>().prop_map(|client| EventKind::Detached { client }),
        term_size().prop_map(|size| EventKind::Resized { size }),
        text().prop_map(|title| EventKind::Title { title }),
        Just(EventKind::Bell),
        Just(EventKind::Activity),
        Just(EventKind::Idle),
    ]
}

pub fn session_event() -> impl Strategy<Value = SessionEvent> {
    (
        uuid(),
        text(),
        option::of(any::<u64>()),
        any::<u64>(),
        event_kind(),
    )
        .prop_map(|(session, name, seq, unix_ms, kind)| SessionEvent {
            session,
            name,
            seq,
            unix_ms,
            kind,
        })
}

pub fn server_status() -> impl Strategy<Value = ServerStatus> {
    let head = (
        text(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
        text(),
        any::<u32>(),
    );
    let tail = (
        any::<u32>(),
        any::<u32>(),
        vec((text(), any::<u32>()), 0..3),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
    );
    (head, tail).prop_map(
        |(
            (server_version, protocol_version, pid, uptime_ms, socket_path, clients),
            (
                attached_clients,
                sessions,
                clients_by_role,
                messages_delivered,
                messages_dropped,
                lag_events,
                pacing_timeouts,
                pacing_missed_wake_ups,
            ),
        )| ServerStatus {
            server_version,
            protocol_version,
            pid,
            uptime_ms,
            socket_path,
            clients,
            attached_clients,
            sessions,
            clients_by_role,
            messages_delivered,
            messages_dropped,
            lag_events,
            pacing_timeouts,
            pacing_missed_wake_ups,
        },
    )
}

pub fn client_message() -> impl Strategy<Value = ClientMessage> {
    let id = any::<u32>;
    prop_oneof![
        (any::<u32>(), text(), option::of(uuid()), role()).prop_map(
            |(protocol_version, client_name, identity, role)| ClientMessage::Hello {
                protocol_version,
                client_name,
                identity,
                role,
            }
        ),
        any::<u64>().prop_map(|nonce| ClientMessage::Ping { nonce }),
        any::<u64>().prop_map(|nonce| ClientMessage::Pong { nonce }),
        id().prop_map(|request_id| ClientMessage::ListSessions { request_id }),
        (id(), session_spec(), any::<bool>()).prop_map(|(request_id, spec, attach)| {
            ClientMessage::CreateSession {
                request_id,
                spec,
                attach,
            }
        }),
        (id(), text(), term_size(), option::of(any::<u64>())).prop_map(
            |(request_id, session, size, resume_from)| ClientMessage::Attach {
                request_id,
                session,
                size,
                resume_from,
            }
        ),
        id().prop_map(|request_id| ClientMessage::Detach { request_id }),
        bytes().prop_map(|data| ClientMessage::Input { data }),
        term_size().prop_map(|size| ClientMessage::Resize { size }),
        (id(), text()).prop_map(|(request_id, session)| ClientMessage::KillSession {
            request_id,
            session
        }),
        (id(), text(), text()).prop_map(|(request_id, session, new_name)| {
            ClientMessage::RenameSession {
                request_id,
                session,
                new_name,
            }
        }),
        (id(), text(), bytes()).prop_map(|(request_id, session, data)| {
            ClientMessage::SendInput {
                request_id,
                session,
                data,
            }
        }),
        (id(), text(), capture_format(), any::<u32>()).prop_map(
            |(request_id, session, format, scrollback_lines)| ClientMessage::Capture {
                request_id,
                session,
                format,
                scrollback_lines,
            }
        ),
        id().prop_map(|request_id| ClientMessage::Status { request_id }),
        id().prop_map(|request_id| ClientMessage::KillServer { request_id }),
        (id(), text()).prop_map(|(request_id, server_binary)| ClientMessage::Upgrade {
            request_id,
            server_binary,
        }),
        (id(), option::of(text())).prop_map(|(request_id, session)| ClientMessage::Subscribe {
            request_id,
            session
        }),
        (id(), text()).prop_map(|(request_id, session)| ClientMessage::Claim {
            request_id,
            session
        }),
        (id(), text()).prop_map(|(request_id, session)| ClientMessage::Release {
            request_id,
            session
        }),
        (id(), text()).prop_map(|(request_id, path)| ClientMessage::SetAgent { request_id, path }),
        (id(), text(), text()).prop_map(|(request_id, from, to)| ClientMessage::Switch {
            request_id,
            from,
            to
        }),
        (id(), text(), term_size(), any::<u32>()).prop_map(
            |(request_id, session, size, history)| {
                ClientMessage::AttachWithHistory {
                    request_id,
                    session,
                    size,
                    history,
                }
            }
        ),
        (id(), web_grant())
            .prop_map(|(request_id, grant)| ClientMessage::ServeWeb { request_id, grant }),
        id().prop_map(|request_id| ClientMessage::RevokeWebTokens { request_id }),
        id().prop_map(|request_id| ClientMessage::ListClients { request_id }),
    ]
}

fn web_grant() -> impl Strategy<Value = WebGrant> {
    (
        any::<bool>(),
        vec(text(), 0..3),
        any::<u64>(),
        option::of(text()),
        option::of((text(), text())),
    )
        .prop_map(|(read_only, sessions, expires_secs, bind, tls)| WebGrant {
            read_only,
            sessions,
            expires_secs,
            bind,
            tls,
        })
}

fn client_summary() -> impl Strategy<Value = ClientSummary> {
    (
        any::<u64>(),
        (text(), text()),
        option::of(text()),
        text(),
        any::<u64>(),
        vec(text(), 0..3),
        option::of(uuid()),
    )
        .prop_map(
            |(id, (kind, role), session, remote, connected_unix_ms, scopes, identity)| {
                ClientSummary {
                    id,
                    kind,
                    role,
                    session,
                    remote,
                    connected_unix_ms,
                    scopes,
                    identity,
                }
            },
        )
}

pub fn server_message() -> impl Strategy<Value = ServerMessage> {
    let id = any::<u32>;
    prop_oneof![
        (any::<u32>(), text(), any::<u64>()).prop_map(
            |(protocol_version, server_version, client_id)| ServerMessage::Welcome {
                protocol_version,
                server_version,
                client_id,
            }
        ),
        any::<u64>().prop_map(|nonce| ServerMessage::Ping { nonce }),
        any::<u64>().prop_map(|nonce| ServerMessage::Pong { nonce }),
        (option::of(id()), error_code(), text()).prop_map(|(request_id, code, message)| {
            ServerMessage::Error {
                request_id,
                code,
                message,
            }
        }),
        id().prop_map(|request_id| ServerMessage::Done { request_id }),
        (id(), vec(session_info(), 0..3)).prop_map(|(request_id, sessions)| {
            ServerMessage::Sessions {
                request_id,
                sessions,
            }
        }),
        (id(), session_info()).prop_map(|(request_id, session)| ServerMessage::Created {
            request_id,
            session
        }),
        (id(), session_info(), any::<u64>(), option::of(bytes())).prop_map(
            |(request_id, session, seq, snapshot)| ServerMessage::Attached {
                request_id,
                session,
                seq,
                snapshot,
            }
        ),
        (uuid(), any::<u64>(), bytes()).prop_map(|(session, seq, data)| ServerMessage::Output {
            session,
            seq,
            data
        }),
        (any::<u64>(), bytes()).prop_map(|(seq, snapshot)| ServerMessage::Resync { seq, snapshot }),
        (text(), exit_status())
            .prop_map(|(session, status)| ServerMessage::SessionExited { session, status }),
        detach_reason().prop_map(|reason| ServerMessage::Detached { reason }),
        (id(), text(), any::<(u16, u16)>(), term_size(), any::<u64>()).prop_map(
            |(request_id, text, cursor, size, seq)| ServerMessage::Captured {
                request_id,
                text,
                cursor,
                size,
                seq,
            }
        ),
        (id(), server_status())
            .prop_map(|(request_id, status)| ServerMessage::Status { request_id, status }),
        (id(), text(), text(), any::<(u32, u32, u32)>()).prop_map(
            |(request_id, from_version, to_version, (sessions, clients, pause_ms))| {
                ServerMessage::Upgraded {
                    request_id,
                    from_version,
                    to_version,
                    sessions,
                    clients,
                    pause_ms,
                }
            }
        ),
        (id(), any::<u64>())
            .prop_map(|(request_id, seq)| ServerMessage::InputTaken { request_id, seq }),
        session_event().prop_map(|event| ServerMessage::Event { event }),
        any::<u64>().prop_map(|count| ServerMessage::EventsLost { count }),
        (id(), text(), text(), any::<u64>()).prop_map(
            |(request_id, url, token, expires_unix_ms)| ServerMessage::WebLink {
                request_id,
                url,
                token,
                expires_unix_ms,
            }
        ),
        (id(), any::<(u32, u32)>()).prop_map(|(request_id, (tokens, connections))| {
            ServerMessage::WebRevoked {
                request_id,
                tokens,
                connections,
            }
        }),
        (id(), vec(client_summary(), 0..3)).prop_map(|(request_id, clients)| {
            ServerMessage::Clients {
                request_id,
                clients,
            }
        }),
    ]
}
