//! The requests scripts use: [`Client::send_to_session`] with the position it returns,
//! [`Client::subscribe`] to follow sessions, [`Client::claim`] and [`Client::release`] to
//! take turns.

use std::sync::Arc;

use bytes::Bytes;
use fugue_protocol::{ClientMessage, ServerMessage};

use crate::chunk::chunks;
use crate::client::Client;
use crate::error::ClientError;
use crate::replies::unexpected;

impl Client {
    /// Writes input to a session without attaching, in chunks of at most
    /// [`crate::MAX_INPUT_CHUNK`] bytes, each confirmed by the server once the program has
    /// it before the next is sent. Returns the output position at the moment the last byte
    /// reached the program: everything it prints in response comes after it (see
    /// [`Client::wait_after`]).
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with `UnknownSession`; [`ClientError::Closed`].
    pub async fn send_to_session(&self, session: &str, data: Bytes) -> Result<u64, ClientError> {
        let mut seq = 0;
        // Nothing to send still asks: the answer is the position now (or a refusal).
        let pieces: Vec<Bytes> = if data.is_empty() {
            vec![data]
        } else {
            chunks(data).collect()
        };
        for chunk in pieces {
            let session = session.to_owned();
            let reply = self
                .request(|request_id| ClientMessage::SendInput {
                    request_id,
                    session,
                    data: chunk,
                })
                .await?;
            seq = match reply {
                ServerMessage::InputTaken { seq, .. } => seq,
                other => return Err(unexpected(&other)),
            };
        }
        Ok(seq)
    }

    /// Streams events (created, renamed, exited, attached, title, bell, idle, …) of one
    /// session, or of every session with `None`, to this connection's [`Events`](crate::Events) as
    /// [`crate::Event::Session`], until the connection closes. A subscriber that does not
    /// keep up loses events, reported as [`crate::Event::EventsLost`]; it never slows a
    /// session.
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with `UnknownSession`; [`ClientError::Closed`].
    pub async fn subscribe(&self, session: Option<&str>) -> Result<(), ClientError> {
        let session = session.map(str::to_owned);
        self.request_done(|request_id| ClientMessage::Subscribe {
            request_id,
            session,
        })
        .await
    }

    /// Takes a session's claim for this connection: waits until no other client holds it,
    /// and holds it until [`Client::release`] or until this connection closes. Claims
    /// serialise the clients that take them ([`Client::run`] holds one while its command
    /// runs); they do not stop anyone from typing.
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with `UnknownSession`; [`ClientError::Closed`].
    pub async fn claim(&self, session: &str) -> Result<(), ClientError> {
        let session = session.to_owned();
        self.request_done(|request_id| ClientMessage::Claim {
            request_id,
            session,
        })
        .await
    }

    /// Moves the terminal attached to session `from` (its latest interactive client: the
    /// one whose user typed last) to session `to`, as `fugue switch` does from inside a
    /// session. The moved client sees [`crate::Event::Switched`].
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with `UnknownSession`, `NotAttached` (no terminal is attached
    /// to `from` interactively) or `InvalidRequest` (the same session, or a client too old to
    /// be switched); [`ClientError::Closed`].
    pub async fn switch_client(&self, from: &str, to: &str) -> Result<(), ClientError> {
        let (from, to) = (from.to_owned(), to.to_owned());
        self.request_done(|request_id| ClientMessage::Switch {
            request_id,
            from,
            to,
        })
        .await
    }

    /// Gives back a session taken with [`Client::claim`].
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with `UnknownSession`; [`ClientError::Closed`].
    pub async fn release(&self, session: &str) -> Result<(), ClientError> {
        let session = session.to_owned();
        self.request_done(|request_id| ClientMessage::Release {
            request_id,
            session,
        })
        .await
    }

    /// Tells the server the options' ssh agent, if there is one and the server knows how
    /// to use it. A refusal (a path the server finds invalid) is no reason to fail.
    pub(crate) async fn tell_agent(&self) -> Result<(), ClientError> {
        let Some(agent) = &self.options().agent else {
            return Ok(());
        };
        if self.protocol_version() < 6 {
            return Ok(());
        }
        let path = agent.to_string_lossy().into_owned();
        match self
            .request_done(|request_id| ClientMessage::SetAgent { request_id, path })
            .await
        {
            Err(err @ ClientError::Closed) => Err(err),
            _ => Ok(()),
        }
    }

    /// The lock that `run`s on session `id` through this connection take turns with.
    pub(crate) fn run_turn(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut runs = self
            .run_locks()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Locks nobody holds or waits for are dropped, so the map stays small.
        runs.retain(|_, lock| Arc::strong_count(lock) > 1);
        Arc::clone(runs.entry(id.to_owned()).or_default())
    }
}
