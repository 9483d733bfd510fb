//! What the server says to a browser, translated: output (counted against the
//! acknowledgement window), attach, resync, exit and detach, errors.

use bytes::Bytes;
use fugue_protocol::{ClientMessage, DetachReason, ErrorCode, ServerMessage, SessionInfo};
use serde_json::json;

use super::socket::{Flow, Page};
use super::wire::{self, close};

impl Page {
    /// The page rendered everything up to `seq`: that much leaves the window.
    pub(super) fn acked(&mut self, seq: u64) {
        while let Some(&(sent, len)) = self.unacked.front() {
            if sent > seq {
                break;
            }
            self.unacked.pop_front();
            self.unacked_bytes -= len;
        }
    }

    /// Sends output (counted in the window).
    pub(super) async fn output(&mut self, seq: u64, data: &[u8]) -> Flow {
        self.unacked.push_back((seq, data.len()));
        self.unacked_bytes += data.len();
        self.out(wire::output(seq, data)).await
    }

    /// Relays one message from the server (`None`: the connection ended).
    pub(super) async fn on_server(&mut self, msg: Option<ServerMessage>) -> Flow {
        let Some(msg) = msg else {
            return self
                .close(close::SERVER_ERROR, "the server ended the connection")
                .await;
        };
        match msg {
            // Only the output of the session it attached to (and may see) reaches it.
            ServerMessage::Output { session, .. } if !self.attached_to(session) => Ok(()),
            ServerMessage::Resync { .. } if self.session.is_none() => Ok(()),
            ServerMessage::Output { seq, data, .. } => {
                self.tell_size().await?;
                self.output(seq, &data).await
            }
            ServerMessage::Attached {
                session,
                seq,
                snapshot,
                ..
            } => self.attached(&session, seq, snapshot).await,
            ServerMessage::Resync { seq, snapshot } => {
                self.out(wire::message("resync", json!({ "seq": seq })))
                    .await?;
                self.output(seq, &snapshot).await
            }
            ServerMessage::SessionExited { session, status } => {
                self.out(wire::message("exited", wire::exited(&session, status)))
                    .await
            }
            ServerMessage::Detached { reason } => self.detached(reason).await,
            ServerMessage::Ping { nonce } => {
                if self.bridge.pong(nonce) {
                    Ok(())
                } else {
                    Err(())
                }
            }
            ServerMessage::Error { code, message, .. } => {
                self.out(wire::error(error_code(code), &message)).await
            }
            _ => Ok(()),
        }
    }

    async fn attached(&mut self, session: &SessionInfo, seq: u64, snapshot: Option<Bytes>) -> Flow {
        if !self.grant.allows(session.id) {
            // Moved (`fugue switch`) to a session outside the link's scope: none of its
            // output is relayed (no session is attached here), and it leaves.
            self.session = None;
            if !self
                .bridge
                .request(|request_id| ClientMessage::Detach { request_id })
            {
                return self
                    .close(close::SERVER_ERROR, "cannot leave the session")
                    .await;
            }
            return self
                .out(wire::error(
                    "forbidden",
                    "moved to a session this link may not see",
                ))
                .await;
        }
        let handle = self.shared.sessions.find(&session.id.to_string()).ok();
        self.session = handle.map(|handle| (handle, session.size));
        // A new stream: what was sent of the old one needs no acknowledgement.
        self.unacked.clear();
        self.unacked_bytes = 0;
        let payload = json!({
            "session": wire::session(session),
            "seq": seq,
            "fresh": snapshot.is_some(),
        });
        self.out(wire::message("attached", payload)).await?;
        match snapshot {
            Some(snapshot) => self.output(seq, &snapshot).await,
            None => Ok(()),
        }
    }

    /// Whether it is attached to session `id` (its output is relayed).
    fn attached_to(&self, id: uuid::Uuid) -> bool {
        self.session
            .as_ref()
            .is_some_and(|(handle, _)| handle.id == id)
    }

    /// Tells the browser the attached session's size, if it changed since it was told
    /// (`size`): a viewer shows the program's own size, as an operator outvoted by the
    /// size policy does.
    pub(super) async fn tell_size(&mut self) -> Flow {
        let Some((handle, told)) = &mut self.session else {
            return Ok(());
        };
        let now = handle.meta.size();
        if now == *told {
            return Ok(());
        }
        *told = now;
        let payload = json!({ "cols": now.cols, "rows": now.rows });
        self.out(wire::message("size", payload)).await
    }

    async fn detached(&mut self, reason: DetachReason) -> Flow {
        self.session = None;
        let payload = json!({ "reason": wire::reason(reason) });
        self.out(wire::message("detached", payload)).await?;
        match reason {
            DetachReason::Replaced => self.close(close::REPLACED, "replaced").await,
            DetachReason::ServerShutdown => {
                self.close(close::GOING_AWAY, "server shutting down").await
            }
            _ => Ok(()),
        }
    }
}

/// An error code's name on the viewer's wire.
fn error_code(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::UnknownSession => "unknown_session",
        ErrorCode::InvalidSize => "invalid_size",
        ErrorCode::NotAttached => "not_attached",
        ErrorCode::ReadOnly => "read_only",
        ErrorCode::IdleTimeout => "idle_timeout",
        ErrorCode::InvalidRequest | ErrorCode::InvalidName => "bad_message",
        _ => "internal",
    }
}
