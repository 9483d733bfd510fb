//! `ClientError`: everything that can go wrong talking to a fugue server.

use std::io;
use std::path::PathBuf;

use fugue_protocol::{CodecError, ErrorCode, ExitStatus};

use crate::peer::ServerProcess;

/// A failure of the client library: connecting, the handshake, or a request.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket (it is missing or stale) and auto-start was off.
    #[error("no fugue-server running on {}", path.display())]
    NotRunning {
        /// The socket path tried.
        path: PathBuf,
    },
    /// Connecting to the socket failed for another reason (e.g. permissions).
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        /// The socket path tried.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Auto-starting the server failed; `reason` says how (often the server's own stderr).
    #[error("could not start fugue-server: {reason}")]
    StartServer {
        /// What went wrong.
        reason: String,
    },
    /// The server answered `Hello` with an error (version mismatch, busy, permission).
    #[error("fugue-server refused the connection: {message}")]
    Refused {
        /// The server's error code.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// The server speaks another protocol version: it is another build of fugue, typically
    /// one started before an upgrade. It cannot be asked anything, not even to stop; the
    /// CLI's `kill-server` stops it with SIGTERM through `server` instead.
    #[error(
        "fugue-server on {} is another version of fugue ({message}): stop it with \
         `fugue kill-server`, which ends its sessions, or use another socket with `--socket`",
        path.display()
    )]
    OtherVersion {
        /// The socket path.
        path: PathBuf,
        /// The server's explanation.
        message: String,
        /// The process that refused, identified on the refusing connection; `None` if it
        /// runs as another user or cannot be identified.
        server: Option<ServerProcess>,
    },
    /// The server on another machine speaks another protocol version.
    #[error(
        "fugue on {host} is another version ({message}); this is fugue {} speaking protocol \
         {}: install versions with a protocol in common on both machines",
        env!("CARGO_PKG_VERSION"),
        fugue_protocol::PROTOCOL_VERSION
    )]
    RemoteOtherVersion {
        /// The host.
        host: String,
        /// The server's explanation.
        message: String,
    },
    /// ssh could not reach the host or log in; `transient` when trying again may work (the
    /// network), not when it cannot (a refused key, a changed host key).
    #[error("ssh to {host} failed: {message}")]
    Ssh {
        /// The host.
        host: String,
        /// What ssh said.
        message: String,
        /// Whether the failure may pass.
        transient: bool,
    },
    /// ssh logged in, but `fugue proxy` could not run there or reach the server.
    #[error("cannot run fugue on {host}: {message}")]
    Remote {
        /// The host.
        host: String,
        /// What went wrong there.
        message: String,
    },
    /// Nothing came from the server over a link that can stall (ssh) for this long, though
    /// the client kept reading and pinging: the link is taken for dead.
    #[error("no word from fugue-server for {} s", after.as_secs())]
    Silent {
        /// How long it was silent.
        after: std::time::Duration,
    },
    /// The handshake did not complete: no answer in time or an unexpected first frame.
    #[error("handshake with fugue-server failed: {0}")]
    Handshake(String),
    /// The server refused a request; the message is the server's own.
    #[error("{message}")]
    Server {
        /// The server's error code, for programs to branch on.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// The connection closed before the request was answered.
    #[error("connection to fugue-server closed")]
    Closed,
    /// The server answered a request with a message of the wrong kind.
    #[error("unexpected reply from fugue-server: {0}")]
    UnexpectedReply(String),
    /// Framing or encoding failed, or the socket failed while reading or writing.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// `wait_after` was given a position the session's output has not reached.
    #[error("position {after} is ahead of session {session}'s output (at {current})")]
    PositionAhead {
        /// The session.
        session: String,
        /// The position asked for.
        after: u64,
        /// Where the output stood.
        current: u64,
    },
    /// The server no longer holds the output after the position (its replay ring moved
    /// on), or this watcher fell behind and lost some of it: nothing can be matched
    /// exactly any more.
    #[error("the output of session {session} after position {after} is no longer held")]
    OutputGone {
        /// The session.
        session: String,
        /// The position from which output is missing.
        after: u64,
    },
    /// The session ended while waiting or running.
    #[error("session {session} ended{}", match status {
        Some(status) => format!(" (its program exited with status {})", status.shell_code()),
        None => String::new(),
    })]
    SessionEnded {
        /// The session.
        session: String,
        /// How its program ended, if that was seen.
        status: Option<ExitStatus>,
    },
    /// `run` cannot type the command: it is empty, too long or holds control characters,
    /// or the session is running something else.
    #[error("cannot run in session {session}: {reason}")]
    CannotRun {
        /// The session.
        session: String,
        /// Why.
        reason: String,
    },
}

impl ClientError {
    /// Whether connecting again may succeed: the connection broke or a network failed,
    /// as opposed to a refusal that will be repeated (authentication, version, no server).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Ssh { transient, .. } => *transient,
            ClientError::Closed
            | ClientError::Codec(_)
            | ClientError::Handshake(_)
            | ClientError::Silent { .. } => true,
            _ => false,
        }
    }

    /// The server's error code when the server refused the request or the connection.
    pub fn server_code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } | ClientError::Refused { code, .. } => Some(*code),
            ClientError::OtherVersion { .. } | ClientError::RemoteOtherVersion { .. } => {
                Some(ErrorCode::VersionMismatch)
            }
            _ => None,
        }
    }
}
