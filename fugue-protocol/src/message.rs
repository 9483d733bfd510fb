//! The messages a client and the server exchange, one enum per direction.
//!
//! Every variant is a struct variant with named fields. Variants are append-only: postcard
//! encodes the variant *index*, so inserting or reordering a variant changes the wire format
//! (the golden-bytes tests catch that) and needs a `PROTOCOL_VERSION` bump.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Identifies a request; the reply to it carries the same id, so a program with several
/// requests in flight can match replies.
pub type RequestId = u32;

/// A terminal size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TermSize {
    /// Number of rows (lines).
    pub rows: u16,
    /// Number of columns.
    pub cols: u16,
}

impl TermSize {
    /// The size used when a client does not know its own: 24 rows of 80 columns.
    pub const DEFAULT: TermSize = TermSize { rows: 24, cols: 80 };
}

/// What a client may do once connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Attaches, types and resizes.
    Interactive,
    /// Attaches and watches; its input is refused and it never resizes the PTY.
    ReadOnly,
    /// Never attaches: lists, creates, kills, sends input, captures (scripts and agents).
    Control,
}

impl Role {
    /// The role's name as shown in status reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Interactive => "interactive",
            Role::ReadOnly => "read-only",
            Role::Control => "control",
        }
    }
}

/// How a session's program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitStatus {
    /// The program exited with this code.
    Code {
        /// The exit code, 0–255.
        code: i32,
    },
    /// The program was killed by this signal.
    Signal {
        /// The signal number.
        signal: i32,
    },
}

impl ExitStatus {
    /// The status a shell would report: the code, or 128 + the signal number.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code { code } => code,
            ExitStatus::Signal { signal } => 128 + signal,
        }
    }
}

/// Why the server detached a client from its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DetachReason {
    /// The client asked to detach.
    Requested,
    /// Another connection with the same identity took this client's place.
    Replaced,
    /// The session's program exited or the session was killed.
    SessionEnded,
    /// The server is shutting down.
    ServerShutdown,
    /// The client could not keep up and could not be resynchronised.
    TooSlow,
}

/// The kind of an [`ServerMessage::Error`], for programs to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The client speaks another protocol version.
    VersionMismatch,
    /// The server has reached its client limit.
    ServerBusy,
    /// The client runs as another user.
    PermissionDenied,
    /// The first frame was not `Hello`, or `Hello` came twice.
    HandshakeRequired,
    /// No `Hello` arrived in time.
    HandshakeTimeout,
    /// A frame exceeded the maximum frame length.
    FrameTooLarge,
    /// A frame could not be decoded.
    MalformedFrame,
    /// No session has that name or id.
    UnknownSession,
    /// A session with that name exists already.
    DuplicateName,
    /// The session name is empty, too long, or has a forbidden character.
    InvalidName,
    /// The terminal size is zero or absurdly large.
    InvalidSize,
    /// The session's program could not be started.
    SpawnFailed,
    /// The request needs an attached client.
    NotAttached,
    /// The client is read-only or a control client and may not do this.
    ReadOnly,
    /// The client sent nothing for too long.
    IdleTimeout,
    /// Something failed inside the server; the message says what.
    Internal,
    /// The request is malformed (e.g. an empty command).
    InvalidRequest,
}

/// Everything needed to start a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSpec {
    /// The session's name; the server picks `0`, `1`, … when absent.
    pub name: Option<String>,
    /// Program and arguments; empty means the user's `$SHELL`, else `/bin/sh`.
    pub command: Vec<String>,
    /// Working directory; absent means the server's.
    pub cwd: Option<String>,
    /// Extra environment variables for the program.
    pub env: Vec<(String, String)>,
    /// Initial terminal size.
    pub size: TermSize,
    /// `TERM` for the program; absent means `xterm-256color`.
    pub term: Option<String>,
}

