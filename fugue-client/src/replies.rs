//! What successful requests return beyond the protocol's own types.

use bytes::Bytes;
use fugue_protocol::{SessionInfo, TermSize};
use serde::Serialize;

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
