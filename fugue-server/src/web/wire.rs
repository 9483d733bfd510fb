//! The browser viewer's messages (`docs/browser-protocol.md`): JSON text frames
//! `{"type": …, "payload": …}` read into [`FromBrowser`], the server's written by small
//! constructors, and binary output frames (an 8-byte big-endian sequence number, then the
//! bytes).

use axum::extract::ws::{CloseFrame, Message};
use bytes::{BufMut, BytesMut};
use fugue_protocol::{DetachReason, ExitStatus, SessionInfo};
use serde::Deserialize;
use serde_json::{Value, json};

/// Close codes the page acts on (the protocol document's table).
pub(crate) mod close {
    /// The server shuts down or is upgraded: reconnect.
    pub(crate) const GOING_AWAY: u16 = 1001;
    /// A WebSocket protocol error (a frame the library could not read).
    pub(crate) const PROTOCOL_ERROR: u16 = 1002;
    /// A frame over the cap.
    pub(crate) const TOO_BIG: u16 = 1009;
    /// The server failed: reconnect.
    pub(crate) const SERVER_ERROR: u16 = 1011;
    /// No `auth` first, or `auth` twice.
    pub(crate) const PROTOCOL: u16 = 4400;
    /// The token is wrong, expired or revoked.
    pub(crate) const UNAUTHORIZED: u16 = 4401;
    /// Nothing heard for the idle timeout.
    pub(crate) const IDLE: u16 = 4408;
    /// A newer connection of the same device took this one's place.
    pub(crate) const REPLACED: u16 = 4409;
    /// Too many failed attempts, or too many browsers.
    pub(crate) const BUSY: u16 = 4429;
}

/// A text frame from the browser.
#[derive(Debug)]
pub(crate) enum FromBrowser {
    Auth(Auth),
    Ping,
    List,
    Attach(AttachRequest),
    Resize {
        cols: u16,
        rows: u16,
    },
    Ack {
        seq: u64,
    },
    Detach,
    /// A well-formed envelope of a type the server does not know.
    Unknown(String),
}

/// `auth`'s payload.
#[derive(Debug, Deserialize)]
pub(crate) struct Auth {
    /// The link's token.
    pub(crate) token: String,
    /// The tab's device id, kept by the page.
    pub(crate) device: Option<uuid::Uuid>,
}

/// `attach`'s payload.
#[derive(Debug, Deserialize)]
pub(crate) struct AttachRequest {
    /// The session's name or id.
    pub(crate) session: String,
    /// The page's terminal size.
    pub(crate) cols: u16,
    pub(crate) rows: u16,
    /// Resume after this sequence number instead of a fresh screen.
    pub(crate) resume_from: Option<u64>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Value,
}

#[derive(Deserialize)]
struct Size {
    cols: u16,
    rows: u16,
}

#[derive(Deserialize)]
struct Ack {
    seq: u64,
}

impl FromBrowser {
    /// Reads a text frame; the error is a sentence for the `bad_message` reply.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let envelope: Envelope =
            serde_json::from_str(text).map_err(|err| format!("not a message envelope: {err}"))?;
        let payload = envelope.payload;
        let bad = |err: serde_json::Error| format!("bad {} payload: {err}", envelope.kind);
        Ok(match envelope.kind.as_str() {
            "auth" => FromBrowser::Auth(serde_json::from_value(payload).map_err(bad)?),
            "ping" => FromBrowser::Ping,
            "list" => FromBrowser::List,
            "attach" => FromBrowser::Attach(serde_json::from_value(payload).map_err(bad)?),
            "resize" => {
                let Size { cols, rows } = serde_json::from_value(payload).map_err(bad)?;
                FromBrowser::Resize { cols, rows }
            }
            "ack" => {
                let Ack { seq } = serde_json::from_value(payload).map_err(bad)?;
                FromBrowser::Ack { seq }
            }
            "detach" => FromBrowser::Detach,
            _ => FromBrowser::Unknown(envelope.kind),
        })
    }
}

/// A text frame of `kind` with `payload`.
pub(crate) fn message(kind: &str, payload: Value) -> Message {
    Message::Text(
        json!({ "type": kind, "payload": payload })
            .to_string()
            .into(),
    )
}

/// An `error` reply.
pub(crate) fn error(code: &str, text: &str) -> Message {
    message("error", json!({ "code": code, "message": text }))
}

/// A close frame with `code` and a short reason.
pub(crate) fn closing(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Output as a binary frame: the sequence number after `data`, then `data`.
pub(crate) fn output(seq: u64, data: &[u8]) -> Message {
    let mut frame = BytesMut::with_capacity(8 + data.len());
    frame.put_u64(seq);
    frame.put_slice(data);
    Message::Binary(frame.freeze())
}

/// A session as the page lists it.
pub(crate) fn session(info: &SessionInfo) -> Value {
    json!({
        "id": info.id,
        "name": info.name,
        "cols": info.size.cols,
        "rows": info.size.rows,
        "clients": info.attached_clients,
        "command": info.command,
    })
}

/// `exited`'s payload.
pub(crate) fn exited(session: &str, status: ExitStatus) -> Value {
    let signal = match status {
        ExitStatus::Signal { signal } => Some(signal),
        ExitStatus::Code { .. } => None,
    };
    json!({ "session": session, "status": status.shell_code(), "signal": signal })
}

/// A detach reason's name on the wire.
pub(crate) fn reason(reason: DetachReason) -> &'static str {
    match reason {
        DetachReason::Requested => "requested",
        DetachReason::Replaced => "replaced",
        DetachReason::SessionEnded => "session_ended",
        DetachReason::ServerShutdown => "server_shutdown",
        DetachReason::TooSlow => "too_slow",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_read_by_type_and_unknown_types_kept_apart_from_bad_ones() {
        let attach = r#"{"type":"attach","payload":{"session":"w","cols":80,"rows":24}}"#;
        assert!(matches!(
            FromBrowser::parse(attach),
            Ok(FromBrowser::Attach(AttachRequest {
                resume_from: None,
                cols: 80,
                ..
            }))
        ));
        assert!(matches!(
            FromBrowser::parse(r#"{"type":"ping"}"#),
            Ok(FromBrowser::Ping)
        ));
        assert!(matches!(
            FromBrowser::parse(r#"{"type":"dance"}"#),
            Ok(FromBrowser::Unknown(kind)) if kind == "dance"
        ));
        assert!(FromBrowser::parse(r#"{"type":"ack","payload":{"seq":-1}}"#).is_err());
        assert!(FromBrowser::parse("[1,2]").is_err());
    }

    #[test]
    fn output_frames_lead_with_the_big_endian_sequence_number() {
        let Message::Binary(frame) = output(0x0102, b"hi") else {
            panic!("output is a binary frame");
        };
        assert_eq!(&frame[..], b"\0\0\0\0\0\0\x01\x02hi");
    }
}
