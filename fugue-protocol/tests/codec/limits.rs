//! Frame limits, malformed bodies, pre-encoded frames, and the crate's pinned constants.

use bytes::{BufMut, Bytes, BytesMut};
use fugue_protocol::{
    ClientCodec, ClientMessage, CodecError, DEFAULT_MAX_FRAME_LEN, ExitStatus, LENGTH_PREFIX_LEN,
    MAX_INPUT_CHUNK, PROTOCOL_VERSION, Role, ServerCodec, ServerMessage,
};
use proptest::prelude::*;
use serde::{Serialize, Serializer};
use tokio_util::codec::{Decoder, Encoder};

use crate::samples::{self, frames};
use crate::strategies::{client_message, server_message};

/// An `Input` whose body is exactly `body_len` bytes (variant byte, length varint, data);
/// `body_len` must stay clear of the varint's 128-byte step.
fn input_with_body_len(body_len: usize) -> ClientMessage {
    let varint_len = if body_len - 2 < 128 { 1 } else { 2 };
    ClientMessage::Input {
        data: Bytes::from(vec![b'x'; body_len - 1 - varint_len]),
    }
}

#[test]
fn constants_are_pinned() {
    assert_eq!(PROTOCOL_VERSION, 8);
    assert_eq!(fugue_protocol::MIN_PROTOCOL_VERSION, 3);
    assert_eq!(DEFAULT_MAX_FRAME_LEN, 1024 * 1024);
    assert_eq!(LENGTH_PREFIX_LEN, 4);
    assert_eq!(ServerCodec::new().max_frame_len(), DEFAULT_MAX_FRAME_LEN);
    assert_eq!(
        ClientCodec::default().max_frame_len(),
        DEFAULT_MAX_FRAME_LEN
    );
    assert_eq!(
        ServerCodec::with_max_frame_len(77).clone().max_frame_len(),
        77
    );
}

#[test]
fn max_frame_len_is_clamped_to_what_a_u32_prefix_can_say() {
    let codec = ServerCodec::with_max_frame_len(usize::MAX);
    assert_eq!(codec.max_frame_len(), u32::MAX as usize);
}

#[test]
fn exit_status_shell_code_is_the_code_or_128_plus_the_signal() {
    assert_eq!(ExitStatus::Code { code: 0 }.shell_code(), 0);
    assert_eq!(ExitStatus::Code { code: 3 }.shell_code(), 3);
    assert_eq!(ExitStatus::Signal { signal: 9 }.shell_code(), 137);
    assert_eq!(ExitStatus::Signal { signal: 15 }.shell_code(), 143);
}

#[test]
fn role_names() {
    assert_eq!(Role::Interactive.as_str(), "interactive");
    assert_eq!(Role::ReadOnly.as_str(), "read-only");
    assert_eq!(Role::Control.as_str(), "control");
}

#[test]
fn a_full_input_chunk_fits_in_a_default_frame() {
    let msg = ClientMessage::Input {
        data: Bytes::from(vec![0; MAX_INPUT_CHUNK]),
    };
    assert!(ClientCodec::new().encode_frame(&msg).is_ok());
}

#[test]
fn a_frame_of_exactly_the_maximum_passes_and_one_byte_more_fails() {
    for max in [16, 300] {
        let mut dst = BytesMut::new();
        ClientCodec::with_max_frame_len(max)
            .encode(input_with_body_len(max), &mut dst)
            .unwrap();
        assert_eq!(dst.len(), LENGTH_PREFIX_LEN + max);
        let decoded = ServerCodec::with_max_frame_len(max)
            .decode(&mut dst)
            .unwrap();
        assert_eq!(decoded, Some(input_with_body_len(max)));

        let err = ClientCodec::with_max_frame_len(max)
            .encode(input_with_body_len(max + 1), &mut dst)
            .unwrap_err();
        assert!(
            matches!(err, CodecError::FrameTooLarge { len, max: m } if len == max + 1 && m == max)
        );
    }
}

#[test]
fn oversize_encode_fails_and_writes_nothing() {
    let mut codec = ServerCodec::with_max_frame_len(64);
    let msg = ServerMessage::Resync {
        seq: 1,
        snapshot: Bytes::from(vec![7; 100]),
    };
    let mut dst = BytesMut::from(&b"earlier"[..]);
    let err = codec.encode(msg.clone(), &mut dst).unwrap_err();
    assert!(
        matches!(err, CodecError::FrameTooLarge { len: 103, max: 64 }),
        "{err:?}"
    );
    assert_eq!(&dst[..], b"earlier");
    assert!(dst.capacity() < 64, "reserved {} bytes", dst.capacity());
    let err = codec.encode_frame(&msg).unwrap_err();
    assert!(
        matches!(err, CodecError::FrameTooLarge { len: 103, max: 64 }),
        "{err:?}"
    );
}

#[test]
fn oversize_encode_with_the_default_maximum_fails() {
    let msg = ClientMessage::Input {
        data: Bytes::from(vec![0; DEFAULT_MAX_FRAME_LEN]),
    };
    let mut dst = BytesMut::new();
    let err = ClientCodec::new().encode(msg, &mut dst).unwrap_err();
    assert!(matches!(
        err,
        CodecError::FrameTooLarge {
            max: DEFAULT_MAX_FRAME_LEN,
            ..
        }
    ));
    assert!(dst.is_empty());
}

