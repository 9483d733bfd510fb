//! Errors: [`RegistryError`] for bookkeeping, [`SendError`] for message delivery.

use std::fmt;

use crate::ClientId;

/// A registration or attachment was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// A client with this id is already registered; the existing registration is untouched.
    #[error("client {0} is already registered")]
    DuplicateClient(ClientId),
    /// No client with this id is registered.
    #[error("unknown client {0}")]
    UnknownClient(ClientId),
}

/// A message could not be queued for a client.
///
/// `Full` gives the message back so the caller can retry or fall back to another path. Its
/// `Debug` output never includes the message (payloads stay out of logs), so `M` needs no
/// `Debug` bound.
#[derive(PartialEq, Eq, thiserror::Error)]
pub enum SendError<M> {
    /// No client with this id is registered.
    #[error("unknown client {0}")]
    UnknownClient(ClientId),
    /// The client's receiving side is gone. The registry has unregistered the client.
    #[error("client {0} disconnected")]
    Disconnected(ClientId),
    /// The client's queue is full (only from `try_send_to_client`).
    #[error("queue of client {id} is full")]
    Full {
        /// The client whose queue is full.
        id: ClientId,
        /// The message that was not queued.
        msg: M,
    },
}

impl<M> SendError<M> {
    /// The client the message was addressed to.
    #[must_use]
    pub fn client(&self) -> ClientId {
        match self {
            Self::UnknownClient(id) | Self::Disconnected(id) | Self::Full { id, .. } => *id,
        }
    }

    /// The undelivered message, when the error carries it back.
    #[must_use]
    pub fn into_message(self) -> Option<M> {
        match self {
            Self::Full { msg, .. } => Some(msg),
            Self::UnknownClient(_) | Self::Disconnected(_) => None,
        }
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownClient(id) => f.debug_tuple("UnknownClient").field(id).finish(),
            Self::Disconnected(id) => f.debug_tuple("Disconnected").field(id).finish(),
            Self::Full { id, .. } => f
                .debug_struct("Full")
                .field("id", id)
                .finish_non_exhaustive(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_gives_the_message_back_and_hides_it_from_debug() {
        let err = SendError::Full {
            id: ClientId::new(3),
            msg: "secret",
        };
        assert_eq!(format!("{err:?}"), "Full { id: ClientId(3), .. }");
        assert_eq!(err.to_string(), "queue of client 3 is full");
        assert_eq!(err.client(), ClientId::new(3));
        assert_eq!(err.into_message(), Some("secret"));
    }

    #[test]
    fn send_error_is_an_error_for_any_message_type() {
        struct Opaque;
        let err: Box<dyn std::error::Error> = Box::new(SendError::Full {
            id: ClientId::new(1),
            msg: Opaque,
        });
        assert_eq!(err.to_string(), "queue of client 1 is full");
    }

    #[test]
    fn errors_display_lowercase_messages() {
        let id = ClientId::new(9);
        assert_eq!(
            RegistryError::DuplicateClient(id).to_string(),
            "client 9 is already registered"
        );
        assert_eq!(
            RegistryError::UnknownClient(id).to_string(),
            "unknown client 9"
        );
        assert_eq!(
            SendError::<()>::Disconnected(id).to_string(),
            "client 9 disconnected"
        );
        assert_eq!(SendError::<()>::UnknownClient(id).into_message(), None);
    }
}
