//! The requests about the server itself: [`Client::status`], [`Client::kill_server`],
//! [`Client::upgrade`], the clients it serves ([`Client::list_clients`]) and its browser
//! viewer ([`Client::serve_web`], [`Client::revoke_web_tokens`]).

use fugue_protocol::{ClientMessage, ClientSummary, ServerMessage, ServerStatus, WebGrant};

use crate::client::Client;
use crate::error::ClientError;
use crate::replies::{Upgrade, unexpected};

impl Client {
    /// Asks for the server's health report.
    ///
    /// # Errors
    ///
    /// [`ClientError::Closed`] if the connection is gone.
    pub async fn status(&self) -> Result<ServerStatus, ClientError> {
        match self
            .request(|request_id| ClientMessage::Status { request_id })
            .await?
        {
            ServerMessage::Status { status, .. } => Ok(status),
            other => Err(unexpected(&other)),
        }
    }

    /// Asks the server to shut down; returns once it has agreed.
    ///
    /// # Errors
    ///
    /// [`ClientError::Closed`] if the connection is gone before the answer.
    pub async fn kill_server(&self) -> Result<(), ClientError> {
        self.request_done(|request_id| ClientMessage::KillServer { request_id })
            .await
    }

    /// Replaces the running server with `server_binary` (an absolute path to a
    /// `fugue-server`), carrying every session and connection over; returns once the new
    /// server answers, on this same connection.
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with `UpgradeRefused` when the server refuses (the binary is
    /// missing, not a fugue-server, or cannot read its state; the old server goes on);
    /// [`ClientError::Closed`] if the connection is lost.
    pub async fn upgrade(&self, server_binary: &std::path::Path) -> Result<Upgrade, ClientError> {
        let server_binary = server_binary.to_string_lossy().into_owned();
        let reply = self
            .request(|request_id| ClientMessage::Upgrade {
                request_id,
                server_binary,
            })
            .await?;
        crate::replies::upgrade(reply)
    }

    /// Lists every connected client, terminals and browsers (protocol 8).
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] from a server older than protocol 8; as for any request.
    pub async fn list_clients(&self) -> Result<Vec<ClientSummary>, ClientError> {
        self.needs_web()?;
        match self
            .request(|request_id| ClientMessage::ListClients { request_id })
            .await?
        {
            ServerMessage::Clients { clients, .. } => Ok(clients),
            other => Err(unexpected(&other)),
        }
    }

    /// Asks the server to serve its browser viewer (starting the listener if needed) and to
    /// mint a link with `grant` (protocol 8).
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] when the server refuses (an unknown session, an address it
    /// cannot or will not bind) or is older than protocol 8.
    pub async fn serve_web(&self, grant: WebGrant) -> Result<WebLink, ClientError> {
        self.needs_web()?;
        match self
            .request(|request_id| ClientMessage::ServeWeb { request_id, grant })
            .await?
        {
            ServerMessage::WebLink {
                url,
                token,
                expires_unix_ms,
                ..
            } => Ok(WebLink {
                url,
                token,
                expires_unix_ms,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Revokes every browser link; returns how many tokens and connections it ended.
    ///
    /// # Errors
    ///
    /// As for [`Client::serve_web`].
    pub async fn revoke_web_tokens(&self) -> Result<(u32, u32), ClientError> {
        self.needs_web()?;
        match self
            .request(|request_id| ClientMessage::RevokeWebTokens { request_id })
            .await?
        {
            ServerMessage::WebRevoked {
                tokens,
                connections,
                ..
            } => Ok((tokens, connections)),
            other => Err(unexpected(&other)),
        }
    }

    fn needs_web(&self) -> Result<(), ClientError> {
        if self.protocol_version() >= WEB_VERSION {
            return Ok(());
        }
        Err(ClientError::Server {
            code: fugue_protocol::ErrorCode::InvalidRequest,
            message: format!(
                "fugue-server {} is older than this fugue: upgrade it with `fugue upgrade`",
                self.server_version()
            ),
        })
    }
}

/// The first protocol with the browser viewer and `ListClients`.
const WEB_VERSION: u32 = 8;

/// A browser link, as [`Client::serve_web`] returns it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebLink {
    /// The link to open; the token is in its fragment.
    pub url: String,
    /// The token alone.
    pub token: String,
    /// When it expires, milliseconds since the Unix epoch.
    pub expires_unix_ms: u64,
}
