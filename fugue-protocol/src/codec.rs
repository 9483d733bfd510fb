//! `MessageCodec`: u32 big-endian length prefix + postcard body, typed by direction.
//!
//! The server uses `MessageCodec<ClientMessage, ServerMessage>` (decodes what clients send,
//! encodes what it sends); the client uses the mirror type, so neither can encode a message
//! meant for the other direction. The maximum frame length is checked before any buffer is
//! reserved, on decode (from the announced length) and on encode (from the computed size).

use std::fmt;
use std::marker::PhantomData;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::{Decoder, Encoder};

use crate::error::CodecError;
use crate::message::{ClientMessage, ServerMessage};

/// The default maximum frame body length: 1 MiB.
pub const DEFAULT_MAX_FRAME_LEN: usize = 1 << 20;

/// Bytes in the length prefix.
pub const LENGTH_PREFIX_LEN: usize = 4;

/// The codec a server uses: decodes [`ClientMessage`], encodes [`ServerMessage`].
pub type ServerCodec = MessageCodec<ClientMessage, ServerMessage>;

/// The codec a client uses: decodes [`ServerMessage`], encodes [`ClientMessage`].
pub type ClientCodec = MessageCodec<ServerMessage, ClientMessage>;

/// Decodes `In` and encodes `Out` as length-prefixed postcard frames.
pub struct MessageCodec<In, Out> {
    max_frame_len: usize,
    _direction: PhantomData<fn(Out) -> In>,
}

impl<In, Out> MessageCodec<In, Out> {
    /// A codec with the default maximum frame length.
    pub fn new() -> Self {
        Self::with_max_frame_len(DEFAULT_MAX_FRAME_LEN)
    }

    /// A codec that rejects frame bodies longer than `max_frame_len` bytes.
    pub fn with_max_frame_len(max_frame_len: usize) -> Self {
        // The length travels as a u32, so a larger maximum could never be reached.
        let max_frame_len = max_frame_len.min(u32::MAX as usize);
        MessageCodec {
            max_frame_len,
            _direction: PhantomData,
        }
    }

    /// The maximum frame body length in bytes.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }
}

impl<In, Out: Serialize> MessageCodec<In, Out> {
    /// Encodes `msg` once into a complete frame that can be written to many peers without
    /// encoding it again.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLarge`] if the body exceeds the maximum frame length,
    /// [`CodecError::Encode`] if serialisation fails.
    pub fn encode_frame(&self, msg: &Out) -> Result<EncodedFrame<Out>, CodecError> {
        let mut buf = BytesMut::new();
        encode_into(msg, self.max_frame_len, &mut buf)?;
        Ok(EncodedFrame {
            bytes: buf.freeze(),
            _message: PhantomData,
        })
    }
}

impl<In, Out> Default for MessageCodec<In, Out> {
    fn default() -> Self {
        Self::new()
    }
}

impl<In, Out> Clone for MessageCodec<In, Out> {
    fn clone(&self) -> Self {
        Self::with_max_frame_len(self.max_frame_len)
    }
}

impl<In, Out> fmt::Debug for MessageCodec<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageCodec")
            .field("max_frame_len", &self.max_frame_len)
            .finish()
    }
}

/// A message of type `M` already encoded as a whole frame (prefix included).
///
/// Cloning shares the buffer, so one encoded `Output` can be queued for many clients.
pub struct EncodedFrame<M> {
    bytes: Bytes,
    _message: PhantomData<fn() -> M>,
}

impl<M> EncodedFrame<M> {
    /// The frame's bytes, length prefix included.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The frame's length in bytes, length prefix included.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the frame is empty (never true for a frame made by the codec).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl<M> Clone for EncodedFrame<M> {
    fn clone(&self) -> Self {
        EncodedFrame {
            bytes: self.bytes.clone(),
            _message: PhantomData,
        }
    }
}

impl<M> fmt::Debug for EncodedFrame<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodedFrame")
            .field("len", &self.bytes.len())
            .finish()
    }
}

fn encode_into<T: Serialize>(msg: &T, max: usize, dst: &mut BytesMut) -> Result<(), CodecError> {
    // Sizing first costs one pass without allocating and keeps an oversize message from
    // ever reserving its buffer.
    let len = postcard::experimental::serialized_size(msg).map_err(CodecError::Encode)?;
    if len > max {
        return Err(CodecError::FrameTooLarge { len, max });
    }
    dst.reserve(LENGTH_PREFIX_LEN + len);
    // `len <= max <= u32::MAX`, checked above and in the constructor.
    dst.put_u32(len as u32);
    postcard::to_io(msg, dst.writer()).map_err(CodecError::Encode)?;
    Ok(())
}

impl<In: DeserializeOwned, Out> Decoder for MessageCodec<In, Out> {
    type Item = In;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, CodecError> {
        let Some(prefix) = src.get(..LENGTH_PREFIX_LEN) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        if len > self.max_frame_len {
            return Err(CodecError::FrameTooLarge {
                len,
                max: self.max_frame_len,
            });
        }
        let frame_len = LENGTH_PREFIX_LEN + len;
        if src.len() < frame_len {
            // Reserve for the rest of this frame only: `len` was bounded above.
            src.reserve(frame_len - src.len());
            return Ok(None);
        }
        src.advance(LENGTH_PREFIX_LEN);
        let body = src.split_to(len);
        match postcard::take_from_bytes::<In>(&body) {
            Ok((msg, [])) => Ok(Some(msg)),
            // Trailing bytes mean the peer and we disagree on the message layout.
            Ok((_, _rest)) => Err(CodecError::Decode(postcard::Error::DeserializeBadEncoding)),
            Err(err) => Err(CodecError::Decode(err)),
        }
    }
}

impl<In> MessageCodec<In, ServerMessage> {
    /// Encodes `msg` once, as a peer speaking protocol `peer_version` reads it (see
    /// [`crate::MIN_PROTOCOL_VERSION`]).
    ///
    /// # Errors
    ///
    /// As [`MessageCodec::encode_frame`].
    pub fn encode_for_peer(
        &self,
        msg: &ServerMessage,
        peer_version: u32,
    ) -> Result<EncodedFrame<ServerMessage>, CodecError> {
        let mut buf = BytesMut::new();
        encode_into(
            &crate::compat::ForPeer::new(msg, peer_version),
            self.max_frame_len,
            &mut buf,
        )?;
        Ok(EncodedFrame {
            bytes: buf.freeze(),
            _message: PhantomData,
        })
    }
}

impl<In, Out: Serialize> Encoder<Out> for MessageCodec<In, Out> {
    type Error = CodecError;

    fn encode(&mut self, msg: Out, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode_into(&msg, self.max_frame_len, dst)
    }
}

impl<In, Out> Encoder<EncodedFrame<Out>> for MessageCodec<In, Out> {
    type Error = CodecError;

    fn encode(&mut self, frame: EncodedFrame<Out>, dst: &mut BytesMut) -> Result<(), CodecError> {
        // The frame may come from a codec with a larger maximum; the peer would refuse it.
        let len = frame.bytes.len().saturating_sub(LENGTH_PREFIX_LEN);
        if len > self.max_frame_len {
            return Err(CodecError::FrameTooLarge {
                len,
                max: self.max_frame_len,
            });
        }
        dst.extend_from_slice(&frame.bytes);
        Ok(())
    }
}
