//! One browser: the `auth` that must come first (`auth.rs`), then a loop over its
//! WebSocket, its [`Bridge`] to the server, the heartbeat, the size check, revocation,
//! the link's expiry, an upgrade and shutdown. Here the browser's messages become requests; `relay.rs` turns the server's
//! answers and output into the viewer's frames.
//!
//! Pacing: output sent and not yet acknowledged (`ack`) is counted; past [`WINDOW`] the
//! loop stops reading the bridge, so the server sees this browser as a client that does
//! not read (its queue fills, it is marked lagging and later resynced) and the session is
//! never held for it beyond what holds it for a terminal client.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use axum::extract::ws::{Message, WebSocket};
use bytes::Bytes;
use fugue_protocol::{ClientMessage, Role, TermSize};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::time::{Instant, interval, interval_at, timeout};
use tokio_util::sync::CancellationToken;

use super::auth::{Live, authenticate, browser_identity, scope_names};
use super::bridge::Bridge;
use super::tokens::Grant;
use super::wire::{self, FromBrowser, close};
use crate::clients::Browser;
use crate::session::SessionHandle;
use crate::state::Shared;

/// Largest message taken from a browser (a paste is split by the page if larger).
pub(crate) const MAX_MESSAGE: usize = 64 * 1024;
/// Output a browser may have unacknowledged before it is sent no more.
const WINDOW: usize = 1 << 20;
/// How often the attached session's size is compared with what the browser was told
/// (another client's resize, or the size policy overruling this browser's).
const SIZE_CHECK: Duration = Duration::from_millis(250);

/// The WebSocket's sending half.
pub(super) type Sink = SplitSink<WebSocket, Message>;
/// The WebSocket's receiving half.
pub(super) type Source = SplitStream<WebSocket>;

/// Whether the connection goes on.
pub(super) type Flow = Result<(), ()>;

