//! Golden bytes: the exact wire encoding of one instance of every message variant.
//!
//! These literals are the protocol. If one of these tests fails, the bytes on the wire
//! changed: a variant or field was inserted, removed, reordered or retyped. Old peers will
//! misread the new bytes, so either undo the change or bump `PROTOCOL_VERSION` and then
//! update the literals (the failure message prints the new hex). Adding a variant at the end
//! of an enum is the one change that keeps every existing line valid; it needs a new sample
//! in `samples.rs` and a new line here.
//!
//! Each hex string is a whole frame: the 4-byte big-endian length, then the postcard body,
//! whose first byte is the variant index.

use bytes::BytesMut;
use fugue_protocol::{
    CaptureFormat, ClientCodec, DetachReason, ExitStatus, Role, ServerCodec, ServerMessage,
    TermSize,
};
use serde::Serialize;
use tokio_util::codec::Decoder;

use crate::samples::{self, client_variant, server_variant};
use crate::strategies::ALL_ERROR_CODES;

/// `ClientMessage` frames, in declaration order.
const CLIENT_GOLDEN: [(&str, &str); 25] = [
    (
        "Hello",
        "0000002100010b667567756520302e312e300110feedfacecafebeef0123456789abcdef01",
    ),
    ("Ping", "0000000a01888e98a8c0e0808101"),
    ("Pong", "0000000302ac02"),
    ("ListSessions", "000000020301"),
    (
        "CreateSession",
        "0000002604020104776f726b020462617368022d6c01042f746d7001014b01561e640105787465726d01",
    ),
    ("Attach", "0000000b050304776f726b18500111"),
    ("Detach", "000000020604"),
    ("Input", "0000000507036c730d"),
    ("Resize", "000000040832c801"),
    ("KillSession", "000000060905036f6c64"),
    ("RenameSession", "0000000c0a0604776f726b04706c6179"),
    ("SendInput", "0000000d0b0704776f726b056563686f0a"),
    ("Capture", "000000090c0804776f726b0164"),
    ("Status", "000000020d09"),
    ("KillServer", "000000020e0a"),
    ("Upgrade", "0000000a0f0b072f62696e2f6673"),
    ("Subscribe", "00000008100c0104776f726b"),
    ("Claim", "00000007110d04776f726b"),
    ("Release", "00000007120e04706c6179"),
    ("SetAgent", "00000005130f022f61"),
    ("Switch", "00000006141001610162"),
    ("AttachWithHistory", "00000008151101771850e807"),
    (
        "ServeWeb",
        "0000001a161201010177901c010b3132372e302e302e313a38010163016b",
    ),
    ("RevokeWebTokens", "000000021713"),
    ("ListClients", "000000021814"),
];

/// The `SessionInfo` sample's encoding, shared by three server lines below.
const SESSION_INFO: &str = "1000112233445566778899aabbccddeeff04776f726b010462617368922180d095ffbc31f4d395ffbc31021e64ed0701f7210376696d01";

/// `ServerMessage` frames, in declaration order; `{info}` stands for [`SESSION_INFO`].
const SERVER_GOLDEN: [(&str, &str); 21] = [
    ("Welcome", "00000009000105302e312e304d"),
    ("Ping", "0000000a01888e98a8c0e0808101"),
    ("Pong", "0000000302ac02"),
    ("Error", "00000014030103070f6e6f20737563682073657373696f6e"),
    ("Done", "000000020404"),
    ("Sessions", "0000003a050501{info}"),
    ("Created", "000000390606{info}"),
    ("Attached", "000000400707{info}e80701031b5b48"),
    (
        "Output",
        "00000018081000112233445566778899aabbccddeeffeb070368690a",
    ),
    ("Resync", "0000000809d00f041b5b324a"),
    ("SessionExited", "000000080a04776f726b0112"),
    ("Detached", "000000020b02"),
    ("Captured", "0000000d0c080524206c730a0102185063"),
    (
        "Status",
        "0000002b0d0905302e312e300163d2090b2f72756e2f662e736f636b0302040107636f6e74726f6c01f40306070809",
    ),
    ("Upgraded", "000000110e0a05302e312e3005302e322e3003042a"),
    ("InputTaken", "000000040f0bf207"),
    (
        "Event",
        "00000023101000112233445566778899aabbccddeeff04776f726b01fc07e8d795ffbc31030006",
    ),
    ("EventsLost", "00000002110c"),
    (
        "WebLink",
        "0000001c120d11687474703a2f2f682f23746f6b656e3d740174d0df95ffbc31",
    ),
    ("WebRevoked", "00000004130e0203"),
    (
        "Clients",
        "00000041140f01050762726f777365720a776562207669657765720101770b3132372e302e302e313a39b8e795ffbc310101770110feedfacecafebeef0123456789abcdef",
    ),
];

/// The `SessionInfo` sample as protocol 5 (and 3 and 4) reads it: the fields before `seq`.
const SESSION_INFO_V5: &str =
    "1000112233445566778899aabbccddeeff04776f726b010462617368922180d095ffbc31f4d395ffbc31021e64";

/// What a server sends a client of protocol 5 or older instead of the current lines, pinned:
/// the messages whose parts version 6 appended to (`{info}` is [`SESSION_INFO_V5`]), and
/// `InputTaken`, which such a client gets as `Done`.
const BEFORE_V6: [(&str, &str); 5] = [
    ("Sessions", "00000030050501{info}"),
    ("Created", "0000002f0606{info}"),
    ("Attached", "000000360707{info}e80701031b5b48"),
    ("Captured", "0000000c0c080524206c730a01021850"),
    ("InputTaken", "00000002040b"),
];

