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
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::assets;
use super::limit::Capped;
use super::socket::{self, MAX_MESSAGE};
use super::tls::TlsListener;
use crate::state::Shared;

/// What every response carries: the page loads only its own files and may not be framed.
const CSP: &str = "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; \
                   form-action 'none'";

/// Connections beyond the browser limit: page and file requests, refused browsers.
const EXTRA_CONNECTIONS: usize = 64;

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
        let value = |name| headers.get(name).and_then(|value| value.to_str().ok());
        let host = value(header::HOST)
            .is_some_and(|host| self.hosts.iter().any(|ok| same_authority(ok, host)));
        let origin = || {
            value(header::ORIGIN).is_some_and(|origin| {
                self.origins.iter().any(|ok| {
                    let (ok_scheme, ok_authority) = ok.split_once("://").unwrap_or_default();
                    origin.split_once("://").is_some_and(|(scheme, authority)| {
                        scheme.eq_ignore_ascii_case(ok_scheme)
                            && same_authority(ok_authority, authority)
                    })
                })
            })
        };
        host && (!upgrade || origin())
    }
}

/// Whether `seen` (from a header) names the allowed `host[:port]`: hosts equal, ignoring
/// case, and ports equal; an allowed name without a port allows any, and a header
/// without one means a default port (80 or 443), as a browser or a proxy leaves it out.
fn same_authority(allowed: &str, seen: &str) -> bool {
    let (allowed_host, allowed_port) = split_port(allowed);
    let (seen_host, seen_port) = split_port(seen);
    allowed_host.eq_ignore_ascii_case(seen_host)
        && match (allowed_port, seen_port) {
            (None, _) => true,
            (Some(allowed), Some(seen)) => allowed == seen,
            (Some(allowed), None) => allowed == "80" || allowed == "443",
        }
}

/// `host:port` into its host and port (`[::1]:80` keeps its brackets).
fn split_port(authority: &str) -> (&str, Option<&str>) {
    match authority.rsplit_once(':') {
        Some((host, port))
            if !port.contains(']') && (!host.contains(':') || host.ends_with(']')) =>
        {
            (host, Some(port))
        }
        _ => (authority, None),
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
    let max_connections = shared
        .config
        .web
        .max_clients
        .saturating_add(EXTRA_CONNECTIONS);
    let idle = shared.config.idle_timeout;
    let app = Router::new()
        .route("/", get(assets::index))
        .route("/{file}", get(assets::file))
        .route("/ws", get(upgrade))
        .layer(middleware::from_fn_with_state(guard, check))
        .with_state(shared)
        .into_make_service_with_connect_info::<SocketAddr>();
    // Room for every browser, and for pages and files on their way.
    let permits = Arc::new(Semaphore::new(max_connections));
    tokio::spawn(async move {
        let served = match tls {
            None => {
                let listener = Capped::new(listener, permits, idle).tap_io(|tcp| {
                    let _ = tcp.get_ref().set_nodelay(true);
                });
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped(shutdown, park))
                    .await
            }
            Some(acceptor) => {
                let stop = stopped(shutdown.clone(), park.clone());
                let listener = TlsListener::new(listener, addr, acceptor, (permits, idle), stop);
                // `tap_io` only for axum's connect info, which it provides for a `TapIo`.
                let listener = listener.tap_io(|_| {});
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_match_by_host_and_port_with_default_ports_left_out() {
        assert!(same_authority("127.0.0.1:8022", "127.0.0.1:8022"));
        assert!(!same_authority("127.0.0.1:8022", "127.0.0.1:8023"));
        assert!(!same_authority("127.0.0.1:8022", "evil.example:8022"));
        assert!(same_authority("Term.Example.com", "term.example.com:8443"));
        assert!(same_authority("term.example.com:443", "term.example.com"));
        assert!(!same_authority("term.example.com:8443", "term.example.com"));
        assert!(same_authority("[::1]:80", "[::1]"));
        assert!(!same_authority("[::1]:8022", "[::2]:8022"));
        assert!(!same_authority("127.0.0.1:8022", "127.0.0.1:8022.evil"));
    }

    #[test]
    fn the_guard_wants_its_own_host_and_an_origin_of_its_own_for_an_upgrade() {
        let guard = Guard::new(SocketAddr::from(([127, 0, 0, 1], 8022)), false, &[]);
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("localhost:8022"));
        assert!(guard.allows(&headers, false));
        assert!(!guard.allows(&headers, true), "no Origin: refused");
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://localhost:8022"),
        );
        assert!(!guard.allows(&headers, true), "another scheme");
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8022"),
        );
        assert!(guard.allows(&headers, true));
    }
}
