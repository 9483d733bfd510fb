//! Speaking to peers of older protocol versions: a [`ServerMessage`] as a client of
//! version `v` (at least [`crate::MIN_PROTOCOL_VERSION`]) reads it.
//!
//! Variants are append-only, so a message an old client knows has the same variant index
//! in every version; only the fields a later version appended to its parts differ. Here
//! each such message is written with the fields the peer's version had. Messages a version
//! lacks altogether are never sent to it: they only answer requests that version cannot
//! make.

use serde::Serialize;
use serde::ser::{SerializeStruct, SerializeStructVariant, Serializer};

use crate::message::ServerMessage;
use crate::types::ServerStatus;

/// The variant index of `ServerMessage::Status` (pinned by the golden-bytes tests).
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
        match self.msg {
            // Version 4 appended `pacing_missed_wake_ups` to `ServerStatus`.
            ServerMessage::Status { request_id, status } if self.version < 4 => {
                let mut variant = serializer.serialize_struct_variant(
                    "ServerMessage",
                    STATUS_INDEX,
                    "Status",
                    2,
                )?;
                variant.serialize_field("request_id", request_id)?;
                variant.serialize_field("status", &StatusV3(status))?;
                variant.end()
            }
            msg => msg.serialize(serializer),
        }
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
