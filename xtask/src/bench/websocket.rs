//! The web scenario's WebSocket client: one client, written once, that speaks fugue's
//! browser protocol (`docs/browser-protocol.md`) and terminado's, so that both servers
//! are read by the same code and only their own framing differs.
//!
//! fugue: text frames are JSON objects `{"type", "payload"}`; output comes in binary
//! frames (an 8-byte big-endian sequence number, the position after the bytes, then the
//! bytes); input goes in binary frames; the client acknowledges (`ack`) what it has
//! processed, and the server sends no more than 1 MiB unacknowledged. terminado: every
//! message is a JSON array in a text frame, `["stdout", TEXT]` one way and
//! `["stdin", TEXT]` the other; it has no flow control.
//!
//! Both check the `Origin` header, so the client sends the server's own address, as the
//! page a browser loaded from that server would. Pings are answered by tungstenite while
//! reading.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::ORIGIN;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

/// Acknowledge once this much output has been processed since the last `ack`: a small
/// part of fugue's 1 MiB window, so the window never closes on a client that keeps up.
const ACK_EVERY: usize = 64 * 1024;
/// The terminal size the client asks for, as every terminal of the bench has.
const COLS: u16 = 120;
/// See [`COLS`].
const ROWS: u16 = 40;
/// How long the TCP connection and the WebSocket handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which server's protocol a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// fugue's browser viewer, at `/ws`.
    Fugue,
    /// terminado's `TermSocket`, at `/websocket` in the bench's `terminado_server.py`.
    Terminado,
}

impl Dialect {
    /// The WebSocket's path on the server.
    pub fn path(self) -> &'static str {
        match self {
            Dialect::Fugue => "/ws",
            Dialect::Terminado => "/websocket",
        }
    }
}

/// A connected client.
#[derive(Debug)]
pub struct WebClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    dialect: Dialect,
    /// fugue: the sequence number of the last output returned.
    seq: u64,
    /// fugue: output bytes returned since the last `ack`.
    unacked: usize,
    /// fugue: `resync` messages received.
    resyncs: u64,
}

impl WebClient {
    /// Connects to `ws://ADDRESS/PATH` with `Origin: http://ADDRESS` and `TCP_NODELAY`
    /// (`address` is `host:port`).
    ///
    /// # Errors
    ///
    /// When the connection or the handshake fails (a refused Origin is an HTTP 403).
    pub async fn connect(dialect: Dialect, address: &str) -> anyhow::Result<WebClient> {
        let url = format!("ws://{address}{}", dialect.path());
        let mut request = url
            .as_str()
            .into_client_request()
            .with_context(|| format!("a WebSocket request for {url}"))?;
        let origin = HeaderValue::from_str(&format!("http://{address}"))
            .with_context(|| format!("an Origin header for {address}"))?;
        request.headers_mut().insert(ORIGIN, origin);
        let connecting = connect_async_with_config(request, None, true);
        let (stream, _response) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .with_context(|| format!("connecting to {url}: timed out"))?
            .with_context(|| format!("connecting to {url}"))?;
        Ok(WebClient {
            stream,
            dialect,
            seq: 0,
            unacked: 0,
            resyncs: 0,
        })
    }

    /// fugue: `auth` with `token`, then `attach` to `session` at 120x40.
    ///
    /// # Errors
    ///
    /// When the server refuses either, or does not answer by `deadline`.
    pub async fn fugue_attach(
        &mut self,
        token: &str,
        session: &str,
        deadline: Instant,
    ) -> anyhow::Result<()> {
        let auth = json!({ "type": "auth", "payload": { "token": token } });
        self.send_text(auth.to_string()).await?;
        self.expect_fugue("connected", deadline).await?;
        let payload = json!({ "session": session, "cols": COLS, "rows": ROWS });
        let attach = json!({ "type": "attach", "payload": payload });
        self.send_text(attach.to_string()).await?;
        self.expect_fugue("attached", deadline).await
    }

    /// terminado: waits for `["setup", {}]`, then sets the terminal to 120x40.
    ///
    /// # Errors
    ///
    /// When the server closes, or says nothing by `deadline`.
    pub async fn terminado_setup(&mut self, deadline: Instant) -> anyhow::Result<()> {
        loop {
            let text = self.next_text(deadline, "terminado's setup").await?;
            let message: Value = serde_json::from_str(&text)
                .with_context(|| format!("terminado sent a text frame that is not JSON: {text}"))?;
            if message.get(0).and_then(Value::as_str) == Some("setup") {
                break;
            }
        }
        let size = json!(["set_size", ROWS, COLS]);
        self.send_text(size.to_string()).await
    }

    /// Types `bytes` into the session: a binary frame (fugue) or `["stdin", TEXT]`
    /// (terminado, which takes text only).
    ///
    /// # Errors
    ///
    /// When the connection fails, or terminado is given bytes that are not UTF-8.
    pub async fn type_bytes(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let message = match self.dialect {
            Dialect::Fugue => Message::binary(bytes.to_vec()),
            Dialect::Terminado => {
                let text = std::str::from_utf8(bytes).context("terminado takes text input")?;
                Message::text(json!(["stdin", text]).to_string())
            }
        };
        self.stream
            .send(message)
            .await
            .context("writing to the WebSocket")
    }

