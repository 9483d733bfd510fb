//! The writer task: the only place that writes to the socket. It sends queued requests,
//! answers the server's pings, and pings the server when it has had nothing to say for a
//! while, so that the server's idle timeout never drops a quiet but live client.

use std::time::Duration;

use fugue_protocol::{ClientCodec, ClientMessage};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

use crate::link::Link;

/// The writing half of a connection.
pub(crate) type FrameSink = SplitSink<Framed<Link, ClientCodec>, ClientMessage>;

/// Writes until the socket fails, the reader stops (the pong queue closes), or every
/// `Client` handle is gone (the request queue closes); in the last case it shuts down the
/// socket's write side, so the server sees the client leave.
pub(crate) async fn run(
    mut sink: FrameSink,
    mut request_rx: mpsc::Receiver<ClientMessage>,
    mut pong_rx: mpsc::Receiver<u64>,
    keepalive: Duration,
) {
    let mut next_nonce: u64 = 1;
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
            () = tokio::time::sleep(keepalive) => {
                next_nonce = next_nonce.wrapping_add(1);
                ClientMessage::Ping { nonce: next_nonce }
            }
        };
        if sink.send(msg).await.is_err() {
            // The reader sees the same failure and reports it as `Event::Closed`.
            return;
        }
    }
}
