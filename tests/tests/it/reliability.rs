//! Reliability and security (issue 9): faults, floods and hostile input, with nothing lost.
//!
//! - `client_faults`: a client killed or stopped during heavy output.
//! - `server_faults`: the server killed or told to stop, a program that ignores SIGHUP,
//!   file descriptors running out.
//! - `load`: a thousand clients at once, ten thousand connect/disconnect cycles.
//! - `hostile`: garbage, truncated and oversize frames and out-of-order requests beside a
//!   client that must lose nothing; a slowloris handshake.
//! - `security`: another uid, the socket's mode, session names, payloads kept out of logs.
//!
//! Covered elsewhere and not repeated here: the `fugue` client's message, terminal restore
//! and exit code when the server is killed (`cli::killed_server_ends_the_attach_with_a_
//! message_and_restores_the_terminal`); `kill` of a program that ignores SIGHUP
//! (`sessions::kill_ends_even_a_program_that_ignores_sighup`); unsafe socket directories
//! (`server_lifecycle::unsafe_socket_directories_are_refused`); names with `/`
//! (`sessions::rename_keeps_the_id_and_checks_names`).
//!
//! Tests that kill, stop, starve or measure the server run the real `fugue-server` binary
//! as a child process (`fugue_tests::process::ServerProcess`); the others use the
//! in-process `TestServer`.

mod client_faults;
mod hostile;
mod load;
mod security;
mod server_faults;

use bytes::Bytes;
use fugue_protocol::{ClientMessage, ServerMessage, ServerStatus};
use fugue_tests::poll::poll;
use fugue_tests::process::ServerOptions;
use fugue_tests::{EVENT_TIMEOUT, TestClient, contains};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The server's status report.
pub(crate) async fn status(client: &mut TestClient) -> ServerStatus {
    match client
        .request(|request_id| ClientMessage::Status { request_id })
        .await
    {
        ServerMessage::Status { status, .. } => status,
        other => panic!("expected Status, got {other:?}"),
    }
}

/// Waits until `check` holds for the server's status; fails the test after
/// [`EVENT_TIMEOUT`], showing the last status.
async fn wait_for_status(
    client: &mut TestClient,
    what: &str,
    check: impl Fn(&ServerStatus) -> bool,
) -> ServerStatus {
    let reached = poll(async || {
        let status = status(client).await;
        if check(&status) {
            Ok(status)
        } else {
            Err(status)
        }
    })
    .await;
    reached
        .unwrap_or_else(|status| panic!("timed out waiting until {what}; last status: {status:?}"))
}

/// A ping round trip on `client`.
async fn ping(client: &mut TestClient, nonce: u64) {
    client.send(ClientMessage::Ping { nonce }).await;
    loop {
        match client.next().await {
            Some(ServerMessage::Pong { nonce: got }) if got == nonce => return,
            Some(_) => {}
            None => panic!("the server closed the connection instead of answering a ping"),
        }
    }
}

/// The lines `seq FIRST LAST` prints on a terminal (`\r\n` endings).
fn seq_text(first: u64, last: u64) -> String {
    (first..=last).map(|n| format!("{n}\r\n")).collect()
}

/// What a reading client saw of its session's output.
#[derive(Default)]
struct Seen {
    /// The output bytes in order, if the reader was asked to keep them.
    bytes: Vec<u8>,
    /// How many output bytes arrived.
    n_bytes: usize,
    /// How many `Resync`s arrived.
    resyncs: usize,
    /// Jumps in sequence numbers that no resync explains: (last, next).
    gaps: Vec<(u64, u64)>,
}

impl std::fmt::Debug for Seen {
    // Without the bytes: a failure message must not print megabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seen")
            .field("n_bytes", &self.n_bytes)
            .field("resyncs", &self.resyncs)
            .field("gaps", &self.gaps)
            .finish_non_exhaustive()
    }
}

/// Reads `client`'s output in a task until it contains `marker`, then hands the client
/// back (still connected); the watch counts bytes as they arrive. `keep` keeps the bytes
/// (for byte-exact checks).
fn spawn_reader(
    mut client: TestClient,
    marker: &'static [u8],
    keep: bool,
) -> (JoinHandle<(Seen, TestClient)>, watch::Receiver<usize>) {
    let (progress_tx, progress_rx) = watch::channel(0);
    let task = tokio::spawn(async move {
        let mut seen = Seen::default();
        let mut last_seq = None;
        let mut tail: Vec<u8> = Vec::new();
        while !contains(&tail, marker) {
            match client.next().await {
                Some(ServerMessage::Output { seq, data, .. }) => {
                    if let Some(last) = last_seq
                        && seq != last + 1
                    {
                        seen.gaps.push((last, seq));
                    }
                    last_seq = Some(seq);
                    seen.n_bytes += data.len();
                    if keep {
                        seen.bytes.extend_from_slice(&data);
                    }
                    tail.extend_from_slice(&data);
                    let keep_from = tail.len().saturating_sub(marker.len() * 2 + 64);
                    tail.drain(..keep_from);
                    progress_tx.send_replace(seen.n_bytes);
                }
                Some(ServerMessage::Resync { seq, .. }) => {
                    seen.resyncs += 1;
                    last_seq = Some(seq);
                }
                Some(_) => {}
                None => panic!("the connection closed before the output showed the marker"),
            }
        }
        (seen, client)
    });
    (task, progress_rx)
}

/// Waits until the reader has seen at least `n_bytes`.
async fn wait_for_progress(progress: &mut watch::Receiver<usize>, n_bytes: usize) {
    tokio::time::timeout(EVENT_TIMEOUT, progress.wait_for(|&seen| seen >= n_bytes))
        .await
        .expect("output keeps arriving")
        .expect("the reader is running");
}

/// A fresh socket path in a directory of its own, which the returned guard keeps.
fn temp_socket() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("run").join("fugue.sock");
    (dir, socket)
}

/// Options for a server whose sessions are shells with the `$ ` prompt the tmux helpers
/// look for.
fn shell_options() -> ServerOptions {
    ServerOptions {
        env: vec![("PS1".into(), "$ ".into())],
        ..ServerOptions::default()
    }
}

/// Types `text` into `session` from a control client (`SendInput`).
async fn send_text(client: &mut TestClient, session: &str, text: &str) {
    let session = session.to_owned();
    let data = Bytes::copy_from_slice(text.as_bytes());
    match client
        .request(|request_id| ClientMessage::SendInput {
            request_id,
            session,
            data,
        })
        .await
    {
        ServerMessage::InputTaken { .. } => {}
        other => panic!("expected InputTaken, got {other:?}"),
    }
}
