//! The viewer's HTTP side: routes (the page's files, `/ws`), the guard every request
//! passes (its `Host`, and a WebSocket's `Origin`, must be the listener's own address or
//! on the configured allowlist, else 403 before anything is served or upgraded), the
//! security headers, and the serving task (plain TCP with `TCP_NODELAY`, or TLS).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::assets;
use super::socket::{self, MAX_MESSAGE};
use super::tls::TlsListener;
use crate::state::Shared;

/// What every response carries: the page loads only its own files and may not be framed.
const CSP: &str = "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; \
                   form-action 'none'";

/// The hosts (`host:port`) a request may name, and the origins a WebSocket may come from.
struct Guard {
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl Guard {
    fn new(addr: SocketAddr, tls: bool, allowed: &[String]) -> Self {
        let port = addr.port();
        let mut hosts = vec![super::public_name(addr)];
        if addr.ip().is_loopback() {
            hosts.push(format!("localhost:{port}"));
        }
        hosts.extend(allowed.iter().cloned());
        let scheme = if tls { "https" } else { "http" };
        let mut origins: Vec<String> = hosts.iter().map(|h| format!("{scheme}://{h}")).collect();
        // Behind a TLS-terminating proxy the page's origin is https while we serve http.
        origins.extend(allowed.iter().map(|h| format!("https://{h}")));
        Guard { hosts, origins }
    }

    fn allows(&self, headers: &HeaderMap, upgrade: bool) -> bool {
        let named = |name, list: &[String]| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| list.iter().any(|ok| ok.eq_ignore_ascii_case(value)))
        };
        named(header::HOST, &self.hosts) && (!upgrade || named(header::ORIGIN, &self.origins))
    }
}

/// Serves the viewer on `listener` until the server shuts down.
pub(super) fn spawn(
    shared: Arc<Shared>,
    listener: TcpListener,
    addr: SocketAddr,
    tls: Option<TlsAcceptor>,
) {
    let guard = Arc::new(Guard::new(
        addr,
        tls.is_some(),
        &shared.config.web.allowed_hosts,
    ));
    // It stops accepting when the server shuts down, or when an upgrade begins (the next
    // server serves this same socket; connections wait in its backlog meanwhile).
    let (shutdown, park) = (shared.shutdown.clone(), shared.handoff.park.clone());
    let app = Router::new()
        .route("/", get(assets::index))
        .route("/{file}", get(assets::file))
        .route("/ws", get(upgrade))
        .layer(middleware::from_fn_with_state(guard, check))
        .with_state(shared)
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        let served = match tls {
            None => {
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped(shutdown, park))
                    .await
            }
            Some(acceptor) => {
                let listener = TlsListener::new(listener, addr, acceptor).tap_io(|_| {});
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped(shutdown, park))
                    .await
            }
        };
        if let Err(err) = served {
            tracing::error!(%err, "the browser viewer's listener failed");
        }
    });
}

async fn stopped(shutdown: CancellationToken, park: CancellationToken) {
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = park.cancelled() => {}
    }
}

/// The guard, then the security headers on whatever is answered.
async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let upgrade = request.uri().path() == "/ws";
    if !guard.allows(request.headers(), upgrade) {
        tracing::warn!(
            path = request.uri().path(),
            "viewer request refused: bad Host or Origin"
        );
        return (StatusCode::FORBIDDEN, "forbidden: unknown Host or Origin\n").into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn upgrade(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| socket::serve(shared, socket, remote))
}
