//! [`HandoffState`]: everything a server hands to the binary that replaces it, as plain
//! data with a versioned encoding.
//!
//! The bytes are [`MAGIC`], the format number (`u32`, big-endian), then the state encoded
//! with postcard, which is not self-describing: any change to these types is a new format.
//! A new format gets a new number, the old types stay (renamed `...V1`) with a conversion,
//! and [`FORMATS_READ`] grows; a binary reads every format it lists, and an upgrade is
//! refused before anything changes if the new binary does not list this one's
//! ([`FORMAT`]). Descriptors travel by number: the old server clears their close-on-exec
//! flag so they survive `exec`, and the new one adopts each once (`fds.rs`).

use bytes::Bytes;
use fugue_protocol::{ExitStatus, RequestId, Role, TermSize};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::session::ModelState;

/// The first bytes of a handoff state.
pub(crate) const MAGIC: [u8; 8] = *b"fugue-ho";
/// The format this binary writes: 3 is 2 followed by the browser viewer's [`WebState`].
pub(crate) const FORMAT: u32 = 3;
/// The formats this binary reads.
pub(crate) const FORMATS_READ: &[u32] = &[2, 3];

/// A server's state, on its way to the binary that replaces it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct HandoffState {
    /// The version of the server that wrote it.
    pub(crate) from_version: String,
    /// How long that server (and those before it) had been up.
    pub(crate) uptime_ms: u64,
    pub(crate) config: ConfigState,
    /// The listening socket's descriptor.
    pub(crate) listener: i32,
    /// A shutdown was asked for during the handoff: the new server carries it out.
    pub(crate) shutdown: bool,
    /// The next client id and the next generated session name.
    pub(crate) next_client_id: u64,
    pub(crate) next_auto_name: u64,
    /// When the old server stopped serving requests (Unix ms), to tell how long it paused.
    pub(crate) paused_unix_ms: u64,
    /// The request that asked for this upgrade, answered by the new server.
    pub(crate) upgrade: Option<UpgradeNote>,
    pub(crate) sessions: Vec<SessionState>,
    pub(crate) connections: Vec<ConnectionState>,
    /// The browser viewer, if it was serving (format 3: encoded after the rest).
    #[serde(skip)]
    pub(crate) web: Option<WebState>,
}

/// The browser viewer: its settings, and its listener and live tokens if it serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WebState {
    /// `WebConfig::bind`, as text.
    pub(crate) bind: String,
    /// `WebConfig::allowed_hosts`.
    pub(crate) allowed_hosts: Vec<String>,
    /// `WebConfig::max_clients`.
    pub(crate) max_clients: u64,
    /// `WebConfig::tls`: the configured certificate chain and key files.
    pub(crate) tls: Option<(Vec<u8>, Vec<u8>)>,
    /// The running listener, if `fugue web` started it.
    pub(crate) serving: Option<ServingState>,
}

/// A running viewer listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ServingState {
    /// The listening TCP socket's descriptor.
    pub(crate) listener: i32,
    /// The certificate chain and key files it serves TLS with, to be read again.
    pub(crate) tls: Option<(Vec<u8>, Vec<u8>)>,
    /// Its live tokens.
    pub(crate) tokens: Vec<TokenState>,
}

/// One live token: its SHA-256 and its grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TokenState {
    /// The token's SHA-256.
    pub(crate) hash: [u8; 32],
    /// It may type and resize.
    pub(crate) operator: bool,
    /// The sessions it may see; `None` for all.
    pub(crate) sessions: Option<Vec<Uuid>>,
    /// When it expires.
    pub(crate) expires_unix_ms: u64,
}

/// The server's configuration (`Config`), field by field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ConfigState {
    /// Bytes of the path, which need not be UTF-8.
    pub(crate) socket_path: Vec<u8>,
    pub(crate) log_file: Option<Vec<u8>>,
    pub(crate) max_clients: u64,
    pub(crate) max_frame_len: u64,
    pub(crate) handshake_timeout_ms: u64,
    pub(crate) idle_timeout_ms: u64,
    pub(crate) ping_interval_ms: u64,
    pub(crate) client_queue_len: u64,
    pub(crate) scrollback_lines: u64,
    pub(crate) shutdown_timeout_ms: u64,
    pub(crate) kill_grace_ms: u64,
    pub(crate) replay_ring_bytes: u64,
    pub(crate) pacing_stall_ms: u64,
    pub(crate) idle_after_ms: u64,
    pub(crate) shell_integration: bool,
    pub(crate) agent_link: bool,
}

