//! `Refusal`: why the server turns a request down, and the `Error` replies built from it.
//!
//! Every refusal is a typed value with its wire code ([`Refusal::code`]) and a sentence for
//! humans (its `Display`); handlers answer it with [`Refusal::reply`]. This module depends
//! on nothing else in the server, so any module can refuse without an import circle.

use fugue_protocol::{CodecError, ErrorCode, RequestId, ServerMessage, TermSize};

/// Largest terminal accepted, in rows.
pub(crate) const MAX_ROWS: u16 = 500;
/// Largest terminal accepted, in columns.
pub(crate) const MAX_COLS: u16 = 1000;

/// A request the server will not carry out, and why.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// No session has that name or id.
    #[error("no session named {0:?}")]
    UnknownSession(String),
    /// The session ended while the request was on its way.
    #[error("session {0:?} ended")]
    SessionEnded(String),
    /// The session ended before it took the input sent to it.
    #[error("the session ended before it took the input")]
    InputNotTaken,
    /// The session has no screen model to answer from.
    #[error("session {0:?} ended or has no screen model")]
    NoScreen(String),
    /// The name is taken.
    #[error("a session named {0:?} already exists")]
    DuplicateName(String),
    /// The name breaks the naming rules.
    #[error("invalid session name {name:?}: {why}")]
    InvalidName {
        /// The name asked for.
        name: String,
        /// Which rule it breaks.
        why: &'static str,
    },
    /// The terminal size is zero or absurd.
    #[error(
        "terminal size {}x{} is out of range (1 to {MAX_ROWS} rows, 1 to {MAX_COLS} columns)",
        .0.rows, .0.cols
    )]
    InvalidSize(TermSize),
    /// The program could not be started.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// The request needs an attached client.
    #[error("{0}")]
    NotAttached(&'static str),
    /// The client's role does not allow the request.
    #[error("{0}")]
    ReadOnly(&'static str),
    /// An upgrade was refused; the server goes on serving, unchanged.
    #[error("upgrade refused: {0}")]
    Upgrade(String),
    /// The client's queue could not take the answer.
    #[error("the client's queue is full or closed")]
    QueueFull,
    /// `Release` of a session this client has not claimed.
    #[error("this client has not claimed session {0:?}")]
    NotClaimed(String),
    /// A request whose contents make no sense.
    #[error("{0}")]
    Invalid(&'static str),
}

impl Refusal {
    /// The code a program branches on.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            Refusal::UnknownSession(_)
            | Refusal::SessionEnded(_)
            | Refusal::InputNotTaken
            | Refusal::NoScreen(_) => ErrorCode::UnknownSession,
            Refusal::DuplicateName(_) => ErrorCode::DuplicateName,
            Refusal::InvalidName { .. } => ErrorCode::InvalidName,
            Refusal::InvalidSize(_) => ErrorCode::InvalidSize,
            Refusal::Spawn(_) => ErrorCode::SpawnFailed,
            Refusal::NotAttached(_) => ErrorCode::NotAttached,
            Refusal::ReadOnly(_) => ErrorCode::ReadOnly,
            Refusal::QueueFull => ErrorCode::Internal,
            Refusal::NotClaimed(_) | Refusal::Invalid(_) => ErrorCode::InvalidRequest,
            Refusal::Upgrade(_) => ErrorCode::UpgradeRefused,
        }
    }

    /// The `Error` reply to the request `request_id` (none for messages without one).
    pub(crate) fn reply(&self, request_id: Option<RequestId>) -> ServerMessage {
        error(request_id, self.code(), self.to_string())
    }
}

/// Why a session's program could not be started.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnError {
    /// The command line is empty.
    #[error("the command is empty")]
    EmptyCommand,
    /// The working directory asked for is not a directory.
    #[error("cannot start {program:?}: {cwd:?} is not a directory")]
    NotADirectory {
        /// The program.
        program: String,
        /// The directory asked for.
        cwd: String,
    },
    /// No PTY could be opened or sized.
    #[error("cannot {what} a pty: {source}")]
    Pty {
        /// `open` or `size`.
        what: &'static str,
        /// The system's reason.
        #[source]
        source: pty_process::Error,
    },
    /// The program could not be executed.
    #[error("cannot start {program:?}: {source}")]
    Exec {
        /// The program.
        program: String,
        /// The system's reason.
        #[source]
        source: pty_process::Error,
    },
}

/// Checks a terminal size: 1 to 500 rows, 1 to 1000 columns.
pub(crate) fn check_size(size: TermSize) -> Result<TermSize, Refusal> {
    if (1..=MAX_ROWS).contains(&size.rows) && (1..=MAX_COLS).contains(&size.cols) {
        Ok(size)
    } else {
        Err(Refusal::InvalidSize(size))
    }
}

/// An `Error` message.
pub(crate) fn error(
    request_id: Option<RequestId>,
    code: ErrorCode,
    message: impl Into<String>,
) -> ServerMessage {
    ServerMessage::Error {
        request_id,
        code,
        message: message.into(),
    }
}

/// The `Error` that answers a frame the codec could not read; the connection then closes.
pub(crate) fn codec_error(err: &CodecError) -> ServerMessage {
    let code = match err {
        CodecError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
        _ => ErrorCode::MalformedFrame,
    };
    error(None, code, err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_at_both_ends() {
        assert!(check_size(TermSize { rows: 1, cols: 1 }).is_ok());
        assert!(
            check_size(TermSize {
                rows: MAX_ROWS,
                cols: MAX_COLS
            })
            .is_ok()
        );
        for bad in [(0, 80), (24, 0), (MAX_ROWS + 1, 80), (24, MAX_COLS + 1)] {
            let size = TermSize {
                rows: bad.0,
                cols: bad.1,
            };
            let refusal = check_size(size).unwrap_err();
            assert_eq!(refusal.code(), ErrorCode::InvalidSize);
            assert!(refusal.to_string().contains("out of range"), "{refusal}");
        }
    }

    #[test]
    fn a_reply_carries_the_code_and_the_sentence() {
        let reply = Refusal::DuplicateName("work".into()).reply(Some(7));
        assert_eq!(
            reply,
            ServerMessage::Error {
                request_id: Some(7),
                code: ErrorCode::DuplicateName,
                message: "a session named \"work\" already exists".into(),
            }
        );
    }
}
