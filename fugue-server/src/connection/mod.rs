//! One task per client: the handshake (`handshake.rs`), then a `select!` over the socket,
//! the client's registry queue, the request it waits on, the ping timer, shutdown and an
//! upgrade's handoff (`carry.rs`); the writing side is `output.rs`.
//!
//! Invariants: the client is unregistered on every exit path, by its [`Membership`], which
//! wraps the registry's own `Registration` and tells the session it last joined that it
//! left. Which session the client is attached to is written only by session tasks (an
//! attach to another session moves it there); the connection holds the handle of the
//! session it joined, to route input and resizes, and asks the registry whether it is
//! still a member. A request that must complete before the next one is read (input
//! waiting for room in a session's queue, a detach waiting for its `Detached` to be
//! queued) is a [`Pending`] the `select!` polls, so output keeps flowing to the client
//! meanwhile: a program that does not read stops this client's input, never its output.
//! A session never blocks on a connection (pacing waits at most the stall limit, in a
//! branch of its own), so no wait cycle can form. A client that cannot take a write within
//! the idle timeout is dropped rather than holding the task forever.

mod carry;
mod handshake;
mod incoming;
mod output;

use std::sync::Arc;

use bytes::Bytes;
use fugue_protocol::{
    ClientMessage, CodecError, DetachReason, ErrorCode, EventKind, ServerCodec, ServerMessage,
};
use fugue_registry::{ClientId, LagFlag};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::time::{Instant, interval_at};
use tokio_util::codec::FramedWrite;

pub(crate) use self::carry::{CarriedClient, CarriedConnection, serve_carried};
pub(crate) use self::handshake::Refuse;
use self::incoming::Incoming;
use crate::clients::{Browser, ClientMeta, ClientRegistration, Outbound};
use crate::handlers::{self, Action, Ctx, Pending};
use crate::handoff::Presence;
use crate::refusal::{codec_error, error};
use crate::session::SessionHandle;
use crate::state::Shared;

type Reader = Incoming;
type Writer = FramedWrite<OwnedWriteHalf, ServerCodec>;

/// Whether the connection goes on.
type Flow = Result<(), ()>;

/// Serves one accepted connection to its end; `unread` is what a server this one took
/// over had received on it before the client's `Hello`.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    stream: UnixStream,
    refuse: Option<Refuse>,
    unread: Bytes,
) {
    serve_as(shared, stream, refuse, unread, None).await;
}

/// Serves a browser's connection: `stream` is the server's end of the socket pair the
/// viewer's gateway opened for it (`web/bridge.rs`). It is served as any client, with the
/// browser's metadata in the registry, and is not carried over an upgrade (the browser
/// reconnects, and resumes).
pub(crate) async fn serve_browser(shared: Arc<Shared>, stream: UnixStream, browser: Arc<Browser>) {
    serve_as(shared, stream, None, Bytes::new(), Some(browser)).await;
}

