//! Before a connection is served: refusing it (another user, the client limit), or the
//! handshake, which turns a good `Hello` into the client's [`ClientMeta`].

use fugue_protocol::{
    ClientMessage, ErrorCode, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, ServerMessage,
};
use futures_util::SinkExt;
use tokio::net::unix::UCred;
use tokio::time::timeout;

use super::{Reader, Writer};
use crate::clients::ClientMeta;
use crate::refusal::{codec_error, error};
use crate::state::Shared;

/// Why the connection is refused before the handshake.
pub(crate) enum Refuse {
    Busy,
    OtherUser { uid: u32 },
}

/// Answers a refused connection with why, then lets it close.
pub(super) async fn refuse(shared: &Shared, reader: &mut Reader, writer: &mut Writer, why: Refuse) {
    let (code, message) = match why {
        Refuse::Busy => (
            ErrorCode::ServerBusy,
            "the server has reached its client limit".to_owned(),
        ),
        Refuse::OtherUser { uid } => (
            ErrorCode::PermissionDenied,
            format!("this server belongs to another user; you are uid {uid}"),
        ),
    };
    // Read the client's Hello first (bounded by the handshake timeout): closing with it
    // unread would make the client's send fail with a broken pipe before it could read why
    // it was refused.
    let _ = timeout(shared.config.handshake_timeout, reader.next()).await;
    write_now(shared, writer, error(None, code, message)).await;
}

/// Waits for a good `Hello`, answering anything else with an error; `None` when the
/// connection is not to be served.
pub(super) async fn handshake(
    shared: &Shared,
    reader: &mut Reader,
    writer: &mut Writer,
    cred: Option<UCred>,
) -> Option<ClientMeta> {
    let first = timeout(shared.config.handshake_timeout, reader.next()).await;
    let refusal = match first {
        Err(_) => error(
            None,
            ErrorCode::HandshakeTimeout,
            "no Hello within the handshake timeout",
        ),
        Ok(None) => return None,
        Ok(Some(Err(err))) => codec_error(&err),
        Ok(Some(Ok(ClientMessage::Hello {
            protocol_version,
            client_name,
            identity,
            role,
        }))) => {
            if (MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&protocol_version) {
                tracing::debug!(%client_name, ?role, protocol_version, "handshake");
                return Some(ClientMeta {
                    role,
                    identity,
                    pid: cred.and_then(|cred| cred.pid()),
                    uid: cred.map_or(u32::MAX, |cred| cred.uid()),
                    version: protocol_version,
                    agent: None,
                    browser: None,
                });
            }
            error(
                None,
                ErrorCode::VersionMismatch,
                format!(
                    "protocol version mismatch: client speaks {protocol_version}, fugue-server \
                     {} speaks {MIN_PROTOCOL_VERSION} to {PROTOCOL_VERSION}",
                    env!("CARGO_PKG_VERSION")
                ),
            )
        }
        Ok(Some(Ok(_))) => error(
            None,
            ErrorCode::HandshakeRequired,
            "the first message must be Hello",
        ),
    };
    write_now(shared, writer, refusal).await;
    None
}

/// Writes one message outside the main loop, bounded by the handshake timeout.
async fn write_now(shared: &Shared, writer: &mut Writer, msg: ServerMessage) {
    let _ = timeout(shared.config.handshake_timeout, writer.send(msg)).await;
}
