//! Speaking to peers of older protocol versions: a [`ServerMessage`] as a client of
//! version `v` (at least [`crate::MIN_PROTOCOL_VERSION`]) reads it.
//!
//! Variants are append-only, so a message an old client knows has the same variant index
//! in every version; only the fields a later version appended to its parts differ. Here
//! each such message is written with the fields the peer's version had, and a reply a
//! version lacks is written as the one it had instead (`InputTaken` as `Done`). Other
//! messages a version lacks are never sent to it: they only answer requests that version
//! cannot make.

use serde::Serialize;
use serde::ser::{SerializeSeq, SerializeStruct, SerializeStructVariant, Serializer};

use crate::message::ServerMessage;
use crate::types::{ServerStatus, SessionInfo};

/// Variant indices of `ServerMessage` (pinned by the golden-bytes tests).
const DONE_INDEX: u32 = 4;
const SESSIONS_INDEX: u32 = 5;
const CREATED_INDEX: u32 = 6;
const ATTACHED_INDEX: u32 = 7;
const CAPTURED_INDEX: u32 = 12;
const STATUS_INDEX: u32 = 13;

/// `msg` as a peer of protocol `version` reads it.
pub(crate) struct ForPeer<'a> {
    msg: &'a ServerMessage,
    version: u32,
}

impl<'a> ForPeer<'a> {
    pub(crate) fn new(msg: &'a ServerMessage, version: u32) -> Self {
        ForPeer { msg, version }
    }
}

impl Serialize for ForPeer<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.version >= 6 {
            return self.msg.serialize(serializer);
        }
        // Version 6 appended `seq`, `foreground` and `shell_marks` to `SessionInfo`, `seq`
        // to `Captured`, and answers `SendInput` with `InputTaken` instead of `Done`.
        match self.msg {
            ServerMessage::InputTaken { request_id, .. } => {
                let mut out = variant(serializer, DONE_INDEX, "Done", 1)?;
                out.serialize_field("request_id", request_id)?;
                out.end()
            }
            ServerMessage::Sessions {
                request_id,
                sessions,
            } => {
                let mut out = variant(serializer, SESSIONS_INDEX, "Sessions", 2)?;
                out.serialize_field("request_id", request_id)?;
                out.serialize_field("sessions", &SessionsV5(sessions))?;
                out.end()
            }
            ServerMessage::Created {
                request_id,
                session,
            } => {
                let mut out = variant(serializer, CREATED_INDEX, "Created", 2)?;
                out.serialize_field("request_id", request_id)?;
                out.serialize_field("session", &SessionInfoV5(session))?;
                out.end()
            }
            ServerMessage::Attached { .. } | ServerMessage::Captured { .. } => {
                serialize_v5_screen(self.msg, serializer)
            }
            // Version 4 appended `pacing_missed_wake_ups` to `ServerStatus`.
            ServerMessage::Status { request_id, status } if self.version < 4 => {
                let mut out = variant(serializer, STATUS_INDEX, "Status", 2)?;
                out.serialize_field("request_id", request_id)?;
                out.serialize_field("status", &StatusV3(status))?;
                out.end()
            }
            msg => msg.serialize(serializer),
        }
    }
}

/// `Attached` and `Captured` as protocol 5 had them.
fn serialize_v5_screen<S: Serializer>(
    msg: &ServerMessage,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match msg {
        ServerMessage::Attached {
            request_id,
            session,
            seq,
            snapshot,
        } => {
            let mut out = variant(serializer, ATTACHED_INDEX, "Attached", 4)?;
            out.serialize_field("request_id", request_id)?;
            out.serialize_field("session", &SessionInfoV5(session))?;
            out.serialize_field("seq", seq)?;
            out.serialize_field("snapshot", snapshot)?;
            out.end()
        }
        ServerMessage::Captured {
            request_id,
            text,
            cursor,
            size,
            ..
        } => {
            let mut out = variant(serializer, CAPTURED_INDEX, "Captured", 4)?;
            out.serialize_field("request_id", request_id)?;
            out.serialize_field("text", text)?;
            out.serialize_field("cursor", cursor)?;
            out.serialize_field("size", size)?;
            out.end()
        }
        msg => msg.serialize(serializer),
    }
}

/// Starts writing variant `name` of `ServerMessage`, at `index`, with `len` fields.
fn variant<S: Serializer>(
    serializer: S,
    index: u32,
    name: &'static str,
    len: usize,
) -> Result<S::SerializeStructVariant, S::Error> {
    serializer.serialize_struct_variant("ServerMessage", index, name, len)
}

/// A list of sessions as protocol 5 (and 3 and 4) had them.
struct SessionsV5<'a>(&'a [SessionInfo]);

impl Serialize for SessionsV5<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_seq(Some(self.0.len()))?;
        for session in self.0 {
            out.serialize_element(&SessionInfoV5(session))?;
        }
        out.end()
    }
}

/// `SessionInfo` as protocol 5 had it: every field before `seq`.
struct SessionInfoV5<'a>(&'a SessionInfo);

impl Serialize for SessionInfoV5<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let info = self.0;
        let mut out = serializer.serialize_struct("SessionInfo", 8)?;
        out.serialize_field("id", &info.id)?;
        out.serialize_field("name", &info.name)?;
        out.serialize_field("command", &info.command)?;
        out.serialize_field("pid", &info.pid)?;
        out.serialize_field("created_unix_ms", &info.created_unix_ms)?;
        out.serialize_field("last_attached_unix_ms", &info.last_attached_unix_ms)?;
        out.serialize_field("attached_clients", &info.attached_clients)?;
        out.serialize_field("size", &info.size)?;
        out.end()
    }
}

/// `ServerStatus` as protocol 3 had it: every field before `pacing_missed_wake_ups`.
struct StatusV3<'a>(&'a ServerStatus);

impl Serialize for StatusV3<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let status = self.0;
        let mut out = serializer.serialize_struct("ServerStatus", 13)?;
        out.serialize_field("server_version", &status.server_version)?;
        out.serialize_field("protocol_version", &status.protocol_version)?;
        out.serialize_field("pid", &status.pid)?;
        out.serialize_field("uptime_ms", &status.uptime_ms)?;
        out.serialize_field("socket_path", &status.socket_path)?;
        out.serialize_field("clients", &status.clients)?;
        out.serialize_field("attached_clients", &status.attached_clients)?;
        out.serialize_field("sessions", &status.sessions)?;
        out.serialize_field("clients_by_role", &status.clients_by_role)?;
        out.serialize_field("messages_delivered", &status.messages_delivered)?;
        out.serialize_field("messages_dropped", &status.messages_dropped)?;
        out.serialize_field("lag_events", &status.lag_events)?;
        out.serialize_field("pacing_timeouts", &status.pacing_timeouts)?;
        out.end()
    }
}
