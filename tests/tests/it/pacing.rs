//! Output pacing: a program that prints faster than its only client reads is slowed to
//! that client's pace, so the client gets every byte; a client that stops reading holds
//! the program up only for a moment, and is resynced onto the right screen once it reads
//! again.
//!
//! Whether a client is given up on depends on the machine's scheduling (a reader that is
//! descheduled for the whole stall limit looks stopped), so a test whose reader must never
//! be given up on runs with a stall limit no scheduler reaches; what it asserts on is the
//! missed wake-ups, which no load can cause.

use std::time::Duration;

use fugue_protocol::{Role, ServerMessage, TermSize};
use fugue_tests::screen::Terminal;
use fugue_tests::{TestClient, TestServer, contains, input, wait_until};

use crate::reliability::status;

/// Far more than a client's queue holds (256 frames of at most 64 KiB).
const MIB: usize = 40;

/// An interactive client attached to a new session `name` whose program waits for a line,
/// then prints [`MIB`] MiB of `x` as fast as the PTY takes it (nothing in it paces the
/// output), runs `then`, and waits again.
async fn attached_to_flood(server: &TestServer, name: &str, then: &str) -> TestClient {
    let mut client = server.client(Role::Interactive).await;
    let command = format!(
        "read go; head -c {} /dev/zero | tr '\\000' x; {then}; read done",
        MIB * 1024 * 1024
    );
    client.create(Some(name), &["sh", "-c", &command]).await;
    client.attach(name).await;
    client
}

/// A stall limit no descheduling of a reading client reaches.
const PATIENT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_client_slower_than_the_program_gets_every_byte() {
    let server = TestServer::start_with(|config| config.pacing_stall = PATIENT).await;
    let mut client = attached_to_flood(&server, "fast", "printf END").await;
    client.send(input("\r")).await;

    let mut x_count = 0usize;
    let mut since_pause = 0usize;
    let mut last_seq = 0;
    let mut tail = Vec::new();
    while !contains(&tail, b"END") {
        match client.next().await.expect("open") {
            ServerMessage::Output { seq, data, .. } => {
                assert!(
                    last_seq == 0 || seq == last_seq + 1,
                    "no gap: {last_seq} -> {seq}"
                );
                last_seq = seq;
                x_count += data.iter().filter(|&&byte| byte == b'x').count();
                tail.extend_from_slice(&data);
                tail.drain(..tail.len().saturating_sub(8));
                // A slow reader: 20 ms per MiB, 50 MiB/s at best, while `tr` alone
                // writes several times faster.
                since_pause += data.len();
                if since_pause >= 1 << 20 {
                    since_pause = 0;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            ServerMessage::Resync { .. } => panic!("a client that keeps reading was resynced"),
            _ => {}
        }
    }
    assert_eq!(x_count, MIB * 1024 * 1024, "every byte reached the client");
    let mut control = server.client(Role::Control).await;
    let status = status(&mut control).await;
    assert_eq!(status.lag_events, 0, "no client was marked lagging");
    // Every wait for room ended when the client took a frame, never at the stall limit. A
    // wake-up that comes late (or only at the limit) still delivers every byte, only
    // slowly, so the byte count above cannot catch it.
    assert_eq!(
        status.pacing_missed_wake_ups, 0,
        "the client made room without waking the session"
    );
    assert_eq!(
        status.pacing_timeouts, 0,
        "a pacing wait ran to its limit although the client kept reading"
    );
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_lone_client_that_stops_reading_does_not_stop_the_program() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let done = dir.path().join("done");
    let then = format!(": > {}", done.display());
    let mut client = attached_to_flood(&server, "stalled", &then).await;
    client.send(input("\r")).await;
    // The client reads nothing more: after the pacing wait gives up, the client is marked
    // lagging and the program runs on.
    wait_until("the program finished printing", || done.exists()).await;
    let mut control = server.client(Role::Control).await;
    let status = status(&mut control).await;
    assert!(status.lag_events >= 1);
    assert!(
        status.pacing_timeouts >= 1,
        "the wait for the client timed out"
    );
    assert_eq!(
        status.pacing_missed_wake_ups, 0,
        "every wait that timed out was a give-up on the stopped client"
    );
    // Reading again, the client gets what it held when it was cut loose (a few frames, not
    // its whole 256-frame queue), then its resync.
    let mut outputs = 0;
    loop {
        match client.next().await.expect("open") {
            ServerMessage::Output { .. } => outputs += 1,
            ServerMessage::Resync { .. } => break,
            _ => {}
        }
    }
    assert!(
        outputs < 128,
        "{outputs} frames of stale output came before the resync"
    );
    drop(client);
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn clients_that_stop_reading_in_a_flood_each_end_on_the_right_screen() {
    let server = TestServer::start().await;
    let mut healthy = attached_to_flood(&server, "flood", "printf END").await;
    let mut stalled = Vec::new();
    for _ in 0..3 {
        let mut client = server.client(Role::ReadOnly).await;
        let mut term = Terminal::new(TermSize::DEFAULT);
        term.apply(&client.attach("flood").await);
        stalled.push((client, term));
    }
    healthy.send(input("\r")).await;
    let mut tail = Vec::new();
    let mut last_seq = 0;
    while !contains(&tail, b"END") {
        // On a loaded machine the healthy client may be given up on too; its resync shows
        // the end as well.
        match healthy.next().await.expect("open") {
            ServerMessage::Output { seq, data, .. } => {
                last_seq = seq;
                tail.extend_from_slice(&data);
                tail.drain(..tail.len().saturating_sub(8));
            }
            ServerMessage::Resync { seq, snapshot } => {
                last_seq = seq;
                tail = snapshot.to_vec();
            }
            _ => {}
        }
    }
    let mut fresh = server.client(Role::ReadOnly).await;
    let mut fresh_term = Terminal::new(TermSize::DEFAULT);
    fresh_term.apply(&fresh.attach("flood").await);
    // The stalled clients read again: their resyncs (one model catch-up serves them all)
    // bring each onto the session's screen.
    for (index, (client, term)) in stalled.iter_mut().enumerate() {
        let mut resynced = false;
        loop {
            let msg = client.next().await.expect("open");
            resynced |= matches!(msg, ServerMessage::Resync { .. });
            term.apply(&msg);
            match msg {
                ServerMessage::Output { seq, .. } | ServerMessage::Resync { seq, .. }
                    if seq == last_seq =>
                {
                    break;
                }
                _ => {}
            }
        }
        assert!(resynced, "client {index} was resynced, not fed holes");
        assert_eq!(
            term.digest(),
            fresh_term.digest(),
            "client {index} ends on the session's screen"
        );
    }
    server.shutdown().await.expect("clean shutdown");
}
