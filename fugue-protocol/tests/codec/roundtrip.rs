//! Property tests: every message survives encode then decode, in any chunking of the stream.

use std::collections::BTreeSet;

use bytes::BytesMut;
use fugue_protocol::{ClientCodec, ServerCodec};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use tokio_util::codec::Decoder;

use crate::samples::{self, client_variant, decode_all, frames, server_variant};
use crate::strategies::{client_message, server_message};

/// Feeds `stream` to `codec` in the chunks that `cuts` (sorted, deduplicated) describe.
fn feed_in_chunks<In: serde::de::DeserializeOwned, Out>(
    codec: &mut fugue_protocol::MessageCodec<In, Out>,
    stream: &[u8],
    cuts: &[usize],
) -> Vec<In> {
    let mut src = BytesMut::new();
    let mut decoded = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&stream.len())) {
        src.extend_from_slice(&stream[start..end]);
        decode_all(codec, &mut src, &mut decoded).unwrap();
        start = end;
    }
    assert!(src.is_empty(), "{} bytes left over", src.len());
    assert!(codec.decode_eof(&mut src).unwrap().is_none());
    decoded
}

/// Turns arbitrary indices into sorted cut points inside a stream of `len` bytes.
fn cuts_for(len: usize, raw: &[prop::sample::Index]) -> Vec<usize> {
    let set: BTreeSet<usize> = raw.iter().map(|index| index.index(len + 1)).collect();
    set.into_iter().collect()
}

proptest! {
    #[test]
    fn client_messages_round_trip(msg in client_message()) {
        let mut stream = frames(&mut ClientCodec::new(), std::slice::from_ref(&msg));
        let decoded = ServerCodec::new().decode(&mut stream).unwrap();
        prop_assert_eq!(decoded, Some(msg));
        prop_assert!(stream.is_empty());
    }

    #[test]
    fn server_messages_round_trip(msg in server_message()) {
        let mut stream = frames(&mut ServerCodec::new(), std::slice::from_ref(&msg));
        let decoded = ClientCodec::new().decode(&mut stream).unwrap();
        prop_assert_eq!(decoded, Some(msg));
        prop_assert!(stream.is_empty());
    }

    #[test]
    fn client_streams_decode_the_same_in_any_chunks(
        msgs in vec(client_message(), 0..8),
        raw_cuts in vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let stream = frames(&mut ClientCodec::new(), &msgs);
        let cuts = cuts_for(stream.len(), &raw_cuts);
        prop_assert_eq!(feed_in_chunks(&mut ServerCodec::new(), &stream, &cuts), msgs);
    }

    #[test]
    fn server_streams_decode_the_same_in_any_chunks(
        msgs in vec(server_message(), 0..8),
        raw_cuts in vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let stream = frames(&mut ServerCodec::new(), &msgs);
        let cuts = cuts_for(stream.len(), &raw_cuts);
        prop_assert_eq!(feed_in_chunks(&mut ClientCodec::new(), &stream, &cuts), msgs);
    }
}

#[test]
fn client_stream_split_at_every_byte_boundary_decodes_the_same() {
    let msgs = samples::client_samples();
    let stream = frames(&mut ClientCodec::new(), &msgs);
    for cut in 0..=stream.len() {
        assert_eq!(
            feed_in_chunks(&mut ServerCodec::new(), &stream, &[cut]),
            msgs,
            "cut at {cut}"
        );
    }
    let every_byte: Vec<usize> = (1..stream.len()).collect();
    assert_eq!(
        feed_in_chunks(&mut ServerCodec::new(), &stream, &every_byte),
        msgs
    );
}

#[test]
fn server_stream_split_at_every_byte_boundary_decodes_the_same() {
    let msgs = samples::server_samples();
    let stream = frames(&mut ServerCodec::new(), &msgs);
    for cut in 0..=stream.len() {
        assert_eq!(
            feed_in_chunks(&mut ClientCodec::new(), &stream, &[cut]),
            msgs,
            "cut at {cut}"
        );
    }
    let every_byte: Vec<usize> = (1..stream.len()).collect();
    assert_eq!(
        feed_in_chunks(&mut ClientCodec::new(), &stream, &every_byte),
        msgs
    );
}

/// Draws `n` values from `strategy` with a fixed seed and names their variants.
fn variants_drawn<T: std::fmt::Debug>(
    strategy: impl Strategy<Value = T>,
    name: impl Fn(&T) -> &'static str,
) -> BTreeSet<&'static str> {
    let mut runner = TestRunner::deterministic();
    (0..2000)
        .map(|_| name(&strategy.new_tree(&mut runner).unwrap().current()))
        .collect()
}

#[test]
fn strategies_reach_every_variant() {
    let client_all: BTreeSet<_> = samples::client_samples()
        .iter()
        .map(client_variant)
        .collect();
    assert_eq!(variants_drawn(client_message(), client_variant), client_all);
    let server_all: BTreeSet<_> = samples::server_samples()
        .iter()
        .map(server_variant)
        .collect();
    assert_eq!(variants_drawn(server_message(), server_variant), server_all);
}
