//! An async client for fugue, the terminal-session server: connect to `fugue-server` over
//! its Unix socket (or, with [`ConnectOptions::with_remote`], to another machine's through
//! ssh and `fugue proxy`), list, create, attach to, drive and capture sessions.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fugue_client::ClientError> {
//! use fugue_client::{Client, ConnectOptions, socket_path};
//! let options = ConnectOptions::new(socket_path(None)).with_auto_start(true);
//! let (client, _events) = Client::connect(&options).await?;
//! for session in client.list_sessions().await? {
//!     println!("{}", session.name);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # How a connection runs
//!
//! [`Client::connect`] shakes hands, then splits the socket between two tasks. The writer
//! task sends requests, answers the server's pings and pings the server after
//! [`DEFAULT_KEEPALIVE`] of silence. The reader task hands each reply to the request that
//! waits for it (matched by request id, so many requests may be in flight at once) and
//! queues everything else as an [`Event`] on the bounded [`Events`] stream.
//!
//! Not consuming events is allowed: the reader then stops reading the socket (backpressure;
//! the server resyncs this client later), except while a request waits for its reply, when
//! it keeps reading and drops output instead ([`Event::OutputLost`]). So awaiting a request
//! never deadlocks against an unread event stream. The reader's module docs give the rules.
//!
//! # Automation
//!
//! Every chunk of a session's output has a sequence number, its position. Scripts and
//! agents use positions instead of polling: [`Client::send_to_session`] returns the
//! position at which the input reached the program, [`Client::wait_after`] matches only
//! output after a position, [`Client::run`] types a command into the session's shell and
//! returns its exit status and exactly its output, and [`Client::subscribe`] streams
//! events ([`Event::Session`]). `examples/agent.rs` drives a session as an agent would.
//!
//! The `fugue` binary in this package is a thin CLI over this library; its files are
//! `main.rs`, `cli/`, `settings.rs`, `commands/`, `attach.rs`, `input.rs`, `forward.rs`,
//! `interrupts.rs`, `reconnect.rs`, `mirror.rs`, `terminal.rs`, `keys.rs`, `modes.rs`,
//! `readable.rs` and `table.rs`. The library's are the rest.

mod attaching;
mod chunk;
mod client;
mod connect;
mod error;
mod event;
mod handshake;
mod link;
mod options;
mod peer;
mod pending;
mod plain;
mod reader;
mod remote;
mod replies;
mod run;
mod scripting;
mod server;
mod watch;
mod writer;

pub use client::Client;
pub use connect::{START_DEADLINE, connect_raw};
pub use error::ClientError;
pub use event::{Event, Events};
pub use options::{
    ConnectOptions, DEFAULT_KEEPALIVE, REMOTE_KEEPALIVE, REMOTE_SILENCE_LIMIT, socket_path,
};
pub use peer::ServerProcess;
pub use remote::{Remote, SSH_COMMAND_ENV};
pub use replies::{Attachment, Capture, Upgrade};
pub use run::{RunOutcome, RunProgress};
pub use server::WebLink;
pub use watch::Match;

pub use fugue_protocol::{
    CaptureFormat, ClientSummary, DetachReason, ErrorCode, EventKind, ExitStatus, Foreground,
    MAX_INPUT_CHUNK, Role, ServerStatus, SessionEvent, SessionInfo, SessionSpec, TermSize,
    WebGrant,
};
