//! Which request a server message answers: one place for every reader of replies.

use crate::message::ServerMessage;
use crate::types::RequestId;

impl ServerMessage {
    /// The request this message answers, if it is a reply (an `Error` without one is
    /// not). `Attached` with id 0 answers no request: another client moved this one.
    pub fn reply_to(&self) -> Option<RequestId> {
        match self {
            ServerMessage::Error { request_id, .. } => *request_id,
            ServerMessage::Done { request_id }
            | ServerMessage::Sessions { request_id, .. }
            | ServerMessage::Created { request_id, .. }
            | ServerMessage::Attached { request_id, .. }
            | ServerMessage::Captured { request_id, .. }
            | ServerMessage::Status { request_id, .. }
            | ServerMessage::Upgraded { request_id, .. }
            | ServerMessage::InputTaken { request_id, .. }
            | ServerMessage::WebLink { request_id, .. }
            | ServerMessage::WebRevoked { request_id, .. }
            | ServerMessage::Clients { request_id, .. } => Some(*request_id),
            ServerMessage::Welcome { .. }
            | ServerMessage::Ping { .. }
            | ServerMessage::Pong { .. }
            | ServerMessage::Output { .. }
            | ServerMessage::Resync { .. }
            | ServerMessage::SessionExited { .. }
            | ServerMessage::Detached { .. }
            | ServerMessage::Event { .. }
            | ServerMessage::EventsLost { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{DetachReason, ErrorCode};

    #[test]
    fn replies_name_their_request_and_other_messages_none() {
        let done = ServerMessage::Done { request_id: 7 };
        assert_eq!(done.reply_to(), Some(7));
        let refused = ServerMessage::Error {
            request_id: None,
            code: ErrorCode::ServerBusy,
            message: String::new(),
        };
        assert_eq!(refused.reply_to(), None);
        let revoked = ServerMessage::WebRevoked {
            request_id: 3,
            tokens: 0,
            connections: 0,
        };
        assert_eq!(revoked.reply_to(), Some(3));
        let detached = ServerMessage::Detached {
            reason: DetachReason::Requested,
        };
        assert_eq!(detached.reply_to(), None);
    }
}
