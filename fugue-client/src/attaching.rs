//! The requests that join a session's stream and leave it: create-and-attach, attach
//! (fresh, with a scrollback replay, or resuming after a position).

use fugue_protocol::{ClientMessage, SessionSpec, TermSize};

use crate::client::Client;
use crate::error::ClientError;
use crate::replies::{Attachment, attachment};

/// The first protocol with `AttachWithHistory`.
const HISTORY_VERSION: u32 = 7;

impl Client {
    /// Starts a session and attaches to it in one request: no output or exit status of the
    /// program can be missed, however quickly it exits.
    ///
    /// # Errors
    ///
    /// As for [`Client::create_session`] and [`Client::attach`].
    pub async fn create_and_attach(&self, spec: SessionSpec) -> Result<Attachment, ClientError> {
        let reply = self
            .request(|request_id| ClientMessage::CreateSession {
                request_id,
                spec,
                attach: true,
            })
            .await?;
        attachment(reply)
    }

    /// Attaches to a session by name or id. Live output then arrives as [`crate::Event::Output`].
    /// Whether the client may type is decided by the role it connected with.
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with `UnknownSession` or `ReadOnly` (a control client);
    /// [`ClientError::Closed`] if the connection is gone.
    pub async fn attach(&self, session: &str, size: TermSize) -> Result<Attachment, ClientError> {
        self.attach_from(session, size, None).await
    }

    /// Attaches with a fresh screen whose snapshot first replays up to `history` lines of
    /// the session's scrollback (with their colours) into the terminal's own scrollback,
    /// pushed off a screen of `size.rows`, so that they can be scrolled back to; only while
    /// the session shows its primary screen. A server older than protocol 7 (or `history`
    /// 0) gives a plain [`Client::attach`].
    ///
    /// # Errors
    ///
    /// As for [`Client::attach`].
    pub async fn attach_with_history(
        &self,
        session: &str,
        size: TermSize,
        history: u32,
    ) -> Result<Attachment, ClientError> {
        if history == 0 || self.protocol_version() < HISTORY_VERSION {
            return self.attach(session, size).await;
        }
        let session = session.to_owned();
        let reply = self
            .request(|request_id| ClientMessage::AttachWithHistory {
                request_id,
                session,
                size,
                history,
            })
            .await?;
        attachment(reply)
    }

    /// Attaches and resumes the output stream after `resume_from` (the last `seq` this
    /// program saw): if the server still has the missed bytes, the [`Attachment`] has no
    /// snapshot and the missed output arrives as ordinary [`crate::Event::Output`]; if not,
    /// it has a snapshot. With `None` this is [`Client::attach`].
    ///
    /// # Errors
    ///
    /// As for [`Client::attach`].
    pub async fn attach_from(
        &self,
        session: &str,
        size: TermSize,
        resume_from: Option<u64>,
    ) -> Result<Attachment, ClientError> {
        let session = session.to_owned();
        let reply = self
            .request(|request_id| ClientMessage::Attach {
                request_id,
                session,
                size,
                resume_from,
            })
            .await?;
        attachment(reply)
    }
}
