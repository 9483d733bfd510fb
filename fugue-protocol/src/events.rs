//! What `Subscribe` streams: one [`SessionEvent`] per thing that happened to a session.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::types::{ExitStatus, Role, TermSize};

/// Something that happened to a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEvent {
    /// The session's id.
    pub session: Uuid,
    /// Its name (after the change, for a rename).
    pub name: String,
    /// The output position it happened at, where it has one: the sequence number of the
    /// last output chunk before it (for output events, of the chunk that caused it).
    pub seq: Option<u64>,
    /// When, in milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// What happened.
    pub kind: EventKind,
}

/// What happened to a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// The session was created.
    Created,
    /// The session was renamed.
    Renamed {
        /// Its previous name.
        from: String,
    },
    /// A client asked for the session to be killed (its program is hung up on; `Exited`
    /// follows).
    Killed,
    /// The session's program ended, and with it the session.
    Exited {
        /// How it ended.
        status: ExitStatus,
    },
    /// A client attached.
    Attached {
        /// The client's id.
        client: u64,
        /// Its role.
        role: Role,
    },
    /// A client detached (or went away).
    Detached {
        /// The client's id.
        client: u64,
    },
    /// The PTY changed size.
    Resized {
        /// The new size.
        size: TermSize,
    },
    /// The program set the terminal's title (OSC 0 or 2).
    Title {
        /// The new title.
        title: String,
    },
    /// The program rang the bell.
    Bell,
    /// Output came after the session had been idle (or for the first time).
    Activity,
    /// No output for the server's idle time since the last activity.
    Idle,
}

impl EventKind {
    /// The kind's name, as `fugue events` prints it.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Renamed { .. } => "renamed",
            EventKind::Killed => "killed",
            EventKind::Exited { .. } => "exited",
            EventKind::Attached { .. } => "attached",
            EventKind::Detached { .. } => "detached",
            EventKind::Resized { .. } => "resized",
            EventKind::Title { .. } => "title",
            EventKind::Bell => "bell",
            EventKind::Activity => "activity",
            EventKind::Idle => "idle",
        }
    }
}