/// Resolves at `at`, or never.
async fn expired(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Serves one upgraded WebSocket from `remote` to its end.
pub(super) async fn serve(shared: Arc<Shared>, ws: WebSocket, remote: SocketAddr) {
    let (mut sink, mut source) = ws.split();
    let revoked = shared.web.revocation();
    let Some((grant, device)) = authenticate(&shared, &mut sink, &mut source, remote).await else {
        return;
    };
    // Counted once authenticated (connections before that are bounded by the listener).
    let live = shared.web.live.fetch_add(1, Ordering::AcqRel) + 1;
    let _live = Live(shared.clone());
    if live > shared.config.web.max_clients {
        let text = "too many browser clients";
        let _ = sink.send(wire::error("server_busy", text)).await;
        let _ = sink.send(wire::closing(close::BUSY, text)).await;
        return;
    }
    let browser = Browser {
        remote,
        operator: grant.operator,
        scopes: scope_names(&shared, &grant),
    };
    let role = if grant.operator {
        Role::Interactive
    } else {
        Role::ReadOnly
    };
    let identity = device.map(browser_identity);
    let Some((bridge, client_id)) = Bridge::open(&shared, browser, identity, role).await else {
        let _ = sink
            .send(wire::closing(
                close::SERVER_ERROR,
                "cannot open a connection",
            ))
            .await;
        return;
    };
    let mut page = Page::new(shared, sink, bridge, grant);
    if page.connected(client_id).await.is_ok() {
        page.run(source, revoked).await;
    }
}

/// An authenticated browser.
pub(super) struct Page {
    pub(super) shared: Arc<Shared>,
    sink: Sink,
    pub(super) bridge: Bridge,
    pub(super) grant: Grant,
    /// Output sent and not acknowledged: (sequence number, bytes), oldest first.
    pub(super) unacked: VecDeque<(u64, usize)>,
    pub(super) unacked_bytes: usize,
    last_heard: Instant,
    /// The session it is attached to, and the size it was last told that session has.
    pub(super) session: Option<(SessionHandle, TermSize)>,
}

impl Page {
    fn new(shared: Arc<Shared>, sink: Sink, bridge: Bridge, grant: Grant) -> Self {
        Page {
            shared,
            sink,
            bridge,
            grant,
            unacked: VecDeque::new(),
            unacked_bytes: 0,
            last_heard: Instant::now(),
            session: None,
        }
    }

    async fn connected(&mut self, client_id: u64) -> Flow {
        let config = &self.shared.config;
        let payload = json!({
            "role": if self.grant.operator { "operator" } else { "viewer" },
            "client_id": client_id,
            "server_version": env!("CARGO_PKG_VERSION"),
            "ping_interval_ms": config.ping_interval.as_millis(),
            "idle_timeout_ms": config.idle_timeout.as_millis(),
            "sessions": self.sessions(),
        });
        self.out(wire::message("connected", payload)).await
    }

    /// The sessions the grant lets it see, as the page lists them.
    fn sessions(&self) -> Vec<serde_json::Value> {
        let sessions = &self.shared.sessions;
        sessions
            .all()
            .iter()
            .filter(|handle| self.grant.allows(handle.id))
            .map(|handle| wire::session(&sessions.info(handle)))
            .collect()
    }

    async fn run(&mut self, mut source: Source, revoked: CancellationToken) {
        let shared = self.shared.clone();
        let period = shared.config.ping_interval;
        let mut ping = interval_at(Instant::now() + period, period);
        let mut sizes = interval(SIZE_CHECK);
        // The link stops working while open, too.
        let left = self
            .grant
            .expires
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let expires = Instant::now().checked_add(left);
        loop {
            let reading = self.bridge.has_room();
            let sending = self.unacked_bytes < WINDOW;
            let flow = tokio::select! {
                biased;
                () = shared.shutdown.cancelled() => self.close(close::GOING_AWAY, "server shutting down").await,
                () = revoked.cancelled() => self.close(close::UNAUTHORIZED, "revoked").await,
                () = expired(expires) => self.close(close::UNAUTHORIZED, "expired").await,
                // An upgrade: the browser reconnects (and resumes) once it is done.
                () = shared.handoff.park.cancelled() => self.close(close::GOING_AWAY, "server upgrading").await,
                frame = source.next(), if reading => self.on_frame(frame).await,
                msg = self.bridge.next(), if sending => self.on_server(msg).await,
                _ = ping.tick() => self.heartbeat().await,
                _ = sizes.tick() => self.tell_size().await,
            };
            if flow.is_err() {
                return;
            }
        }
    }

    /// Sends `msg`, giving up on a browser that cannot take it within the idle timeout.
    pub(super) async fn out(&mut self, msg: Message) -> Flow {
        match timeout(self.shared.config.idle_timeout, self.sink.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    pub(super) async fn close(&mut self, code: u16, reason: &str) -> Flow {
        let _ = self.out(wire::closing(code, reason)).await;
        Err(())
    }

    async fn heartbeat(&mut self) -> Flow {
        if self.last_heard.elapsed() >= self.shared.config.idle_timeout {
            let _ = self
                .out(wire::error(
                    "idle_timeout",
                    "nothing heard within the idle timeout",
                ))
                .await;
            return self.close(close::IDLE, "idle").await;
        }
        self.out(Message::Ping(Bytes::new())).await
    }

    /// Only the page's own messages count as heard: a socket that answers the server's
    /// pings but says nothing (the page pings every 15 s) is idle.
    async fn on_frame(&mut self, frame: Option<Result<Message, axum::Error>>) -> Flow {
        if let Some(Ok(Message::Text(_) | Message::Binary(_))) = &frame {
            self.last_heard = Instant::now();
        }
        match frame {
            None => Err(()),
            Some(Err(err)) => {
                tracing::debug!(%err, "browser connection failed");
                // A message over the cap gets its own code; other errors end the
                // connection as a protocol error.
                let inner = err.into_inner();
                let too_big = matches!(
                    inner.downcast_ref::<tungstenite::Error>(),
                    Some(tungstenite::Error::Capacity(_))
                );
                if too_big {
                    self.close(close::TOO_BIG, "message too big").await
                } else {
                    self.close(close::PROTOCOL_ERROR, "protocol error").await
                }
            }
            Some(Ok(Message::Text(text))) => match FromBrowser::parse(&text) {
                Ok(msg) => self.on_message(msg).await,
                Err(why) => self.out(wire::error("bad_message", &why)).await,
            },
            Some(Ok(Message::Binary(data))) => self.on_input(data).await,
            Some(Ok(Message::Close(_))) => Err(()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
        }
    }

    async fn on_input(&mut self, data: Bytes) -> Flow {
        if !self.grant.operator {
            return self
                .out(wire::error("read_only", "this link is read-only"))
                .await;
        }
        if data.is_empty() {
            return Ok(());
        }
        self.forward(ClientMessage::Input { data })
    }

    pub(super) fn forward(&mut self, msg: ClientMessage) -> Flow {
        if self.bridge.send(msg) {
            Ok(())
        } else {
            Err(())
        }
    }

    async fn on_message(&mut self, msg: FromBrowser) -> Flow {
        match msg {
            FromBrowser::Auth(_) => self.close(close::PROTOCOL, "auth twice").await,
            FromBrowser::Ping => self.out(wire::message("pong", json!({}))).await,
            FromBrowser::List => {
                let sessions = self.sessions();
                self.out(wire::message("sessions", json!({ "sessions": sessions })))
                    .await
            }
            FromBrowser::Attach(request) => self.attach(request).await,
            FromBrowser::Resize { cols, rows } => {
                if !self.grant.operator {
                    return self
                        .out(wire::error("read_only", "this link is read-only"))
                        .await;
                }
                let size = TermSize { rows, cols };
                if let Some((_, told)) = &mut self.session {
                    *told = size; // its terminal has this size now
                }
                self.forward(ClientMessage::Resize { size })
            }
            FromBrowser::Ack { seq } => {
                self.acked(seq);
                Ok(())
            }
            FromBrowser::Detach => {
                let ok = self
                    .bridge
                    .request(|request_id| ClientMessage::Detach { request_id });
                if ok { Ok(()) } else { Err(()) }
            }
            FromBrowser::Unknown(kind) => {
                let text = format!("unknown message type {kind:?}");
                self.out(wire::error("unknown_type", &text)).await
            }
        }
    }

    async fn attach(&mut self, request: wire::AttachRequest) -> Flow {
        let found = self.shared.sessions.find(&request.session).ok();
        let Some(handle) = found.filter(|handle| self.grant.allows(handle.id)) else {
            let text = format!("no session named {:?}", request.session);
            return self.out(wire::error("unknown_session", &text)).await;
        };
        let size = TermSize {
            rows: request.rows,
            cols: request.cols,
        };
        let session = handle.id.to_string();
        let resume_from = request.resume_from;
        let ok = self.bridge.request(|request_id| ClientMessage::Attach {
            request_id,
            session,
            size,
            resume_from,
        });
        if ok { Ok(()) } else { Err(()) }
    }
}
