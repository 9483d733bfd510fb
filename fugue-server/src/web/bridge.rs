//! A browser's connection inside the server: a socket pair whose far end is served by an
//! ordinary connection task ([`crate::connection::serve_browser`]), and whose near end the
//! gateway speaks the fugue protocol on. Requests go through a small queue to a writer
//! task, so the gateway never blocks on them while output waits to be read.

use std::sync::Arc;

use fugue_protocol::{ClientCodec, ClientMessage, PROTOCOL_VERSION, Role, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedReadHalf;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};
use uuid::Uuid;

use crate::clients::Browser;
use crate::connection;
use crate::state::Shared;

/// Requests waiting for the writer task; the gateway stops reading its browser while full.
const QUEUE: usize = 64;

/// The gateway's end of a browser's connection.
pub(super) struct Bridge {
    reader: FramedRead<OwnedReadHalf, ClientCodec>,
    requests: mpsc::Sender<ClientMessage>,
    next_request: u32,
}

impl Bridge {
    /// Opens the connection, registering the browser with `identity` (its device) and
    /// `role`; returns it with the client id the server gave it.
    pub(super) async fn open(
        shared: &Arc<Shared>,
        browser: Browser,
        identity: Option<Uuid>,
        role: Role,
    ) -> Option<(Bridge, u64)> {
        let (near, far) = UnixStream::pair().ok()?;
        tokio::spawn(connection::serve_browser(
            shared.clone(),
            far,
            Arc::new(browser),
        ));
        let (read, write) = near.into_split();
        let codec = ClientCodec::with_max_frame_len(shared.config.max_frame_len);
        let mut reader = FramedRead::new(read, codec.clone());
        let mut writer = FramedWrite::new(write, codec);
        let hello = ClientMessage::Hello {
            protocol_version: PROTOCOL_VERSION,
            client_name: "browser".to_owned(),
            identity,
            role,
        };
        writer.send(hello).await.ok()?;
        let welcome = tokio::time::timeout(shared.config.handshake_timeout, reader.next());
        let Ok(Some(Ok(ServerMessage::Welcome { client_id, .. }))) = welcome.await else {
            return None;
        };
        let (requests, mut queued) = mpsc::channel::<ClientMessage>(QUEUE);
        tokio::spawn(async move {
            while let Some(msg) = queued.recv().await {
                if writer.send(msg).await.is_err() {
                    return;
                }
            }
        });
        let bridge = Bridge {
            reader,
            requests,
            next_request: 1,
        };
        Some((bridge, client_id))
    }

    /// Whether a request can be queued now.
    pub(super) fn has_room(&self) -> bool {
        self.requests.capacity() > 0
    }

    /// Queues `msg`; false if the connection is gone (or, never when [`Self::has_room`]
    /// was true, the queue is full).
    pub(super) fn send(&mut self, msg: ClientMessage) -> bool {
        self.requests.try_send(msg).is_ok()
    }

    /// Answers the server's ping; false only if the connection is gone. A full queue
    /// drops the answer: the server counts a client it keeps waiting as heard.
    pub(super) fn pong(&mut self, nonce: u64) -> bool {
        match self.requests.try_send(ClientMessage::Pong { nonce }) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queues the request `make` builds with a fresh request id.
    pub(super) fn request(&mut self, make: impl FnOnce(u32) -> ClientMessage) -> bool {
        let id = self.next_request;
        self.next_request = self.next_request.wrapping_add(1).max(1);
        self.send(make(id))
    }

    /// The server's next message; `None` once the connection ended.
    pub(super) async fn next(&mut self) -> Option<ServerMessage> {
        match self.reader.next().await {
            Some(Ok(msg)) => Some(msg),
            Some(Err(err)) => {
                tracing::warn!(%err, "browser bridge: unreadable frame from the server");
                None
            }
            None => None,
        }
    }
}
