//! One task per client: the handshake (`handshake.rs`), then a `select!` over the socket,
//! the client's registry queue, the request it waits on, the ping timer and the shutdown
//! token; the writing side is `output.rs`.
//!
//! Invariants: the client is unregistered on every exit path, by its [`Membership`], which
//! wraps the registry's own `Registration` and tells the session it last joined that it
//! left. Which session the client is attached to is written only by session tasks (an
//! attach to another session moves it there); the connection holds the handle of the
//! session it joined, to route input and resizes, and asks the registry whether it is
//! still a member. A request that must complete before the
//! next one is read (input waiting for room in a session's queue, a detach waiting for its
//! `Detached` to be queued) is a `select!` branch of its own, so output keeps flowing to
//! the client meanwhile: a program that does not read stops this client's input, never its
//! output. A session never blocks on a connection (pacing waits at most the stall limit,
//! in a branch of its own), so no wait cycle can form. A client that cannot take a write
//! within the idle timeout is dropped rather than holding the task forever.

mod handshake;
mod output;

use std::sync::Arc;

use fugue_protocol::{
    ClientMessage, CodecError, DetachReason, ErrorCode, PROTOCOL_VERSION, Role, ServerCodec,
    ServerMessage,
};
use fugue_registry::{ClientId, LagFlag};
use futures_util::StreamExt;
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf, UCred};
use tokio::sync::mpsc;
use tokio::time::{Instant, interval_at};
use tokio_util::codec::{FramedRead, FramedWrite};

pub(crate) use self::handshake::Refuse;
use crate::clients::{ClientMeta, ClientRegistration, Outbound};
use crate::handlers::{self, Action, Ctx, Pending};
use crate::refusal::{codec_error, error};
use crate::session::SessionHandle;
use crate::state::Shared;

type Reader = FramedRead<OwnedReadHalf, ServerCodec>;
type Writer = FramedWrite<OwnedWriteHalf, ServerCodec>;

/// Whether the connection goes on.
type Flow = Result<(), ()>;

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
    if let Some(why) = refuse {
        handshake::refuse(&shared, &mut reader, &mut writer, why).await;
        return;
    }
    let Some(meta) = handshake::handshake(&shared, &mut reader, &mut writer, cred).await else {
        return;
    };
    let role = meta.role;
    let Some((membership, rx)) = register(&shared, meta) else {
        return;
    };
    let mut conn = Connection {
        lag: shared.registry.lag_flag(membership.id()),
        shared,
        membership,
        role,
        writer,
        resync_requested: false,
        last_heard: Instant::now(),
    };
    let welcome = ServerMessage::Welcome {
        protocol_version: PROTOCOL_VERSION,
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        client_id: conn.membership.id().get(),
    };
    if conn.write(welcome.into()).await.is_ok() {
        conn.run(reader, rx).await;
    }
}

/// Registers the client with a fresh queue; a client of the same identity is replaced.
fn register(shared: &Shared, meta: ClientMeta) -> Option<(Membership, mpsc::Receiver<Outbound>)> {
    let id = shared.registry.next_client_id();
    let (tx, rx) = mpsc::channel(shared.config.client_queue_len);
    tracing::info!(client = %id, role = meta.role.as_str(), peer_pid = ?meta.pid, peer_uid = meta.uid, "client connected");
    match ClientRegistration::new(&shared.registry, id, tx, meta) {
        Ok(registration) => {
            if let Some(replaced) = registration.replaced() {
                tracing::info!(client = %id, %replaced, "client replaced an older connection");
            }
            let session = None;
            Some((
                Membership {
                    registration,
                    session,
                },
                rx,
            ))
        }
        Err(err) => {
            tracing::error!(client = %id, %err, "cannot register client");
            None
        }
    }
}

/// The client's place in the server: its registration (dropping it unregisters the
/// client, which also takes it out of its session's members) and the session it last
/// joined, which is told when the client goes.
struct Membership {
    registration: ClientRegistration,
    session: Option<SessionHandle>,
}

