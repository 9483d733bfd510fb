//! The writer task: the only place that writes to the socket. It sends queued requests,
//! answers the server's pings, and pings the server when it has had nothing to say for a
//! while, so that the server's idle timeout never drops a quiet but live client.

use std::sync::Arc;
use std::time::Duration;

use fugue_protocol::{ClientCodec, ClientMessage};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use crate::link::Link;
use crate::reader::Heard;

/// The writing half of a connection.
pub(crate) type FrameSink = SplitSink<Framed<Link, ClientCodec>, ClientMessage>;

/// What the writer watches on a link that can stall (ssh): when the reader last heard from
/// the server, and when the reader has given up.
#[derive(Debug, Clone)]
pub(crate) struct Watch {
    /// When the reader last heard from the server.
    pub(crate) heard: Arc<Heard>,
    /// Cancelled when the reader ends: a write blocked on a stalled link is abandoned.
    pub(crate) reader_done: CancellationToken,
}

/// Writes until the socket fails, the reader stops (the pong queue closes), or every
/// `Client` handle is gone (the request queue closes); in the last case it shuts down the
/// socket's write side, so the server sees the client leave.
///
/// With a `watch` it also pings whenever the server has been silent for `keepalive`
/// (sending does not count: typing at a prompt that echoes nothing is no sign of life),
/// and it stops as soon as the reader does, even in the middle of a blocked write, so the
/// link (and an ssh child) is dropped.
pub(crate) async fn run(
    mut sink: FrameSink,
    mut request_rx: mpsc::Receiver<ClientMessage>,
    mut pong_rx: mpsc::Receiver<u64>,
    keepalive: Duration,
    watch: Option<Watch>,
) {
    let mut next_nonce: u64 = 1;
    let mut listen = tokio::time::interval(keepalive);
    let reader_done = watch.as_ref().map(|watch| watch.reader_done.clone());
    loop {
        // A fresh timer each round: it fires only after `keepalive` without any frame sent.
        let msg = tokio::select! {
            biased;
            nonce = pong_rx.recv() => match nonce {
                Some(nonce) => ClientMessage::Pong { nonce },
                None => return,
            },
            msg = request_rx.recv() => match msg {
                Some(msg) => msg,
                None => {
                    let _ = sink.close().await;
                    return;
                }
            },
            () = tokio::time::sleep(keepalive) => ping(&mut next_nonce),
            _ = listen.tick(), if watch.is_some() => {
                match &watch {
                    Some(watch) if watch.heard.silence() >= keepalive => ping(&mut next_nonce),
                    _ => continue,
                }
            }
        };
        let sent = match &reader_done {
            Some(done) => tokio::select! {
                sent = sink.send(msg) => sent,
                () = done.cancelled() => return,
            },
            None => sink.send(msg).await,
        };
        if sent.is_err() {
            // The reader sees the same failure and reports it as `Event::Closed`.
            return;
        }
    }
}

/// The next keepalive ping.
fn ping(next_nonce: &mut u64) -> ClientMessage {
    *next_nonce = next_nonce.wrapping_add(1);
    ClientMessage::Ping { nonce: *next_nonce }
}