/// What the server reports about one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Stable id, unchanged by a rename.
    pub id: Uuid,
    /// Name for humans.
    pub name: String,
    /// Program and arguments as started.
    pub command: Vec<String>,
    /// Process id of the program.
    pub pid: u32,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
    /// Last time a client attached (or the creation time), milliseconds since the Unix epoch.
    pub last_attached_unix_ms: u64,
    /// Number of attached clients.
    pub attached_clients: u32,
    /// The PTY's current size.
    pub size: TermSize,
}

/// How `Capture` renders the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaptureFormat {
    /// Text only, one line per row, trailing blanks trimmed.
    Plain,
    /// Text with the escape sequences that reproduce colours and attributes.
    Ansi,
}

/// The server's health report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// The server's crate version.
    pub server_version: String,
    /// The protocol version the server speaks.
    pub protocol_version: u32,
    /// The server's process id.
    pub pid: u32,
    /// Milliseconds since the server started.
    pub uptime_ms: u64,
    /// The socket the server listens on.
    pub socket_path: String,
    /// Connected clients.
    pub clients: u32,
    /// Clients attached to a session.
    pub attached_clients: u32,
    /// Running sessions.
    pub sessions: u32,
    /// Connected clients per role name.
    pub clients_by_role: Vec<(String, u32)>,
    /// Messages queued to clients since start.
    pub messages_delivered: u64,
    /// Messages not queued because a client lagged or had gone.
    pub messages_dropped: u64,
    /// Times a client fell behind and was marked lagging.
    pub lag_events: u64,
    /// Times a session waited the whole pacing limit (250 ms) for a client to take its
    /// output: a client stopped reading, or (a bug) nobody woke the session when one made
    /// room.
    pub pacing_timeouts: u64,
}

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// The first frame of every connection.
    Hello {
        /// Must equal the server's [`crate::PROTOCOL_VERSION`].
        protocol_version: u32,
        /// Free text for logs and status, e.g. `fugue 0.1.0`.
        client_name: String,
        /// A stable identity: a new connection with the same identity replaces the old one.
        identity: Option<Uuid>,
        /// What this client will do.
        role: Role,
    },
    /// Liveness check; the server answers `Pong` with the same nonce.
    Ping {
        /// Echoed back.
        nonce: u64,
    },
    /// The answer to a server `Ping`.
    Pong {
        /// The nonce of the `Ping`.
        nonce: u64,
    },
    /// List running sessions; answered by `Sessions`.
    ListSessions {
        /// Echoed in the reply.
        request_id: RequestId,
    },
    /// Start a session; answered by `Created`, or with `attach` by `Attached` (the client
    /// is attached before the program's first byte is read, so even a program that exits at
    /// once reports its output and exit status to it).
    CreateSession {
        /// Echoed in the reply.
        request_id: RequestId,
        /// What to run.
        spec: SessionSpec,
        /// Attach this client (interactive or read-only) to the new session.
        attach: bool,
    },
    /// Attach to a session (by name or id); answered by `Attached`, then live `Output`.
    Attach {
        /// Echoed in the reply.
        request_id: RequestId,
        /// The session's name or id.
        session: String,
        /// The client's terminal size.
        size: TermSize,
        /// Resume the stream after this sequence number instead of taking a snapshot.
        resume_from: Option<u64>,
    },
    /// Detach from the current session; answered by `Detached { Requested }`.
    Detach {
        /// Echoed in the reply.
        request_id: RequestId,
    },
    /// Keystrokes for the attached session's program.
    Input {
        /// Raw bytes, at most a frame's worth.
        data: Bytes,
    },
    /// The client's terminal changed size.
    Resize {
        /// The new size.
        size: TermSize,
    },
    /// End a session; answered by `Done`.
    KillSession {
        /// Echoed in the reply.
        request_id: RequestId,
        /// The session's name or id.
        session: String,
    },
    /// Rename a session; answered by `Done`.
    RenameSession {
        /// Echoed in the reply.
        request_id: RequestId,
        /// The session's name or id.
        session: String,
        /// The new name.
        new_name: String,
    },
    /// Write input to a session without attaching; answered by `Done`.
    SendInput {
        /// Echoed in the reply.
        request_id: RequestId,
        /// The session's name or id.
        session: String,
        /// Raw bytes.
        data: Bytes,
    },
    /// Read a session's screen without attaching; answered by `Captured`.
    Capture {
        /// Echoed in the reply.
        request_id: RequestId,
        /// The session's name or id.
        session: String,
        /// Plain text or with escape sequences.
        format: CaptureFormat,
        /// Lines of scrollback to include above the screen.
        scrollback_lines: u32,
    },
    /// Ask for the server's health report; answered by `Status`.
    Status {
        /// Echoed in the reply.
        request_id: RequestId,
    },
    /// Shut the server down; answered by `Done`, then the shutdown sequence.
    KillServer {
        /// Echoed in the reply.
        request_id: RequestId,
    },
}

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// The answer to a good `Hello`.
    Welcome {
        /// The server's [`crate::PROTOCOL_VERSION`].
        protocol_version: u32,
        /// The server's crate version.
        server_version: String,
        /// The id the server gave this connection.
        client_id: u64,
    },
    /// Liveness check; the client answers `Pong`.
    Ping {
        /// Echoed back.
        nonce: u64,
    },
    /// The answer to a client `Ping`.
    Pong {
        /// The nonce of the `Ping`.
        nonce: u64,
    },
    /// A request failed, or (without a request id) the connection is being refused.
    Error {
        /// The failed request, if the error answers one.
        request_id: Option<RequestId>,
        /// What kind of failure.
        code: ErrorCode,
        /// A sentence for humans.
        message: String,
    },
    /// A request without other result succeeded.
    Done {
        /// The request.
        request_id: RequestId,
    },
    /// The answer to `ListSessions`.
    Sessions {
        /// The request.
        request_id: RequestId,
        /// Running sessions, oldest first.
        sessions: Vec<SessionInfo>,
    },
    /// The answer to `CreateSession`.
    Created {
        /// The request.
        request_id: RequestId,
        /// The new session.
        session: SessionInfo,
    },
    /// The answer to `Attach`. `snapshot` redraws the screen as of `seq`; live `Output`
    /// follows with later sequence numbers. Without a snapshot (a resume), `Output` frames
    /// carry the missed bytes from the requested sequence number on.
    Attached {
        /// The request.
        request_id: RequestId,
        /// The session attached to.
        session: SessionInfo,
        /// The stream position the snapshot stands for.
        seq: u64,
        /// Bytes that redraw the screen on a fresh terminal, or none when resuming.
        snapshot: Option<Bytes>,
    },
    /// Program output. After writing `data`, the client's screen stands at `seq`.
    Output {
        /// The session's id.
        session: Uuid,
        /// The stream position after `data`.
        seq: u64,
        /// Raw bytes from the program.
        data: Bytes,
    },
    /// The client fell behind; `snapshot` redraws the screen as of `seq`, and live output
    /// continues after it.
    Resync {
        /// The stream position the snapshot stands for.
        seq: u64,
        /// Bytes that redraw the screen.
        snapshot: Bytes,
    },
    /// The attached session's program ended; `Detached { SessionEnded }` follows.
    SessionExited {
        /// The session's name.
        session: String,
        /// How it ended.
        status: ExitStatus,
    },
    /// The client is no longer attached.
    Detached {
        /// Why.
        reason: DetachReason,
    },
    /// The answer to `Capture`.
    Captured {
        /// The request.
        request_id: RequestId,
        /// The screen (and scrollback), rows separated by `\n`.
        text: String,
        /// The cursor as (row, column), zero-based.
        cursor: (u16, u16),
        /// The screen size.
        size: TermSize,
    },
    /// The answer to `Status`.
    Status {
        /// The request.
        request_id: RequestId,
        /// The report.
        status: ServerStatus,
    },
}
