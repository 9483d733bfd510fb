//! The parts messages are made of: sizes, roles, statuses, reasons, error codes, and what
//! the server reports about sessions and itself.
//!
//! Fields are append-only, as for the messages themselves (see `message.rs`).

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
    /// An upgrade was refused (the new binary is missing, not a fugue-server, or cannot
    /// read this server's state); the server goes on serving, unchanged.
    UpgradeRefused,
}

/// Everything needed to start a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSpec {
    /// The session's name; the server picks `0`, `1`, … when absent.
    pub name: Option<String>,
    /// Program and arguments; empty means the user's `$SHELL`, else `/bin/sh`.
    pub command: Vec<String>,
    /// Working directory; absent means the server's `$HOME` (else its own directory).
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
    /// The output position: the sequence number of the last output chunk (protocol 6).
    pub seq: u64,
    /// The job that has the terminal when it is not the session's program (a command its
    /// shell runs, an editor); `None` when the program itself has it (protocol 6).
    pub foreground: Option<Foreground>,
    /// Whether the program marks its commands' ends with their status (OSC 133 `D`, from
    /// fugue's shell integration, the only marks trusted), so `fugue run` can tell when a
    /// command finished without typing a marker (protocol 6).
    pub shell_marks: bool,
}

/// A process group that has a session's terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Foreground {
    /// Its leader's process id.
    pub pid: u32,
    /// Its leader's command name, as the kernel reports it.
    pub command: String,
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
    /// Of `pacing_timeouts`, the waits that a client had already ended by making room, but
    /// nobody woke the session: missed wake-ups, a bug that costs a stall each time.
    pub pacing_missed_wake_ups: u64,
}

/// What a browser link minted by `ServeWeb` may do, and where the viewer listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebGrant {
    /// A viewer's link: it never types nor resizes.
    pub read_only: bool,
    /// The sessions (names or ids) it may see; empty for every session.
    pub sessions: Vec<String>,
    /// Seconds until it expires.
    pub expires_secs: u64,
    /// Where the listener binds if it is not running yet (`ADDR:PORT`); `None` for the
    /// server's configured address.
    pub bind: Option<String>,
    /// A TLS certificate chain and private key (PEM files) for the listener, required
    /// to bind other than loopback.
    pub tls: Option<(String, String)>,
}

/// One connected client, as `ListClients` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSummary {
    /// The id the server gave the connection.
    pub id: u64,
    /// `terminal` for a client on the socket, `browser` for one on the viewer.
    pub kind: String,
    /// Its role's name, as in the status report's per-role counts.
    pub role: String,
    /// The name of the session it is attached to.
    pub session: Option<String>,
    /// Where it connects from: the peer's address for a browser, the process id for a
    /// client on the socket.
    pub remote: String,
    /// When it connected to this server, milliseconds since the Unix epoch.
    pub connected_unix_ms: u64,
    /// The sessions its link may see (a browser's scope); empty for every session.
    pub scopes: Vec<String>,
    /// The device (a browser tab) or identity that a newer connection of its own replaces.
    pub identity: Option<Uuid>,
}
