//! One task per client: handshake, then a `select!` over the socket, the client's registry
//! queue, the ping timer and the shutdown token.
//!
//! Invariants: the client is unregistered (and detached) on every exit path, by the
//! `Registration` guard. Input waits for room in its session's queue through
//! `pending_input`, a `select!` branch, so a program that does not read stops this client's
//! input but never its output. Requests that need a session's answer (attach, capture,
//! kill) await it in the handler. A session never blocks on a connection: pacing (waiting
//! for room in its clients' queues, at most 250 ms) is a `select!` branch of its own, so it
//! keeps serving commands and input meanwhile, and only its final `SessionExited` waits,
//! at most a second, for room in a full queue. So no wait cycle can form. Each take from a
//! queue that was holding its session's output back wakes the session (`made_room`). A
//! client that cannot take a write within the idle timeout is dropped rather than holding
//! the task forever.

use std::sync::Arc;

use fugue_protocol::{
    CodecError, DetachReason, ErrorCode, PROTOCOL_VERSION, Role, ServerCodec, ServerMessage,
};
use fugue_registry::{ClientId, LagFlag};
use futures_util::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf, UCred};
use tokio::sync::mpsc;
use tokio::time::{Instant, interval_at, timeout};
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::handlers::{self, Action, Ctx};
use crate::outbound::Outbound;
use crate::session::pacing::MAX_QUEUED;
use crate::session::{Input, SessionCmd, SessionHandle};
use crate::state::{ClientMeta, Shared};

type Reader = FramedRead<OwnedReadHalf, ServerCodec>;
type Writer = FramedWrite<OwnedWriteHalf, ServerCodec>;

/// Items written per batch before one flush.
const BATCH_ITEMS: usize = 64;

/// Why the connection is refused before the handshake.
pub(crate) enum Refuse {
    Busy,
    OtherUser { uid: u32 },
}

/// Serves one accepted connection to its end.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    stream: UnixStream,
    cred: Option<UCred>,
    refuse: Option<Refuse>,
) {
    let (read_half, write_half) = stream.into_split();
    let codec = ServerCodec::with_max_frame_len(shared.config.max_frame_len);
    let mut reader = FramedRead::new(read_half, codec.clone());
    let mut writer = FramedWrite::new(write_half, codec);
    if let Some(refuse) = refuse {
        let (code, message) = match refuse {
            Refuse::Busy => (
                ErrorCode::ServerBusy,
                "the server has reached its client limit".to_owned(),
            ),
            Refuse::OtherUser { uid } => (
                ErrorCode::PermissionDenied,
                format!("this server belongs to another user; you are uid {uid}"),
            ),
        };
        // Read the client's Hello first (bounded by the handshake timeout): closing with it
        // unread would make the client's send fail with a broken pipe before it could read
        // why it was refused.
        let _ = timeout(shared.config.handshake_timeout, reader.next()).await;
        let _ = write_now(&mut writer, error(None, code, message), &shared).await;
        return;
    }
    let Some(meta) = handshake(&shared, &mut reader, &mut writer, cred).await else {
        return;
    };
    let id = shared.registry.next_client_id();
    let (tx, rx) = mpsc::channel(shared.config.client_queue_len);
    let role = meta.role;
    tracing::info!(client = %id, role = role.as_str(), peer_pid = ?meta.pid, peer_uid = meta.uid, "client connected");
    match shared.registry.replace_client(id, tx, meta) {
        Ok(Some(replaced)) => {
            tracing::info!(client = %id, %replaced, "client replaced an older connection")
        }
        Ok(None) => {}
        Err(err) => {
            tracing::error!(client = %id, %err, "cannot register client");
            return;
        }
    }
    let mut conn = Connection {
        registration: Registration {
            shared: shared.clone(),
            id,
            attached: None,
        },
        role,
        writer,
        lag: shared.registry.lag_flag(id),
        resync_requested: false,
        last_heard: Instant::now(),
    };
    let welcome = ServerMessage::Welcome {
        protocol_version: PROTOCOL_VERSION,
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        client_id: id.get(),
    };
    if conn.write(Outbound::Message(welcome)).await.is_ok() {
        conn.run(reader, rx).await;
    }
}

/// Waits for a good `Hello`, answering anything else with an error.
async fn handshake(
    shared: &Shared,
    reader: &mut Reader,
    writer: &mut Writer,
    cred: Option<UCred>,
) -> Option<ClientMeta> {
    let first = timeout(shared.config.handshake_timeout, reader.next()).await;
    let refusal = match first {
        Err(_) => error(
            None,
            ErrorCode::HandshakeTimeout,
            "no Hello within the handshake timeout",
        ),
        Ok(None) => return None,
        Ok(Some(Err(err))) => codec_error(&err),
        Ok(Some(Ok(fugue_protocol::ClientMessage::Hello {
            protocol_version,
            client_name,
            identity,
            role,
        }))) => {
            if protocol_version == PROTOCOL_VERSION {
                tracing::debug!(%client_name, ?role, "handshake");
                return Some(ClientMeta {
                    role,
                    identity,
                    pid: cred.and_then(|cred| cred.pid()),
                    uid: cred.map_or(u32::MAX, |cred| cred.uid()),
                });
            }
            error(
                None,
                ErrorCode::VersionMismatch,
                format!(
                    "protocol version mismatch: client speaks {protocol_version}, server speaks {PROTOCOL_VERSION}"
                ),
            )
        }
        Ok(Some(Ok(_))) => error(
            None,
            ErrorCode::HandshakeRequired,
            "the first message must be Hello",
        ),
    };
    let _ = write_now(writer, refusal, shared).await;
    None
}