/// Who asked for the upgrade, to be answered by the new server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UpgradeNote {
    pub(crate) client: u64,
    pub(crate) request_id: RequestId,
    /// Why the server that reads this is not the new binary after all (the exec failed and
    /// the old binary took its place): the requester gets this as an error.
    pub(crate) failure: Option<String>,
}

/// One session: its program, PTY, numbered output and screen.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SessionState {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) command: Vec<String>,
    pub(crate) pid: u32,
    /// The PTY master's descriptor.
    pub(crate) master: i32,
    pub(crate) created_unix_ms: u64,
    pub(crate) last_attached_unix_ms: u64,
    pub(crate) size: TermSize,
    /// Interactive clients' sizes, least recent first (the size policy).
    pub(crate) sizes: Vec<(u64, TermSize)>,
    /// The position of the last chunk, and the replay ring's chunks, oldest first.
    pub(crate) seq: u64,
    pub(crate) ring: Vec<(u64, Bytes)>,
    pub(crate) model: Option<ModelState>,
    /// Input taken from clients and not yet written to the PTY, and the `SendInput`
    /// requests to answer once the first `offset` bytes of it are: (client, request,
    /// offset).
    pub(crate) pending_input: Bytes,
    pub(crate) input_replies: Vec<(u64, RequestId, u64)>,
    /// The client that had claimed the session.
    pub(crate) claimed_by: Option<u64>,
    /// Whether the program had marked a command's end (OSC 133).
    pub(crate) shell_marks: bool,
    /// Whether it was started with fugue's shell integration.
    pub(crate) integrated: bool,
    /// How the program ended, if it has (the session was draining its output).
    pub(crate) exit: Option<ExitStatus>,
    /// Whether the program was sent SIGHUP (a kill is under way).
    pub(crate) hung_up: bool,
}

/// One client connection, cut at a frame boundary: what it had not read yet and what it
/// had not been sent yet go with it, so it carries on where it stopped.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ConnectionState {
    /// The socket's descriptor.
    pub(crate) fd: i32,
    /// Bytes received and not decoded yet.
    pub(crate) unread: Bytes,
    /// Bytes encoded for the client and not written yet.
    pub(crate) unwritten: Bytes,
    /// `None` before its `Hello`.
    pub(crate) client: Option<ClientState>,
}

/// A registered client, as the registry and its connection knew it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ClientState {
    pub(crate) id: u64,
    pub(crate) role: Role,
    pub(crate) identity: Option<Uuid>,
    pub(crate) pid: Option<i32>,
    pub(crate) uid: u32,
    /// The protocol version it speaks.
    pub(crate) version: u32,
    /// The session it last joined, and whether it is still a member.
    pub(crate) session: Option<Uuid>,
    pub(crate) member: bool,
    pub(crate) lagging: bool,
    /// Input it sent that its session had no room for yet, the session it is for, and
    /// the request to answer once it is taken (`SendInput`).
    pub(crate) pending_input: Option<(Uuid, Bytes)>,
    pub(crate) pending_reply: Option<RequestId>,
    /// Its event subscription (`Some(None)`: every session), and a claim it waited for.
    pub(crate) subscription: Option<Option<Uuid>>,
    pub(crate) pending_claim: Option<(Uuid, RequestId)>,
    /// Its ssh agent's path (bytes, which need not be UTF-8).
    pub(crate) agent: Option<Vec<u8>>,
}

/// Why a handoff state cannot be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error("not a fugue handoff state")]
    NotAState,
    #[error("handoff state format {0} is not one this binary reads ({FORMATS_READ:?})")]
    Format(u32),
    #[error("the handoff state is damaged: {0}")]
    Damaged(#[from] postcard::Error),
}