    /// The next output of the session, or `None` when none arrived by `deadline`. Other
    /// messages are taken care of on the way; an `ack` that is due goes out first.
    ///
    /// # Errors
    ///
    /// When the connection fails or closes, the session ends, or the server says so.
    pub async fn output(&mut self, deadline: Instant) -> anyhow::Result<Option<Bytes>> {
        if self.dialect == Dialect::Fugue && self.unacked >= ACK_EVERY {
            let ack = json!({ "type": "ack", "payload": { "seq": self.seq } });
            self.send_text(ack.to_string()).await?;
            self.unacked = 0;
        }
        loop {
            let Some(message) = self.next_message(deadline).await? else {
                return Ok(None);
            };
            let output = match (self.dialect, message) {
                (Dialect::Fugue, Message::Binary(frame)) => self.fugue_output(frame)?,
                (Dialect::Fugue, Message::Text(text)) => self.fugue_event(text.as_str())?,
                (Dialect::Terminado, Message::Text(text)) => terminado_output(text.as_str())?,
                (_, Message::Close(frame)) => bail!("the server closed the WebSocket: {frame:?}"),
                // Pings (answered while reading), pongs, stray binary frames.
                _ => None,
            };
            if output.is_some() {
                return Ok(output);
            }
        }
    }

    /// fugue: how many `resync` messages arrived.
    pub fn resyncs(&self) -> u64 {
        self.resyncs
    }

    /// Sends a close frame; the server's answer is not waited for.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }

    async fn send_text(&mut self, text: String) -> anyhow::Result<()> {
        self.stream
            .send(Message::text(text))
            .await
            .context("writing to the WebSocket")
    }

    /// The next message, or `None` at `deadline`.
    async fn next_message(&mut self, deadline: Instant) -> anyhow::Result<Option<Message>> {
        let until = tokio::time::Instant::from_std(deadline);
        match tokio::time::timeout_at(until, self.stream.next()).await {
            Err(_elapsed) => Ok(None),
            Ok(None) => bail!("the server closed the connection"),
            Ok(Some(message)) => message.map(Some).context("reading from the WebSocket"),
        }
    }

    /// The next text frame, skipping anything else; `waiting` says what for, in errors.
    async fn next_text(&mut self, deadline: Instant, waiting: &str) -> anyhow::Result<String> {
        loop {
            match self.next_message(deadline).await? {
                None => bail!("no answer in time, waiting for {waiting}"),
                Some(Message::Text(text)) => return Ok(text.as_str().to_owned()),
                Some(Message::Close(frame)) => {
                    bail!("the server closed the WebSocket, waiting for {waiting}: {frame:?}")
                }
                Some(_) => {}
            }
        }
    }

    /// fugue: waits for a message of type `wanted`; an `error` ends the wait.
    async fn expect_fugue(&mut self, wanted: &str, deadline: Instant) -> anyhow::Result<()> {
        loop {
            let text = self.next_text(deadline, &format!("`{wanted}`")).await?;
            let message: Value = serde_json::from_str(&text)
                .with_context(|| format!("fugue sent a text frame that is not JSON: {text}"))?;
            match message.get("type").and_then(Value::as_str) {
                Some(kind) if kind == wanted => return Ok(()),
                Some("error") => bail!("fugue refused, waiting for `{wanted}`: {text}"),
                _ => {}
            }
        }
    }

    /// fugue: an output frame's bytes, after its sequence number.
    fn fugue_output(&mut self, frame: Bytes) -> anyhow::Result<Option<Bytes>> {
        ensure!(
            frame.len() >= 8,
            "an output frame of {} bytes, too short for its sequence number",
            frame.len()
        );
        let seq: [u8; 8] = frame[..8]
            .try_into()
            .context("an output frame's sequence number")?;
        self.seq = u64::from_be_bytes(seq);
        self.unacked += frame.len() - 8;
        Ok(Some(frame.slice(8..)))
    }

    /// fugue: a text frame during output; `resync` is counted, an end is an error.
    fn fugue_event(&mut self, text: &str) -> anyhow::Result<Option<Bytes>> {
        let message: Value = serde_json::from_str(text)
            .with_context(|| format!("fugue sent a text frame that is not JSON: {text}"))?;
        match message.get("type").and_then(Value::as_str) {
            Some("resync") => self.resyncs += 1,
            Some("detached" | "exited" | "error") => bail!("fugue said {text}"),
            _ => {}
        }
        Ok(None)
    }
}

/// terminado: a `stdout` message's text as bytes; `None` for other messages.
fn terminado_output(text: &str) -> anyhow::Result<Option<Bytes>> {
    let items: Vec<Value> = serde_json::from_str(text)
        .with_context(|| format!("terminado sent a text frame that is not a JSON array: {text}"))?;
    let mut items = items.into_iter();
    let kind = items.next();
    match (kind.as_ref().and_then(Value::as_str), items.next()) {
        (Some("stdout"), Some(Value::String(output))) => Ok(Some(Bytes::from(output))),
        (Some("disconnect"), _) => bail!("terminado: the terminal's program ended"),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminado_output_is_the_text_of_stdout_messages() {
        let output = terminado_output(r#"["stdout", "a\u001b[0m\r\n"]"#).unwrap();
        assert_eq!(output.as_deref(), Some(&b"a\x1b[0m\r\n"[..]));
        assert_eq!(terminado_output(r#"["setup", {}]"#).unwrap(), None);
        assert!(terminado_output(r#"["disconnect", 1]"#).is_err());
        assert!(terminado_output("{}").is_err());
    }
}
