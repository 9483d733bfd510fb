//! The browser viewer from a test: links minted through the socket, and WebSockets opened
//! to the viewer as a browser opens them (with its `Origin`), speaking
//! `docs/browser-protocol.md`.

use fugue_protocol::{ClientMessage, ServerMessage, WebGrant};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{EVENT_TIMEOUT, TestClient, TestServer};

/// A WebSocket to the viewer.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A minted link.
#[derive(Debug, Clone)]
pub struct Link {
    /// The whole URL, token in the fragment.
    pub url: String,
    /// The token.
    pub token: String,
    /// The listener's port.
    pub port: u16,
}

/// An operator's grant to every session for an hour.
pub fn grant() -> WebGrant {
    WebGrant {
        read_only: false,
        sessions: Vec::new(),
        expires_secs: 3600,
        bind: None,
        tls: None,
    }
}

/// Mints a link for `grant` through `client`.
pub async fn link(client: &mut TestClient, grant: WebGrant) -> Link {
    let reply = client
        .request(|request_id| ClientMessage::ServeWeb { request_id, grant })
        .await;
    let ServerMessage::WebLink { url, token, .. } = reply else {
        panic!("expected WebLink, got {reply:?}");
    };
    let port = url
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("a loopback link with a port");
    Link { url, token, port }
}

/// A fresh server, a control client, and an operator's link to every session.
pub async fn served() -> (TestServer, TestClient, Link) {
    let server = TestServer::start().await;
    let mut control = server.client(fugue_protocol::Role::Control).await;
    let link = link(&mut control, grant()).await;
    (server, control, link)
}

/// Opens `/ws` with the `Origin` and `Host` given (a browser's own when `None`).
///
/// # Errors
///
/// The handshake's error: `Http(403)` for a refused `Origin` or `Host`.
pub async fn open_with(
    port: u16,
    origin: Option<&str>,
    host: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    let mut request = format!("ws://127.0.0.1:{port}/ws").into_client_request()?;
    let own = format!("http://127.0.0.1:{port}");
    let origin = origin.unwrap_or(&own);
    let headers = request.headers_mut();
    headers.insert("origin", HeaderValue::from_str(origin).expect("header"));
    if let Some(host) = host {
        headers.insert("host", HeaderValue::from_str(host).expect("header"));
    }
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(ws)
}

/// Opens `/ws` as a browser on the page would.
pub async fn open(port: u16) -> Ws {
    open_with(port, None, None).await.expect("websocket opens")
}

/// Sends a JSON message of `kind`.
pub async fn send(ws: &mut Ws, kind: &str, payload: Value) {
    let text = json!({ "type": kind, "payload": payload }).to_string();
    ws.send(Message::text(text)).await.expect("send");
}

/// Opens, authenticates with `token` (and `device`), and returns the `connected` payload.
pub async fn connect(port: u16, token: &str, device: Option<uuid::Uuid>) -> (Ws, Value) {
    let mut ws = open(port).await;
    send(&mut ws, "auth", json!({ "token": token, "device": device })).await;
    let reply = next_json(&mut ws).await;
    assert_eq!(reply["type"], "connected", "{reply}");
    (ws, reply["payload"].clone())
}

/// Sends `attach` for `session` at 80x24; returns the answer (`attached`, or an error).
pub async fn attach(ws: &mut Ws, session: &str) -> Value {
    send(
        ws,
        "attach",
        json!({"session": session, "cols": 80, "rows": 24}),
    )
    .await;
    next_json(ws).await
}

/// Opens, authenticates and attaches to `session`, which must succeed.
pub async fn attached(port: u16, token: &str, session: &str) -> Ws {
    let (mut ws, _) = connect(port, token, None).await;
    let reply = attach(&mut ws, session).await;
    assert_eq!(reply["type"], "attached", "{reply}");
    ws
}

/// One thing the server sent.
#[derive(Debug)]
pub enum Frame {
    /// A text message.
    Json(Value),
    /// Output: the sequence number after it, and the bytes.
    Output(u64, Vec<u8>),
    /// The close frame's code (`None` for a close without one, or the stream's end).
    Closed(Option<u16>),
}

/// The next frame, skipping pings and pongs; fails the test after [`EVENT_TIMEOUT`].
pub async fn next(ws: &mut Ws) -> Frame {
    loop {
        let msg = timeout(EVENT_TIMEOUT, ws.next())
            .await
            .expect("a frame within the event timeout");
        return match msg {
            Some(Ok(Message::Text(text))) => {
                Frame::Json(serde_json::from_str(&text).expect("json"))
            }
            Some(Ok(Message::Binary(data))) => {
                assert!(data.len() >= 8, "output frames lead with a sequence number");
                let seq = u64::from_be_bytes(data[..8].try_into().expect("8 bytes"));
                Frame::Output(seq, data[8..].to_vec())
            }
            Some(Ok(Message::Close(frame))) => Frame::Closed(frame.map(|f| f.code.into())),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => Frame::Closed(None),
        };
    }
}

/// The next text message, skipping output.
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match next(ws).await {
            Frame::Json(value) => return value,
            Frame::Output(..) => {}
            Frame::Closed(code) => panic!("closed ({code:?}) while waiting for a message"),
        }
    }
}

/// Reads until the close frame; returns its code, after asserting that the last text
/// message before it (if `error` is given) was an `error` with that code.
pub async fn closed(ws: &mut Ws, error: Option<&str>) -> Option<u16> {
    let mut last = None;
    loop {
        match next(ws).await {
            Frame::Json(value) => last = Some(value),
            Frame::Output(..) => {}
            Frame::Closed(code) => {
                if let Some(error) = error {
                    let last = last.expect("an error before the close");
                    assert_eq!(last["type"], "error", "{last}");
                    assert_eq!(last["payload"]["code"], error, "{last}");
                }
                return code;
            }
        }
    }
}

/// Output gathered by [`output_until`].
#[derive(Debug, Default)]
pub struct Output {
    /// The bytes since the last fresh screen (attach or resync), snapshot included.
    pub bytes: Vec<u8>,
    /// The last sequence number.
    pub seq: u64,
    /// Resyncs seen.
    pub resyncs: usize,
    /// Text messages other than `attached` and `resync`.
    pub messages: Vec<Value>,
}

/// Gathers output, acknowledging it, until `done` holds for the bytes since the last
/// fresh screen.
pub async fn output_until(ws: &mut Ws, done: impl Fn(&[u8]) -> bool) -> Output {
    let mut out = Output::default();
    while !done(&out.bytes) {
        match next(ws).await {
            Frame::Output(seq, data) => {
                assert!(seq >= out.seq, "sequence numbers never go back");
                out.seq = seq;
                out.bytes.extend_from_slice(&data);
                send(ws, "ack", json!({ "seq": seq })).await;
            }
            Frame::Json(value) if value["type"] == "resync" => {
                out.resyncs += 1;
                out.bytes.clear();
            }
            Frame::Json(value) if value["type"] == "attached" => {}
            Frame::Json(value) => out.messages.push(value),
            Frame::Closed(code) => panic!("closed ({code:?}) while waiting for output"),
        }
    }
    out
}
