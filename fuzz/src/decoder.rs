//! The frame decoder target: arbitrary bytes through `MessageCodec::decode`, in both
//! directions, whole and in pieces.
//!
//! Checked for every input: no panic; the decoder never asks for more than a frame's worth
//! of buffer; feeding the bytes in small pieces gives exactly what feeding them at once
//! gives (framing does not depend on how reads split the stream); and every message that
//! decodes encodes again and decodes to the same message.

use std::fmt::Debug;

use bytes::BytesMut;
use fugue_protocol::{
    ClientMessage, DEFAULT_MAX_FRAME_LEN, LENGTH_PREFIX_LEN, MessageCodec, ServerMessage,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::{Decoder, Encoder};

/// A wire message: decodable, encodable, comparable, printable.
trait Message: DeserializeOwned + Serialize + Clone + PartialEq + Debug {}

impl<T: DeserializeOwned + Serialize + Clone + PartialEq + Debug> Message for T {}

/// What decoding a byte stream gave: the messages, then the error that stopped it, if any.
#[derive(Debug, PartialEq)]
struct Decoded<M> {
    messages: Vec<M>,
    error: Option<String>,
}

/// The target. The first byte picks the maximum frame length and the piece size.
pub fn frame_decoder(data: &[u8]) {
    let Some((&control, bytes)) = data.split_first() else {
        return;
    };
    let max = match control & 3 {
        0 => DEFAULT_MAX_FRAME_LEN,
        1 => 64,
        2 => 1,
        _ => 4096,
    };
    let piece = usize::from(control >> 2) + 1;
    check::<ClientMessage, ServerMessage>(bytes, max, piece);
    check::<ServerMessage, ClientMessage>(bytes, max, piece);
}

fn check<In, Out>(bytes: &[u8], max: usize, piece: usize)
where
    In: Message,
    Out: Message,
{
    let whole = decode::<In, Out>(bytes, max, bytes.len().max(1));
    let pieces = decode::<In, Out>(bytes, max, piece);
    assert_eq!(whole, pieces, "framing depends on how the stream is split");
    // Re-encode with the mirror codec (it encodes `In`) and decode again.
    let mut encoder = MessageCodec::<Out, In>::with_max_frame_len(max);
    let mut decoder = MessageCodec::<In, Out>::with_max_frame_len(max);
    for msg in whole.messages {
        let mut buf = BytesMut::new();
        encoder
            .encode(msg.clone(), &mut buf)
            .unwrap_or_else(|err| panic!("a decoded message does not encode: {err}: {msg:?}"));
        let again = decoder
            .decode(&mut buf)
            .unwrap_or_else(|err| panic!("a re-encoded message does not decode: {err}: {msg:?}"));
        assert_eq!(again.as_ref(), Some(&msg), "round trip changed the message");
        assert!(buf.is_empty(), "re-encoding left bytes over");
    }
}

/// Decodes `bytes` fed `piece` bytes at a time, as a reader would.
fn decode<In: Message, Out>(bytes: &[u8], max: usize, piece: usize) -> Decoded<In> {
    let mut codec = MessageCodec::<In, Out>::with_max_frame_len(max);
    let mut buf = BytesMut::new();
    let mut decoded = Decoded {
        messages: Vec::new(),
        error: None,
    };
    for chunk in bytes.chunks(piece) {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.capacity();
            match codec.decode(&mut buf) {
                Ok(Some(msg)) => decoded.messages.push(msg),
                Ok(None) => {
                    // Whatever it reserved is for one frame of at most `max` bytes.
                    let limit = (LENGTH_PREFIX_LEN + max).max(before).max(bytes.len());
                    assert!(
                        buf.capacity() <= limit * 2 + 64,
                        "decoder reserved {} bytes for a frame of at most {max}",
                        buf.capacity()
                    );
                    break;
                }
                Err(err) => {
                    decoded.error = Some(err.to_string());
                    return decoded;
                }
            }
        }
    }
    decoded
}
