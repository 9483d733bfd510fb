//! What successful requests return beyond the protocol's own types, and how replies
//! become them (or a [`ClientError`]).

use bytes::Bytes;
use fugue_protocol::{ServerMessage, SessionInfo, TermSize};
use serde::Serialize;

use crate::error::ClientError;
use crate::handshake::message_name;

/// The result of a successful attach.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The session attached to.
    pub session: SessionInfo,
    /// The stream position the snapshot stands for.
    pub seq: u64,
    /// Bytes that clear and redraw the screen; write them to the terminal first.
    pub snapshot: Option<Bytes>,
}

/// A session's screen as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capture {
    /// The screen (and scrollback), rows separated by `\n`.
    pub text: String,
    /// The cursor's zero-based row.
    pub cursor_row: u16,
    /// The cursor's zero-based column.
    pub cursor_col: u16,
    /// The screen size.
    pub size: TermSize,
}

/// Turns an `Error` reply into [`ClientError::Server`].
pub(crate) fn check(reply: ServerMessage) -> Result<ServerMessage, ClientError> {
    match reply {
        ServerMessage::Error { code, message, .. } => Err(ClientError::Server { code, message }),
        other => Ok(other),
    }
}

pub(crate) fn unexpected(reply: &ServerMessage) -> ClientError {
    ClientError::UnexpectedReply(message_name(reply).to_owned())
}

/// The [`Attachment`] an `Attached` reply describes.
pub(crate) fn attachment(reply: ServerMessage) -> Result<Attachment, ClientError> {
    match reply {
        ServerMessage::Attached {
            session,
            seq,
            snapshot,
            ..
        } => Ok(Attachment {
            session,
            seq,
            snapshot,
        }),
        other => Err(unexpected(&other)),
    }
}
