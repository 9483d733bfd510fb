//! `ServerError`: why the server could not start or bind its socket.

use std::io;
use std::path::PathBuf;

/// A failure that stops the server from starting. Per-connection and per-session failures
/// are not errors of this kind: they are answered to the client and logged.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Another server answers on the socket.
    #[error("fugue-server is already running on {}", path.display())]
    AlreadyRunning {
        /// The socket path.
        path: PathBuf,
    },
    /// The socket directory is unsafe to use.
    #[error("refusing to use socket directory {}: {reason}", path.display())]
    UnsafeDirectory {
        /// The directory.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The state an upgrading server handed over cannot be taken over.
    #[error("cannot take over from the previous server: {reason}")]
    Handoff {
        /// What is wrong with it.
        reason: String,
    },
    /// A file system or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl ServerError {
    pub(crate) fn io(context: impl Into<String>, source: impl Into<io::Error>) -> Self {
        ServerError::Io {
            context: context.into(),
            source: source.into(),
        }
    }
}