async fn serve_as(
    shared: Arc<Shared>,
    stream: UnixStream,
    refuse: Option<Refuse>,
    unread: Bytes,
    browser: Option<Arc<Browser>>,
) {
    let cred = stream.peer_cred().ok();
    let (read_half, write_half) = stream.into_split();
    let codec = ServerCodec::with_max_frame_len(shared.config.max_frame_len);
    let mut reader = Incoming::new(read_half, codec.clone(), &unread);
    let mut writer = FramedWrite::new(write_half, codec);
    if let Some(why) = refuse {
        handshake::refuse(&shared, &mut reader, &mut writer, why).await;
        return;
    }
    // Refused connections end on their own; an upgrade waits for this one to park.
    let presence = shared.handoff.enter();
    let handoff = shared.handoff.clone();
    let meta = tokio::select! {
        biased;
        () = handoff.park.cancelled() => {
            // A browser's gateway ends with this server; the browser reconnects.
            if browser.is_none() {
                carry::before_hello(&shared, reader, writer);
            }
            return;
        }
        meta = handshake::handshake(&shared, &mut reader, &mut writer, cred) => meta,
    };
    let Some(mut meta) = meta else {
        return;
    };
    meta.browser = browser;
    let Some((membership, rx)) = register(&shared, meta.clone()) else {
        return;
    };
    let conn = Connection::new(shared, membership, meta, writer, presence);
    let welcome = conn.welcome();
    conn.start(reader, rx, None, Some(welcome)).await;
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
            Some((Membership::new(registration, None), rx))
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
pub(crate) struct Membership {
    registration: ClientRegistration,
    session: Option<SessionHandle>,
}

impl Membership {
    pub(crate) fn new(registration: ClientRegistration, session: Option<SessionHandle>) -> Self {
        Membership {
            registration,
            session,
        }
    }

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
    meta: ClientMeta,
    writer: Writer,
    /// The registry's lagging mark for this client, read without a map lookup (it is
    /// checked after every message written). `None` only if replaced before we looked.
    lag: Option<LagFlag>,
    /// A resync was asked for and has not arrived yet.
    resync_requested: bool,
    last_heard: Instant,
    /// Counted by an upgrade until it parks: once asked to (`park`), it reads no more
    /// requests, and says so when nothing it waits on needs a session any more.
    presence: Presence,
    /// It waits for a detach to be queued (and so cannot park yet).
    detaching: bool,
    /// The item being written, until the writer took it (see `carry.rs`).
    in_hand: Option<Outbound>,
}

impl Connection {
    fn new(
        shared: Arc<Shared>,
        membership: Membership,
        meta: ClientMeta,
        writer: Writer,
        presence: Presence,
    ) -> Self {
        Connection {
            lag: shared.registry.lag_flag(membership.id()),
            shared,
            membership,
            meta,
            writer,
            resync_requested: false,
            last_heard: Instant::now(),
            presence,
            detaching: false,
            in_hand: None,
        }
    }

    fn welcome(&self) -> ServerMessage {
        ServerMessage::Welcome {
            protocol_version: self.meta.version,
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            client_id: self.membership.id().get(),
        }
    }

    /// Writes `first` (and whatever is already in the write buffer), then serves; an
    /// upgrade's handoff ends it by giving the connection to the next server.
    async fn start(
        mut self,
        reader: Reader,
        rx: mpsc::Receiver<Outbound>,
        waiting: Option<Pending>,
        first: Option<ServerMessage>,
    ) {
        let written = match first {
            Some(msg) => self.write(msg.into()).await,
            None => self.flush_bounded().await,
        };
        if written.is_err() {
            return;
        }
        if let Some((reader, rx, waiting)) = self.run(reader, rx, waiting).await {
            if self.meta.browser.is_some() {
                return; // its gateway ends with this server; the browser reconnects
            }
            let shared = self.shared.clone();
            if let Some(carried) = self.carry(reader, rx, waiting) {
                shared.handoff.carried(carried);
            }
            return;
        }
        // What the client held goes with it (an upgrade carries it instead, above).
        let id = self.membership.id();
        if let Some(session) = &self.membership.session
            && self.shared.registry.get_attached_session(id) == Some(session.id)
        {
            let detached = EventKind::Detached { client: id.get() };
            self.shared.sessions.publish(session, detached);
        }
        self.shared.sessions.release_claims(id);
        self.shared.sessions.events.unsubscribe(id);
    }

    /// Serves until the connection closes (`None`), or until an upgrade's handoff, when it
    /// gives back what [`Connection::carry`] needs.
    async fn run(
        &mut self,
        mut reader: Reader,
        mut rx: mpsc::Receiver<Outbound>,
        mut waiting: Option<Pending>,
    ) -> Option<(Reader, mpsc::Receiver<Outbound>, Option<Pending>)> {
        let shared = self.shared.clone();
        let handoff = shared.handoff.clone();
        let period = shared.config.ping_interval;
        let mut ping = interval_at(Instant::now() + period, period);
        let mut nonce = 0u64;
        loop {
            // Once an upgrade parks connections, shutdown waits for the next server (it
            // is carried over), no request is read, and input waiting for room goes along.
            let parking = handoff.park.is_cancelled();
            let reading = waiting.is_none() && !parking;
            let holding = parking && waiting.as_ref().is_some_and(Pending::held_while_parked);
            self.park_if_asked(waiting.as_ref());
            let flow = tokio::select! {
                biased;
                () = shared.shutdown.cancelled(), if !parking => {
                    self.farewell(&mut rx).await;
                    Err(())
                }
                () = handoff.drain.cancelled(), if self.presence.is_parked() => {
                    return Some((reader, rx, waiting));
                }
                () = handoff.park.cancelled(), if !parking => Ok(()),
                item = rx.recv() => self.deliver(item, &mut rx).await,
                reply = handlers::finished(&mut waiting), if !holding => {
                    waiting = None;
                    match reply {
                        Some(reply) => self.write(reply.into()).await,
                        None => Ok(()),
                    }
                }
                frame = reader.next(), if reading => self.on_frame(frame, &mut waiting).await,
                _ = ping.tick() => {
                    // While it waits on us (a claim held by another run, room for input),
                    // no request of its is read: its silence is ours, not an idle client's.
                    if waiting.is_some() {
                        self.last_heard = Instant::now();
                    }
                    self.ping(&mut nonce).await
                }
            };
            if flow.is_err() {
                break;
            }
            self.maybe_request_resync(&rx);
            if self.report_lost_events(&rx).await.is_err() {
                break;
            }
        }
        tracing::debug!(client = %self.membership.id(), "connection closed");
        None
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
                    role: self.meta.role,
                    version: self.meta.version,
                    session: &mut self.membership.session,
                    agent: &mut self.meta.agent,
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