#[test]
fn oversize_announcement_fails_before_the_body_arrives_and_reserves_nothing() {
    for announced in [DEFAULT_MAX_FRAME_LEN as u32 + 1, u32::MAX] {
        let mut src = BytesMut::with_capacity(8);
        src.put_u32(announced);
        let err = ServerCodec::new().decode(&mut src).unwrap_err();
        assert!(
            matches!(err, CodecError::FrameTooLarge { len, max: DEFAULT_MAX_FRAME_LEN } if len == announced as usize),
            "{err:?}"
        );
        assert!(src.capacity() <= 64, "reserved {} bytes", src.capacity());
    }
}

#[test]
fn a_partial_frame_reserves_at_most_one_maximal_frame() {
    let max = 4096;
    let mut src = BytesMut::new();
    src.put_u32(max as u32);
    src.put_u8(7);
    assert!(
        ClientCodec::with_max_frame_len(max)
            .decode(&mut src)
            .unwrap()
            .is_none()
    );
    assert!(src.capacity() >= LENGTH_PREFIX_LEN + max);
    assert!(
        src.capacity() <= 2 * (LENGTH_PREFIX_LEN + max),
        "reserved {}",
        src.capacity()
    );
}

#[test]
fn trailing_bytes_inside_a_frame_body_are_a_decode_error() {
    let frame = ClientCodec::new()
        .encode_frame(&ClientMessage::Ping { nonce: 5 })
        .unwrap();
    let body = &frame.as_bytes()[LENGTH_PREFIX_LEN..];
    let mut src = BytesMut::new();
    src.put_u32(u32::try_from(body.len() + 1).unwrap());
    src.extend_from_slice(body);
    src.put_u8(0);
    let next = frame.as_bytes().clone();
    src.extend_from_slice(&next);

    let err = ServerCodec::new().decode(&mut src).unwrap_err();
    assert!(matches!(err, CodecError::Decode(_)), "{err:?}");
    // The bad frame was consumed whole; the buffer starts at the next frame.
    assert_eq!(&src[..], &next[..]);
}

#[test]
fn an_empty_body_is_a_decode_error() {
    let mut src = BytesMut::from(&[0u8, 0, 0, 0][..]);
    let err = ClientCodec::new().decode(&mut src).unwrap_err();
    assert!(matches!(err, CodecError::Decode(_)), "{err:?}");
}

#[test]
fn an_unknown_variant_index_is_a_decode_error() {
    // Index 15 is one past `KillServer`, the last client variant today.
    let mut src = BytesMut::from(&[0u8, 0, 0, 1, 15][..]);
    let err = ServerCodec::new().decode(&mut src).unwrap_err();
    assert!(matches!(err, CodecError::Decode(_)), "{err:?}");
}

/// Serialises as a sequence of unknown length, which postcard cannot encode.
#[derive(Clone)]
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(std::iter::from_fn(|| None::<u8>))
    }
}

#[test]
fn an_unencodable_message_is_an_encode_error_and_writes_nothing() {
    let mut codec = fugue_protocol::MessageCodec::<ClientMessage, Unencodable>::new();
    let mut dst = BytesMut::from(&b"earlier"[..]);
    let err = codec.encode(Unencodable, &mut dst).unwrap_err();
    assert!(matches!(err, CodecError::Encode(_)), "{err:?}");
    assert_eq!(&dst[..], b"earlier");
}

#[test]
fn an_encoded_frame_from_a_larger_codec_is_refused_by_a_smaller_one() {
    let msg = ServerMessage::Resync {
        seq: 1,
        snapshot: Bytes::from(vec![7; 100]),
    };
    let frame = ServerCodec::new().encode_frame(&msg).unwrap();
    let mut dst = BytesMut::new();
    let err = ServerCodec::with_max_frame_len(64)
        .encode(frame.clone(), &mut dst)
        .unwrap_err();
    assert!(
        matches!(err, CodecError::FrameTooLarge { len: 103, max: 64 }),
        "{err:?}"
    );
    assert!(dst.is_empty());
    ServerCodec::with_max_frame_len(103)
        .encode(frame, &mut dst)
        .unwrap();
    assert_eq!(dst.len(), LENGTH_PREFIX_LEN + 103);
}

#[test]
fn encoded_frames_share_their_buffer_when_cloned() {
    let frame = ServerCodec::new()
        .encode_frame(&samples::server_samples()[8])
        .unwrap();
    let copy = frame.clone();
    assert_eq!(frame.as_bytes().as_ptr(), copy.as_bytes().as_ptr());
    assert_eq!(frame.len(), frame.as_bytes().len());
    assert!(!frame.is_empty());
}

proptest! {
    #[test]
    fn encoded_server_frames_equal_the_encoder_output(msg in server_message()) {
        let mut codec = ServerCodec::new();
        let direct = frames(&mut codec, std::slice::from_ref(&msg));
        let frame = codec.encode_frame(&msg).unwrap();
        prop_assert_eq!(&frame.as_bytes()[..], &direct[..]);
        prop_assert_eq!(frame.len(), direct.len());
        let mut via_frame = BytesMut::new();
        codec.encode(frame, &mut via_frame).unwrap();
        prop_assert_eq!(&via_frame[..], &direct[..]);
    }

    #[test]
    fn encoded_client_frames_equal_the_encoder_output(msg in client_message()) {
        let mut codec = ClientCodec::new();
        let direct = frames(&mut codec, std::slice::from_ref(&msg));
        let frame = codec.encode_frame(&msg).unwrap();
        prop_assert_eq!(&frame.as_bytes()[..], &direct[..]);
        let mut via_frame = BytesMut::new();
        codec.encode(frame, &mut via_frame).unwrap();
        prop_assert_eq!(&via_frame[..], &direct[..]);
    }
}