/// Unregisters (and detaches) the client however the task ends.
struct Registration {
    shared: Arc<Shared>,
    id: ClientId,
    attached: Option<SessionHandle>,
}

impl Registration {
    fn detach(&mut self) {
        if let Some(handle) = self.attached.take() {
            self.shared.registry.detach_from_session(self.id);
            // A full command queue only delays the size policy's update until the session
            // next hears from this client, which is never; so block-free try_send is enough
            // in the common case and the fallback spawn covers the rest.
            let cmd = SessionCmd::Detach { client: self.id };
            if let Err(mpsc::error::TrySendError::Full(cmd)) = handle.commands.try_send(cmd) {
                tokio::spawn(async move { handle.commands.send(cmd).await });
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.detach();
        self.shared.registry.unregister_client(self.id);
    }
}

struct Connection {
    registration: Registration,
    role: Role,
    writer: Writer,
    /// The registry's lagging mark for this client, read without a map lookup (it is
    /// checked after every message written). `None` only if replaced before we looked.
    lag: Option<LagFlag>,
    /// A resync was asked for and has not arrived yet.
    resync_requested: bool,
    last_heard: Instant,
}

/// Whether the connection goes on.
type Flow = Result<(), ()>;

impl Connection {
    async fn run(&mut self, mut reader: Reader, mut rx: mpsc::Receiver<Outbound>) {
        let shared = self.registration.shared.clone();
        let period = shared.config.ping_interval;
        let mut ping = interval_at(Instant::now() + period, period);
        let mut nonce = 0u64;
        let mut pending_input: Option<(mpsc::Sender<Input>, Input)> = None;
        loop {
            let input_sender = pending_input.as_ref().map(|(sender, _)| sender.clone());
            let flow = tokio::select! {
                biased;
                () = shared.shutdown.cancelled() => {
                    self.farewell(&mut rx).await;
                    Err(())
                }
                item = rx.recv() => match item {
                    Some(item) => {
                        self.made_room(&rx);
                        self.write_batch(item, &mut rx).await
                    }
                    None => {
                        // The registry dropped our sender: a newer connection took our place.
                        let replaced = ServerMessage::Detached { reason: DetachReason::Replaced };
                        let _ = self.write(Outbound::Message(replaced)).await;
                        Err(())
                    }
                },
                permit = reserve(input_sender), if pending_input.is_some() => {
                    if let (Some(permit), Some((_, input))) = (permit, pending_input.take()) {
                        permit.send(input);
                    }
                    Ok(())
                }
                frame = reader.next(), if pending_input.is_none() => match frame {
                    None => Err(()),
                    Some(Err(err)) => {
                        let _ = self.write(Outbound::Message(codec_error(&err))).await;
                        Err(())
                    }
                    Some(Ok(msg)) => {
                        self.last_heard = Instant::now();
                        self.dispatch(msg, &mut pending_input).await
                    }
                },
                _ = ping.tick() => {
                    if self.last_heard.elapsed() >= shared.config.idle_timeout {
                        let idle = error(None, ErrorCode::IdleTimeout, "no message from the client within the idle timeout");
                        let _ = self.write(Outbound::Message(idle)).await;
                        Err(())
                    } else {
                        nonce += 1;
                        self.write(Outbound::Message(ServerMessage::Ping { nonce })).await
                    }
                }
            };
            if flow.is_err() {
                break;
            }
            self.maybe_request_resync(&rx);
        }
        tracing::debug!(client = %self.registration.id, "connection closed");
    }

    async fn dispatch(
        &mut self,
        msg: fugue_protocol::ClientMessage,
        pending_input: &mut Option<(mpsc::Sender<Input>, Input)>,
    ) -> Flow {
        let mut ctx = Ctx {
            shared: &self.registration.shared,
            client: self.registration.id,
            role: self.role,
            attached: &mut self.registration.attached,
        };
        match handlers::dispatch(&mut ctx, msg).await {
            Action::None => Ok(()),
            Action::Reply(reply) => self.write(Outbound::Message(reply)).await,
            Action::Forward(sender, input) => {
                *pending_input = Some((sender, input));
                Ok(())
            }
            Action::Detached => {
                self.registration.detach();
                let detached = ServerMessage::Detached {
                    reason: DetachReason::Requested,
                };
                self.write(Outbound::Message(detached)).await
            }
        }
    }

    /// Called after taking an item off the queue. Taking from a queue that was full enough
    /// to hold the session's output back (see `session::pacing`) makes room: wake the
    /// session now, so it reads while this batch is written. Every such take wakes it, so
    /// the session, which looks at the queues after arming its wake-up, cannot miss one. A
    /// lagging client does not count for pacing, so it wakes nobody.
    fn made_room(&self, rx: &mpsc::Receiver<Outbound>) {
        let Some(handle) = &self.registration.attached else {
            return;
        };
        let lagging = self.lag.as_ref().is_some_and(LagFlag::is_lagging);
        if !lagging && rx.len() + 1 >= MAX_QUEUED {
            handle.meta.drained.notify_waiters();
        }
    }

    /// A lagging client whose queue has drained asks its session for one `Resync`.
    fn maybe_request_resync(&mut self, rx: &mpsc::Receiver<Outbound>) {
        let Some(handle) = &self.registration.attached else {
            return;
        };
        let id = self.registration.id;
        let lagging = self.lag.as_ref().is_some_and(LagFlag::is_lagging);
        if self.resync_requested || !rx.is_empty() || !lagging {
            return;
        }
        if handle
            .commands
            .try_send(SessionCmd::Resync { client: id })
            .is_ok()
        {
            self.resync_requested = true;
        }
    }

    /// Writes `first` and whatever else is queued (up to a batch), then flushes once.
    async fn write_batch(&mut self, first: Outbound, rx: &mut mpsc::Receiver<Outbound>) -> Flow {
        // Anything arriving means an earlier resync either came or failed; ask again later.
        self.resync_requested = false;
        let limit = self.registration.shared.config.idle_timeout;
        let batch = async {
            self.feed(first).await?;
            for _ in 1..BATCH_ITEMS {
                match rx.try_recv() {
                    Ok(item) => {
                        // The session may have filled the queue while the last item was
                        // being written; taking from it must wake the session too.
                        self.made_room(rx);
                        self.feed(item).await?;
                    }
                    Err(_) => break,
                }
            }
            SinkExt::<ServerMessage>::flush(&mut self.writer)
                .await
                .map_err(drop)
        };
        timeout(limit, batch).await.unwrap_or(Err(()))
    }

    async fn write(&mut self, item: Outbound) -> Flow {
        let limit = self.registration.shared.config.idle_timeout;
        let write = async {
            self.feed(item).await?;
            SinkExt::<ServerMessage>::flush(&mut self.writer)
                .await
                .map_err(drop)
        };
        timeout(limit, write).await.unwrap_or(Err(()))
    }

    /// Buffers one item; a message too large to encode is answered with an error instead.
    async fn feed(&mut self, item: Outbound) -> Flow {
        let result = match item {
            Outbound::Frame(frame) => self.writer.feed(frame).await,
            Outbound::Message(msg) => {
                if matches!(msg, ServerMessage::Detached { .. }) {
                    // The session detached us itself (its program ended).
                    self.registration.attached = None;
                }
                self.writer.feed(msg).await
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err(CodecError::Io(_)) => Err(()),
            Err(err) => {
                tracing::error!(client = %self.registration.id, %err, "cannot encode a message");
                let msg = error(
                    None,
                    ErrorCode::Internal,
                    format!("the server could not send a message: {err}"),
                );
                self.writer.feed(msg).await.map_err(drop)
            }
        }
    }

    /// Shutdown: deliver what is queued, then `Detached { ServerShutdown }`.
    async fn farewell(&mut self, rx: &mut mpsc::Receiver<Outbound>) {
        self.registration.detach();
        rx.close();
        let limit = self.registration.shared.config.shutdown_timeout;
        let drain = async {
            while let Some(item) = rx.recv().await {
                self.feed(item).await?;
            }
            let bye = ServerMessage::Detached {
                reason: DetachReason::ServerShutdown,
            };
            self.feed(Outbound::Message(bye)).await?;
            SinkExt::<ServerMessage>::flush(&mut self.writer)
                .await
                .map_err(drop)
        };
        let _ = timeout(limit, drain).await;
    }
}

/// Waits for room in a session's input queue; `None` if the session is gone.
async fn reserve(sender: Option<mpsc::Sender<Input>>) -> Option<mpsc::OwnedPermit<Input>> {
    sender?.reserve_owned().await.ok()
}

/// Writes one message outside the main loop (refusals and handshake errors).
async fn write_now(writer: &mut Writer, msg: ServerMessage, shared: &Shared) -> Flow {
    let write = async { writer.send(msg).await.map_err(drop) };
    timeout(shared.config.handshake_timeout, write)
        .await
        .unwrap_or(Err(()))
}

pub(crate) fn error(
    request_id: Option<u32>,
    code: ErrorCode,
    message: impl Into<String>,
) -> ServerMessage {
    ServerMessage::Error {
        request_id,
        code,
        message: message.into(),
    }
}

fn codec_error(err: &CodecError) -> ServerMessage {
    let code = match err {
        CodecError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
        _ => ErrorCode::MalformedFrame,
    };
    error(None, code, err.to_string())
}
