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
    /// The output position the capture stands for: the sequence number of the last output
    /// chunk drawn on it.
    pub seq: u64,
}

/// What an upgrade did, as the new server reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upgrade {
    /// The version of the server that was replaced.
    pub from_version: String,
    /// The version now running.
    pub to_version: String,
    /// Sessions carried over.
    pub sessions: u32,
    /// Client connections carried over (the upgrading one included).
    pub clients: u32,
    /// How long the server paused serving requests, in milliseconds.
    pub pause_ms: u32,
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

/// The [`Upgrade`] an `Upgraded` reply describes.
pub(crate) fn upgrade(reply: ServerMessage) -> Result<Upgrade, ClientError> {
    match reply {
        ServerMessage::Upgraded {
            from_version,
            to_version,
            sessions,
            clients,
            pause_ms,
            ..
        } => Ok(Upgrade {
            from_version,
            to_version,
            sessions,
            clients,
            pause_ms,
        }),
        other => Err(unexpected(&other)),
    }
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
