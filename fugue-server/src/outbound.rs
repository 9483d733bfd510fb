//! `Outbound`: what travels through a client's registry queue to its connection task.

use fugue_protocol::{EncodedFrame, ServerMessage};

/// One item in a client's queue: a message, or a frame encoded once and shared by every
/// client of a session (program output is encoded once per chunk, not once per client).
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A message the connection task encodes itself.
    Message(ServerMessage),
    /// A frame ready to be written as is.
    Frame(EncodedFrame<ServerMessage>),
}

impl From<ServerMessage> for Outbound {
    fn from(msg: ServerMessage) -> Self {
        Outbound::Message(msg)
    }
}
