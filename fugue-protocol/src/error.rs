//! `CodecError`: everything that can go wrong turning bytes into messages and back.

use std::io;

/// A framing or encoding failure. The codec never panics on input; it returns one of these.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// A frame's length exceeds the configured maximum (checked before allocating).
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The length the frame has or announced.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A frame's body is not a valid message.
    #[error("malformed frame: {0}")]
    Decode(#[source] postcard::Error),
    /// A message could not be serialised.
    #[error("cannot encode message: {0}")]
    Encode(#[source] postcard::Error),
    /// The underlying stream failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}
