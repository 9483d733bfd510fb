//! `Incoming`: the frames a client sends, decoded from the socket, after the ones a
//! previous server had received and not decoded yet (an upgrade carries those bytes over).
//!
//! `FramedRead` decodes what it holds only once the socket has more to read, so bytes put
//! into its buffer by hand would wait for the client's next frame. The complete frames
//! among the carried bytes are kept apart and decoded first; the incomplete tail goes into
//! the reader's buffer, to be completed from the socket.

use bytes::{Bytes, BytesMut};
use fugue_protocol::{ClientMessage, CodecError, LENGTH_PREFIX_LEN, ServerCodec};
use futures_util::StreamExt;
use tokio::net::unix::OwnedReadHalf;
use tokio_util::codec::{Decoder, FramedRead};

/// A connection's reading side.
pub(super) struct Incoming {
    framed: FramedRead<OwnedReadHalf, ServerCodec>,
    /// Complete frames carried over, not decoded yet.
    carried: BytesMut,
}

impl Incoming {
    /// Reads from `half`, after the frames in `unread`.
    pub(super) fn new(half: OwnedReadHalf, codec: ServerCodec, unread: &[u8]) -> Self {
        let whole = whole_frames(unread);
        let mut framed = FramedRead::new(half, codec);
        framed.read_buffer_mut().extend_from_slice(&unread[whole..]);
        Incoming {
            framed,
            carried: BytesMut::from(&unread[..whole]),
        }
    }

    /// The next frame; `None` once the client has closed its side.
    pub(super) async fn next(&mut self) -> Option<Result<ClientMessage, CodecError>> {
        if !self.carried.is_empty() {
            return self
                .framed
                .decoder_mut()
                .decode(&mut self.carried)
                .transpose();
        }
        self.framed.next().await
    }

    /// What was received and not decoded yet, for the next server.
    pub(super) fn unread(&self) -> Bytes {
        let mut bytes = self.carried.clone();
        bytes.extend_from_slice(self.framed.read_buffer());
        bytes.freeze()
    }

    /// The socket's reading half.
    pub(super) fn into_inner(self) -> OwnedReadHalf {
        self.framed.into_inner()
    }
}

/// How many bytes at the start of `bytes` are whole frames (by their length prefixes).
fn whole_frames(bytes: &[u8]) -> usize {
    let mut at = 0;
    while let Some(prefix) = bytes.get(at..at + LENGTH_PREFIX_LEN) {
        let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let end = at + LENGTH_PREFIX_LEN + len;
        if end > bytes.len() {
            break;
        }
        at = end;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_frames_stop_before_an_incomplete_one() {
        assert_eq!(whole_frames(b""), 0);
        assert_eq!(whole_frames(b"\0\0\0\x02ab"), 6);
        assert_eq!(whole_frames(b"\0\0\0\x02ab\0\0\0\x01c\0\0"), 11);
        assert_eq!(whole_frames(b"\0\0\0\x05ab"), 0);
        // An absurd length is left to the decoder, which refuses it.
        assert_eq!(whole_frames(b"\xff\xff\xff\xff"), 0);
    }
}
