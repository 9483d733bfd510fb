//! The requests about the server itself: [`Client::status`], [`Client::kill_server`] and
//! [`Client::upgrade`].

use fugue_protocol::{ClientMessage, ServerMessage, ServerStatus};

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
}
