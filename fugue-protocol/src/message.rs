//! The messages a client and the server exchange, one enum per direction.
//!
//! Every variant is a struct variant with named fields. Variants are append-only: postcard
//! encodes the variant *index*, so inserting or reordering a variant changes the wire format
//! (the golden-bytes tests catch that) and needs a `PROTOCOL_VERSION` bump.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::events::SessionEvent;
use crate::types::{
    CaptureFormat, ClientSummary, DetachReason, ErrorCode, ExitStatus, RequestId, Role,
    ServerStatus, SessionInfo, SessionSpec, TermSize, WebGrant,
};

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
    /// Replace the running server with `server_binary`, carrying every session and
    /// connection over; answered by `Upgraded` from the new server (on this same
    /// connection), or by `Error` when the old server refuses and goes on serving.
    Upgrade {
        /// Echoed in the reply.
        request_id: RequestId,
        /// The new `fugue-server` executable, an absolute path.
        server_binary: String,
    },
    /// Stream this session's events (or every session's) to this client as `Event`
    /// messages, until it disconnects; answered by `Done` (protocol 6).
    Subscribe {
        /// Echoed in the reply.
        request_id: RequestId,
        /// The session's name or id; `None` for every session, those created later too.
        session: Option<String>,
    },
    /// Take a session for this client alone (`fugue run` takes it while its command runs);
    /// answered by `Done` once no other client holds it. Released by `Release` or when the
    /// client disconnects (protocol 6).
    Claim {
        /// Echoed in the reply.
        request_id: RequestId,
        /// The session's name or id.
        session: String,
    },
    /// Give a claimed session back; answered by `Done` (protocol 6).
    Release {
        /// Echoed in the reply.
        request_id: RequestId,
        /// The session's name or id.
        session: String,
    },
    /// The client's ssh agent socket (its `SSH_AUTH_SOCK`), which the sessions it creates
    /// or attaches to interactively use from then on; answered by `Done` (protocol 6).
    SetAgent {
        /// Echoed in the reply.
        request_id: RequestId,
        /// An absolute path.
        path: String,
    },
    /// Move the interactive client attached to `from` most recently (the terminal that
    /// typed `fugue switch` in it) to session `to`: it gets an `Attached` with request id 0,
    /// which no client uses for a request; answered by `Done` (protocol 6).
    Switch {
        /// Echoed in the reply.
        request_id: RequestId,
        /// The session the client is in (name or id).
        from: String,
        /// The session to move it to (name or id).
        to: String,
    },
    /// `Attach` with a fresh screen whose snapshot first replays up to `history` lines of
    /// the session's scrollback into the client terminal's own scrollback (only while the
    /// session shows its primary screen), pushed off a screen of `size.rows` (protocol 7).
    AttachWithHistory {
        /// Echoed in the reply.
        request_id: RequestId,
        /// The session's name or id.
        session: String,
        /// The client's terminal size.
        size: TermSize,
        /// Lines of scrollback to replay.
        history: u32,
    },
    /// Serve the browser viewer (starting the server's HTTP listener if it is not running
    /// yet) and mint a token for it; answered by `WebLink` (protocol 8).
    ServeWeb {
        /// Echoed in the reply.
        request_id: RequestId,
        /// What the link may do, and for how long.
        grant: WebGrant,
    },
    /// Revoke every browser token minted so far (connections they opened are closed);
    /// answered by `WebRevoked` (protocol 8).
    RevokeWebTokens {
        /// Echoed in the reply.
        request_id: RequestId,
    },
    /// List every connected client, terminal and browser; answered by `Clients`
    /// (protocol 8).
    ListClients {
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
        /// The output position the capture stands for (protocol 6).
        seq: u64,
    },
    /// The answer to `Status`.
    Status {
        /// The request.
        request_id: RequestId,
        /// The report.
        status: ServerStatus,
    },
    /// The answer to `Upgrade`, sent by the new server once it serves.
    Upgraded {
        /// The request.
        request_id: RequestId,
        /// The version of the server that was replaced.
        from_version: String,
        /// The version of the server now running.
        to_version: String,
        /// Sessions carried over.
        sessions: u32,
        /// Client connections carried over (the upgrading one included).
        clients: u32,
        /// Milliseconds from the old server's last request served to the new one's first.
        pause_ms: u32,
    },
    /// The answer to `SendInput` (protocol 6; older clients get `Done`): the input was
    /// written to the program when the session's output stood at `seq`, so everything the
    /// program printed in response comes after it.
    InputTaken {
        /// The request.
        request_id: RequestId,
        /// The sequence number of the last output chunk before the input.
        seq: u64,
    },
    /// Something happened to a session this client subscribed to (protocol 6).
    Event {
        /// What, where and when.
        event: SessionEvent,
    },
    /// This subscriber fell behind and `count` events were not sent to it (protocol 6).
    EventsLost {
        /// How many.
        count: u64,
    },
    /// The answer to `ServeWeb` (protocol 8).
    WebLink {
        /// The request.
        request_id: RequestId,
        /// The link to open: the listener's address, the token in its fragment.
        url: String,
        /// The token alone (256 random bits, hex); the server keeps only its hash.
        token: String,
        /// When it expires, milliseconds since the Unix epoch.
        expires_unix_ms: u64,
    },
    /// The answer to `RevokeWebTokens` (protocol 8).
    WebRevoked {
        /// The request.
        request_id: RequestId,
        /// Tokens revoked.
        tokens: u32,
        /// Browser connections closed.
        connections: u32,
    },
    /// The answer to `ListClients` (protocol 8).
    Clients {
        /// The request.
        request_id: RequestId,
        /// Every connected client, oldest first.
        clients: Vec<ClientSummary>,
    },
}
