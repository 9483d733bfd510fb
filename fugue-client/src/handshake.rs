//! The handshake: `Hello` out, `Welcome` (or a refusal) back, before any other traffic.

use std::time::Duration;

use fugue_protocol::{ClientCodec, ClientMessage, ErrorCode, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio_util::codec::Framed;

use crate::error::ClientError;
use crate::link::Link;
use crate::options::ConnectOptions;
use crate::peer::ServerProcess;

/// How long the server may take to answer `Hello`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a server reached through ssh may take: logging in comes first.
const REMOTE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to look for a refusal after `Hello` could not be sent.
const REFUSAL_GRACE: Duration = Duration::from_millis(500);

/// What the server said in `Welcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Welcome {
    /// The server's crate version.
    pub(crate) server_version: String,
    /// The id the server gave this connection.
    pub(crate) client_id: u64,
    /// The protocol version the connection speaks.
    pub(crate) protocol_version: u32,
}

/// Sends `Hello` speaking protocol `version` and waits for the answer.
pub(crate) async fn handshake(
    framed: &mut Framed<Link, ClientCodec>,
    options: &ConnectOptions,
    version: u32,
) -> Result<Welcome, ClientError> {
    let hello = ClientMessage::Hello {
        protocol_version: version,
        client_name: options.client_name.clone(),
        identity: options.identity,
        role: options.role,
    };
    if let Err(send_failed) = framed.send(hello).await {
        // A server that refuses us (busy, another user) may close before reading Hello;
        // its reason is then already waiting, and says more than a broken pipe.
        let refusal = tokio::time::timeout(REFUSAL_GRACE, read_welcome(framed)).await;
        return match refusal {
            Ok(Err(refused @ ClientError::Refused { .. })) => {
                Err(explain(refused, options, framed.get_ref()))
            }
            _ => Err(send_failed.into()),
        };
    }
    let limit = match options.remote {
        Some(_) => REMOTE_HANDSHAKE_TIMEOUT,
        None => HANDSHAKE_TIMEOUT,
    };
    tokio::time::timeout(limit, read_welcome(framed))
        .await
        .map_err(|_| ClientError::Handshake("no answer to hello".to_owned()))?
        .map_err(|err| explain(err, options, framed.get_ref()))
}

/// A refusal for a version mismatch becomes [`ClientError::OtherVersion`], which says what
/// to do about it and, identified on this very connection, which process refused.
fn explain(err: ClientError, options: &ConnectOptions, link: &Link) -> ClientError {
    match (err, &options.remote) {
        (
            ClientError::Refused {
                code: ErrorCode::VersionMismatch,
                message,
            },
            Some(remote),
        ) => ClientError::RemoteOtherVersion {
            host: remote.host().to_owned(),
            message,
        },
        (
            ClientError::Refused {
                code: ErrorCode::VersionMismatch,
                message,
            },
            None,
        ) => ClientError::OtherVersion {
            path: options.socket_path.clone(),
            message,
            server: link.unix().and_then(ServerProcess::serving),
        },
        (other, _) => other,
    }
}

async fn read_welcome(framed: &mut Framed<Link, ClientCodec>) -> Result<Welcome, ClientError> {
    loop {
        let Some(frame) = framed.next().await else {
            return Err(ClientError::Handshake(
                "the server closed the connection".to_owned(),
            ));
        };
        match frame? {
            ServerMessage::Welcome {
                protocol_version,
                server_version,
                client_id,
            } => {
                return Ok(Welcome {
                    server_version,
                    client_id,
                    protocol_version,
                });
            }
            ServerMessage::Error { code, message, .. } => {
                return Err(ClientError::Refused { code, message });
            }
            ServerMessage::Ping { nonce } => framed.send(ClientMessage::Pong { nonce }).await?,
            other => {
                return Err(ClientError::Handshake(format!(
                    "expected welcome, got {}",
                    message_name(&other)
                )));
            }
        }
    }
}

/// The variant name of a server message, for error messages.
pub(crate) fn message_name(msg: &ServerMessage) -> &'static str {
    match msg {
        ServerMessage::Welcome { .. } => "welcome",
        ServerMessage::Ping { .. } => "ping",
        ServerMessage::Pong { .. } => "pong",
        ServerMessage::Error { .. } => "error",
        ServerMessage::Done { .. } => "done",
        ServerMessage::Sessions { .. } => "sessions",
        ServerMessage::Created { .. } => "created",
        ServerMessage::Attached { .. } => "attached",
        ServerMessage::Output { .. } => "output",
        ServerMessage::Resync { .. } => "resync",
        ServerMessage::SessionExited { .. } => "session-exited",
        ServerMessage::Detached { .. } => "detached",
        ServerMessage::Captured { .. } => "captured",
        ServerMessage::Status { .. } => "status",
        ServerMessage::Upgraded { .. } => "upgraded",
        ServerMessage::InputTaken { .. } => "input-taken",
        ServerMessage::Event { .. } => "event",
        ServerMessage::EventsLost { .. } => "events-lost",
        ServerMessage::WebLink { .. } => "web-link",
        ServerMessage::WebRevoked { .. } => "web-revoked",
        ServerMessage::Clients { .. } => "clients",
    }
}
