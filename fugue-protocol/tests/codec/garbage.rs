//! Hostile input: arbitrary bytes, in arbitrary chunks, never panic the decoder.
//!
//! Each input either yields messages or a typed `CodecError`; after the first error the
//! test stops feeding, as `Framed` does.

use bytes::{BufMut, BytesMut};
use fugue_protocol::{ClientCodec, CodecError, MessageCodec, ServerCodec};
use proptest::collection::vec;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use tokio_util::codec::Decoder;

use crate::samples::{self, frames};

/// Feeds `stream` in chunks of the given sizes (cycled), then signals end of stream.
///
/// Returns how many messages came out and the error that ended decoding, if any.
fn feed<In: DeserializeOwned, Out>(
    mut codec: MessageCodec<In, Out>,
    stream: &[u8],
    chunk_sizes: &[usize],
) -> (usize, Option<CodecError>) {
    let max = codec.max_frame_len();
    let mut src = BytesMut::new();
    let mut n_messages = 0;
    let mut rest = stream;
    let mut sizes = chunk_sizes.iter().copied().cycle();
    while !rest.is_empty() {
        let size = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        src.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut src) {
                Ok(Some(_)) => n_messages += 1,
                Ok(None) => break,
                Err(err) => return (n_messages, Some(err)),
            }
        }
        // Whatever was announced, the decoder never reserves beyond one maximal frame
        // (allowing for the allocator rounding up and the bytes already buffered).
        assert!(
            src.capacity() <= 2 * (max + 4 + stream.len()),
            "capacity {}",
            src.capacity()
        );
    }
    match codec.decode_eof(&mut src) {
        Ok(_) => (n_messages, None),
        Err(err) => (n_messages, Some(err)),
    }
}

/// Asserts `err` is one the decode path may produce.
fn assert_decode_error(err: &CodecError) {
    assert!(
        matches!(
            err,
            CodecError::FrameTooLarge { .. } | CodecError::Decode(_) | CodecError::Io(_)
        ),
        "unexpected error on decode: {err:?}"
    );
}

/// Both directions, with the default and with a small maximum.
fn feed_everywhere(stream: &[u8], chunk_sizes: &[usize]) {
    for max in [fugue_protocol::DEFAULT_MAX_FRAME_LEN, 32] {
        let (_, err) = feed(ServerCodec::with_max_frame_len(max), stream, chunk_sizes);
        err.iter().for_each(assert_decode_error);
        let (_, err) = feed(ClientCodec::with_max_frame_len(max), stream, chunk_sizes);
        err.iter().for_each(assert_decode_error);
    }
}

/// Frames arbitrary bodies with their true length, so they reach the postcard decoder.
fn framed_garbage(bodies: &[Vec<u8>]) -> Vec<u8> {
    let mut stream = BytesMut::new();
    for body in bodies {
        stream.put_u32(u32::try_from(body.len()).unwrap());
        stream.extend_from_slice(body);
    }
    stream.to_vec()
}

/// A stream of valid frames of every variant, both directions.
fn valid_stream() -> Vec<u8> {
    let mut stream = frames(&mut ClientCodec::new(), &samples::client_samples());
    stream.extend_from_slice(&frames(&mut ServerCodec::new(), &samples::server_samples()));
    stream.to_vec()
}

proptest! {
    #[test]
    fn raw_bytes_never_panic(
        stream in vec(any::<u8>(), 0..512),
        chunk_sizes in vec(1usize..64, 1..8),
    ) {
        feed_everywhere(&stream, &chunk_sizes);
    }

    #[test]
    fn framed_garbage_bodies_never_panic(
        bodies in vec(vec(any::<u8>(), 0..96), 0..6),
        chunk_sizes in vec(1usize..64, 1..8),
    ) {
        feed_everywhere(&framed_garbage(&bodies), &chunk_sizes);
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        chunk_sizes in vec(1usize..64, 1..8),
    ) {
        let mut stream = valid_stream();
        for (index, byte) in flips {
            let at = index.index(stream.len());
            stream[at] = byte;
        }
        feed_everywhere(&stream, &chunk_sizes);
    }

    #[test]
    fn truncated_streams_end_in_an_error_not_a_panic(
        index in any::<prop::sample::Index>(),
    ) {
        let stream = frames(&mut ClientCodec::new(), &samples::client_samples());
        let cut = index.index(stream.len());
        let (_, err) = feed(ServerCodec::new(), &stream[..cut], &[7]);
        // A cut between frames is a clean end; inside one, `decode_eof` reports the rest.
        if let Some(err) = err {
            prop_assert!(matches!(err, CodecError::Io(_)), "{:?}", err);
        }
    }
}

#[test]
fn garbage_after_valid_frames_keeps_the_messages_before_it() {
    let msgs = samples::client_samples();
    let mut stream = frames(&mut ClientCodec::new(), &msgs).to_vec();
    stream.extend_from_slice(&framed_garbage(&[vec![0xff; 8]]));
    let (n_messages, err) = feed(ServerCodec::new(), &stream, &[5]);
    assert_eq!(n_messages, msgs.len());
    assert!(matches!(err, Some(CodecError::Decode(_))), "{err:?}");
}