impl HandoffState {
    /// The state's bytes, in this binary's format.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&FORMAT.to_be_bytes());
        postcard::to_io(self, &mut bytes)?;
        postcard::to_io(&self.web, &mut bytes)?;
        Ok(bytes)
    }

    /// Reads a state written in any format this binary reads.
    pub(crate) fn decode(bytes: &[u8]) -> Result<HandoffState, StateError> {
        let rest = bytes.strip_prefix(&MAGIC).ok_or(StateError::NotAState)?;
        let (format, body) = rest.split_first_chunk::<4>().ok_or(StateError::NotAState)?;
        let format = u32::from_be_bytes(*format);
        if !FORMATS_READ.contains(&format) {
            return Err(StateError::Format(format));
        }
        let (mut state, rest): (HandoffState, _) = postcard::take_from_bytes(body)?;
        let rest = if format >= 3 {
            let (web, rest) = postcard::take_from_bytes(rest)?;
            state.web = web;
            rest
        } else {
            rest
        };
        if rest.is_empty() {
            Ok(state)
        } else {
            Err(StateError::Damaged(postcard::Error::DeserializeBadEncoding))
        }
    }

    /// Every descriptor the state names, in one list.
    pub(crate) fn descriptors(&self) -> Vec<i32> {
        let sessions = self.sessions.iter().map(|session| session.master);
        let connections = self.connections.iter().map(|connection| connection.fd);
        let web = self
            .web
            .iter()
            .filter_map(|web| web.serving.as_ref())
            .map(|serving| serving.listener);
        std::iter::once(self.listener)
            .chain(sessions)
            .chain(connections)
            .chain(web)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> HandoffState {
        HandoffState {
            from_version: "0.1.0".into(),
            uptime_ms: 5,
            config: ConfigState {
                socket_path: b"/run/f.sock".to_vec(),
                log_file: None,
                max_clients: 1,
                max_frame_len: 2,
                handshake_timeout_ms: 3,
                idle_timeout_ms: 4,
                ping_interval_ms: 5,
                client_queue_len: 6,
                scrollback_lines: 7,
                shutdown_timeout_ms: 8,
                kill_grace_ms: 9,
                replay_ring_bytes: 10,
                pacing_stall_ms: 11,
                idle_after_ms: 12,
                shell_integration: true,
                agent_link: true,
            },
            listener: 3,
            shutdown: true,
            next_client_id: 12,
            next_auto_name: 2,
            paused_unix_ms: 1,
            upgrade: None,
            sessions: Vec::new(),
            web: None,
            connections: vec![ConnectionState {
                fd: 7,
                unread: Bytes::from_static(b"\0\0"),
                unwritten: Bytes::new(),
                client: None,
            }],
        }
    }

    #[test]
    fn a_state_reads_back_and_names_its_descriptors() {
        let mut state = state();
        state.web = Some(WebState {
            bind: "127.0.0.1:0".into(),
            allowed_hosts: vec!["proxy:443".into()],
            max_clients: 4,
            tls: None,
            serving: Some(ServingState {
                listener: 9,
                tls: None,
                tokens: vec![TokenState {
                    hash: [7; 32],
                    operator: false,
                    sessions: Some(Vec::new()),
                    expires_unix_ms: 5,
                }],
            }),
        });
        let bytes = state.encode().unwrap();
        assert!(bytes.starts_with(b"fugue-ho\0\0\0\x03"));
        let read = HandoffState::decode(&bytes).unwrap();
        assert_eq!(read.config.socket_path, b"/run/f.sock");
        assert!(read.shutdown);
        assert_eq!(read.descriptors(), [3, 7, 9]);
        let web = read.web.unwrap();
        assert_eq!(
            (web.serving.unwrap().tokens[0].hash, web.allowed_hosts),
            ([7; 32], vec!["proxy:443".into()])
        );
    }

    #[test]
    fn format_2_is_read_as_a_state_without_the_viewer() {
        // Format 2 is format 3 without the trailing `web`.
        let mut bytes = state().encode().unwrap();
        assert_eq!(bytes.pop(), Some(0), "`None` ends format 3");
        bytes[11] = 2;
        let read = HandoffState::decode(&bytes).unwrap();
        assert!(read.web.is_none());
        assert_eq!(read.descriptors(), [3, 7]);
    }

    #[test]
    fn other_formats_and_damage_are_refused() {
        let mut bytes = state().encode().unwrap();
        // Format 1 (before protocol 6's claims, input replies and subscriptions) is not read.
        bytes[11] = 1;
        assert!(matches!(
            HandoffState::decode(&bytes),
            Err(StateError::Format(1))
        ));
        assert!(matches!(
            HandoffState::decode(b"nonsense"),
            Err(StateError::NotAState)
        ));
        let whole = state().encode().unwrap();
        let cut = &whole[..whole.len() - 3];
        assert!(matches!(
            HandoffState::decode(cut),
            Err(StateError::Damaged(_))
        ));
    }
}
