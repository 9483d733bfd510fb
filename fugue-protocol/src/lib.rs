//! fugue's wire protocol: the messages a client and the server exchange, and their framing.
//!
//! # Wire format
//!
//! A connection is a stream of frames in both directions. A frame is a big-endian `u32`
//! body length followed by the body, one [`ClientMessage`] or [`ServerMessage`] encoded with
//! postcard. A body longer than the maximum frame length (default 1 MiB) is refused before
//! any allocation: the server answers `Error { code: FrameTooLarge }` and closes.
//!
//! ```text
//! +----------------+------------------------------+
//! | len: u32 (BE)  | postcard(message), len bytes |
//! +----------------+------------------------------+
//! ```
//!
//! The client's first frame is `Hello`; the server answers `Welcome` or
//! `Error { code: VersionMismatch }`. Requests carry a `request_id` that the reply echoes.
//!
//! # Evolving the protocol
//!
//! Postcard is not self-describing: it encodes an enum variant by its index and a struct by
//! its field order. So variants and fields are never reordered or removed; new variants go
//! at the end of their enum. Any change that an old peer would misread (a new field in an
//! existing variant, a changed type) bumps [`PROTOCOL_VERSION`], which the handshake checks.
//! The golden-bytes tests pin today's encoding of every message.
//!
//! The user's configuration file's schema lives here too ([`ConfigFile`]), as both binaries
//! read it. This crate does no I/O.

mod codec;
mod compat;
mod config_file;
mod error;
mod events;
mod message;
mod paths;
mod reply;
mod types;

pub use codec::{
    ClientCodec, DEFAULT_MAX_FRAME_LEN, EncodedFrame, LENGTH_PREFIX_LEN, MessageCodec, ServerCodec,
};
pub use config_file::{
    CONFIG_ENV, ConfigError, ConfigFile, ServerSettings, WebSettings, config_path,
};
pub use error::CodecError;
pub use events::{EventKind, SessionEvent};
pub use message::{ClientMessage, ServerMessage};
pub use paths::{SOCKET_ENV, SOCKET_FILE_NAME, resolve_socket_path};
pub use types::{
    CaptureFormat, ClientSummary, DetachReason, ErrorCode, ExitStatus, Foreground, RequestId, Role,
    ServerStatus, SessionInfo, SessionSpec, TermSize, WebGrant,
};

/// The protocol version; both sides must agree on it in the handshake.
///
/// History: 1, the first wire format; 2, `CreateSession` gained `attach`; 3,
/// `ServerStatus` gained `pacing_timeouts`; 4, `ServerStatus` gained
/// `pacing_missed_wake_ups`; 5, `Upgrade`, `Upgraded` and `ErrorCode::UpgradeRefused`; 6,
/// positions and events: `InputTaken`, `seq` in `Captured` and `SessionInfo` (with
/// `foreground` and `shell_marks`), `Subscribe`, `Event`, `EventsLost`, `Claim`, `Release`;
/// 7, `AttachWithHistory` (a client sends it only to servers of 7 and later); 8, the
/// browser viewer's `ServeWeb`, `RevokeWebTokens`, `ListClients` and their answers.
pub const PROTOCOL_VERSION: u32 = 8;

/// The older protocol a client of this version also speaks, to a server that refuses
/// [`PROTOCOL_VERSION`] (one started before an upgrade of the binaries): 7 and 8 only added
/// client requests (and their answers), which a client does not send to older servers.
pub const FALLBACK_PROTOCOL_VERSION: u32 = 6;

/// The oldest protocol version a server accepts. A client of an older version still
/// attached when its server is upgraded (the `fugue` processes keep running the old binary)
/// must go on being served: the server answers each client in the version it speaks
/// ([`ServerCodec::encode_for_peer`]), and never sends it a message that version lacks.
pub const MIN_PROTOCOL_VERSION: u32 = 3;

/// Largest input payload a client puts in one `Input` or `SendInput` message.
pub const MAX_INPUT_CHUNK: usize = 64 * 1024;