impl Membership {
    fn id(&self) -> ClientId {
        self.registration.id()
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            session.left_now(self.registration.id());
        }
    }
}

struct Connection {
    shared: Arc<Shared>,
    membership: Membership,
    role: Role,
    writer: Writer,
    /// The registry's lagging mark for this client, read without a map lookup (it is
    /// checked after every message written). `None` only if replaced before we looked.
    lag: Option<LagFlag>,
    /// A resync was asked for and has not arrived yet.
    resync_requested: bool,
    last_heard: Instant,
}

impl Connection {
    async fn run(&mut self, mut reader: Reader, mut rx: mpsc::Receiver<Outbound>) {
        let shared = self.shared.clone();
        let period = shared.config.ping_interval;
        let mut ping = interval_at(Instant::now() + period, period);
        let mut nonce = 0u64;
        // A request that must complete before the next one is read.
        let mut waiting: Option<Pending> = None;
        loop {
            let flow = tokio::select! {
                biased;
                () = shared.shutdown.cancelled() => {
                    self.farewell(&mut rx).await;
                    Err(())
                }
                item = rx.recv() => self.deliver(item, &mut rx).await,
                () = finished(&mut waiting) => {
                    waiting = None;
                    Ok(())
                }
                frame = reader.next(), if waiting.is_none() => {
                    self.on_frame(frame, &mut waiting).await
                }
                _ = ping.tick() => self.ping(&mut nonce).await,
            };
            if flow.is_err() {
                break;
            }
            self.maybe_request_resync(&rx);
        }
        tracing::debug!(client = %self.membership.id(), "connection closed");
    }

    async fn on_frame(
        &mut self,
        frame: Option<Result<ClientMessage, CodecError>>,
        waiting: &mut Option<Pending>,
    ) -> Flow {
        match frame {
            None => Err(()),
            Some(Err(err)) => {
                let _ = self.write(codec_error(&err).into()).await;
                Err(())
            }
            Some(Ok(msg)) => {
                self.last_heard = Instant::now();
                let mut ctx = Ctx {
                    shared: &self.shared,
                    client: self.membership.id(),
                    role: self.role,
                    session: &mut self.membership.session,
                };
                match handlers::dispatch(&mut ctx, msg).await {
                    Action::None => Ok(()),
                    Action::Reply(reply) => self.write(reply.into()).await,
                    Action::Wait(pending) => {
                        *waiting = Some(pending);
                        Ok(())
                    }
                }
            }
        }
    }

    /// Pings the client, or drops it if it has said nothing for the idle timeout.
    async fn ping(&mut self, nonce: &mut u64) -> Flow {
        if self.last_heard.elapsed() >= self.shared.config.idle_timeout {
            let message = "no message from the client within the idle timeout";
            let _ = self
                .write(error(None, ErrorCode::IdleTimeout, message).into())
                .await;
            return Err(());
        }
        *nonce += 1;
        self.write(ServerMessage::Ping { nonce: *nonce }.into())
            .await
    }

    /// Writes an item taken from the queue (with whatever else is queued); a closed queue
    /// means the registry dropped our sender: a newer connection took our place.
    async fn deliver(&mut self, item: Option<Outbound>, rx: &mut mpsc::Receiver<Outbound>) -> Flow {
        match item {
            Some(item) => {
                self.made_room(rx);
                self.write_batch(item, rx).await
            }
            None => {
                let replaced = ServerMessage::Detached {
                    reason: DetachReason::Replaced,
                };
                let _ = self.write(replaced.into()).await;
                Err(())
            }
        }
    }
}

/// Completes when the awaited request does; never without one.
async fn finished(waiting: &mut Option<Pending>) {
    match waiting {
        Some(pending) => pending.await,
        None => std::future::pending().await,
    }
}