/// `Status` as a client of protocol 3 reads it (before version 4 appended
/// `pacing_missed_wake_ups`): the bytes a server sends such a client, pinned.
const STATUS_V3: &str =
    "0000002a0d0905302e312e300163d2090b2f72756e2f662e736f636b0302040107636f6e74726f6c01f403060708";

/// What a client of protocol `version` gets for `msg`, if not the current encoding.
fn pinned_for(msg: &ServerMessage, version: u32) -> Option<String> {
    let name = server_variant(msg);
    if version < 4 && name == "Status" {
        return Some(STATUS_V3.to_owned());
    }
    let (_, line) = BEFORE_V6.iter().find(|(pinned, _)| *pinned == name)?;
    (version < 6).then(|| line.replace("{info}", SESSION_INFO_V5))
}

#[test]
fn clients_of_older_protocols_get_messages_as_their_version_reads_them() {
    let codec = ServerCodec::new();
    for version in fugue_protocol::MIN_PROTOCOL_VERSION..=fugue_protocol::PROTOCOL_VERSION {
        for msg in samples::server_samples() {
            let name = server_variant(&msg);
            if version < 6 && matches!(name, "Event" | "EventsLost") {
                continue; // never sent to a client that cannot subscribe
            }
            let sent = hex(codec.encode_for_peer(&msg, version).unwrap().as_bytes());
            let expected = pinned_for(&msg, version)
                .unwrap_or_else(|| hex(codec.encode_frame(&msg).unwrap().as_bytes()));
            assert_eq!(sent, expected, "{name} for a client of protocol {version}");
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
        .collect()
}

fn postcard_hex(value: &impl Serialize) -> String {
    hex(&postcard::to_allocvec(value).unwrap())
}

#[test]
fn client_messages_encode_to_their_golden_bytes() {
    let msgs = samples::client_samples();
    assert_eq!(
        msgs.len(),
        CLIENT_GOLDEN.len(),
        "one golden line per sample"
    );
    let codec = ClientCodec::new();
    for (index, (msg, (name, golden))) in msgs.iter().zip(CLIENT_GOLDEN).enumerate() {
        assert_eq!(
            client_variant(msg),
            name,
            "samples and golden lines are in the same order"
        );
        let actual = hex(codec.encode_frame(msg).unwrap().as_bytes());
        assert_eq!(
            actual, golden,
            "ClientMessage::{name} changed on the wire; see the module doc"
        );
        // The body's first byte is the variant index, i.e. the declaration position.
        assert_eq!(unhex(golden)[4], u8::try_from(index).unwrap(), "{name}");
        let decoded = ServerCodec::new().decode(&mut BytesMut::from(&unhex(golden)[..]));
        assert_eq!(
            decoded.unwrap().as_ref(),
            Some(msg),
            "{name} decodes from its golden bytes"
        );
    }
}

#[test]
fn server_messages_encode_to_their_golden_bytes() {
    let msgs = samples::server_samples();
    assert_eq!(
        msgs.len(),
        SERVER_GOLDEN.len(),
        "one golden line per sample"
    );
    let codec = ServerCodec::new();
    for (index, (msg, (name, golden))) in msgs.iter().zip(SERVER_GOLDEN).enumerate() {
        assert_eq!(
            server_variant(msg),
            name,
            "samples and golden lines are in the same order"
        );
        let golden = golden.replace("{info}", SESSION_INFO);
        let actual = hex(codec.encode_frame(msg).unwrap().as_bytes());
        assert_eq!(
            actual, golden,
            "ServerMessage::{name} changed on the wire; see the module doc"
        );
        assert_eq!(unhex(&golden)[4], u8::try_from(index).unwrap(), "{name}");
        let decoded = ClientCodec::new().decode(&mut BytesMut::from(&unhex(&golden)[..]));
        assert_eq!(
            decoded.unwrap().as_ref(),
            Some(msg),
            "{name} decodes from its golden bytes"
        );
    }
}

#[test]
fn nested_enum_variants_keep_their_indices() {
    // Only some variants of these enums appear in the samples above, so pin each index.
    for (index, code) in ALL_ERROR_CODES.iter().enumerate() {
        assert_eq!(
            postcard_hex(code),
            format!("{index:02x}"),
            "ErrorCode::{code:?}"
        );
    }
    let reasons = [
        DetachReason::Requested,
        DetachReason::Replaced,
        DetachReason::SessionEnded,
        DetachReason::ServerShutdown,
        DetachReason::TooSlow,
    ];
    for (index, reason) in reasons.iter().enumerate() {
        assert_eq!(
            postcard_hex(reason),
            format!("{index:02x}"),
            "DetachReason::{reason:?}"
        );
    }
    for (index, role) in [Role::Interactive, Role::ReadOnly, Role::Control]
        .iter()
        .enumerate()
    {
        assert_eq!(postcard_hex(role), format!("{index:02x}"), "Role::{role:?}");
    }
    assert_eq!(postcard_hex(&CaptureFormat::Plain), "00");
    assert_eq!(postcard_hex(&CaptureFormat::Ansi), "01");
    // i32 fields are zigzag varints: 3 becomes 6, 9 becomes 18.
    assert_eq!(postcard_hex(&ExitStatus::Code { code: 3 }), "0006");
    assert_eq!(postcard_hex(&ExitStatus::Signal { signal: 9 }), "0112");
    assert_eq!(postcard_hex(&TermSize::DEFAULT), "1850");
}
