//! What an upgrade does with connections that cannot go on at once: a client that stopped
//! reading (its connection is stuck in a write) and input waiting for room in a session
//! whose program does not read. Neither holds the upgrade up, and nothing of either is
//! lost: the write goes on from the byte it stopped at, and the input, with the requests
//! the connection had not read yet, reaches the program once it reads.

use bytes::Bytes;
use fugue_protocol::{ClientMessage, ExitStatus, RequestId, Role, ServerMessage};
use fugue_tests::poll::{poll, wait_until};
use fugue_tests::process::ServerProcess;
use fugue_tests::tmux::{Fugue, assert_success, json_number, signal, stdout};
use fugue_tests::{EVENT_TIMEOUT, TestClient};
use rustix::process::Signal;

use super::carry::send_line;
use super::{capture, server_copy, upgrade};

/// `SendInput` requests sent to the program that does not read, and the bytes in each:
/// far more than the PTY, the session's input queue and the socket hold together.
const CHUNKS: usize = 96;
const CHUNK: usize = 8 * 1024;
/// How long the typist must make no progress to be taken as blocked by the server.
const STALL: std::time::Duration = std::time::Duration::from_millis(300);
/// How long the connections' parking may take before an upgrade gives up on them.
const PARK_TIMEOUT_MS: u32 = 5000;

/// The bytes of chunk `i`: one letter, so that the order shows.
fn chunk(i: usize) -> Bytes {
    let letter = b'a' + u8::try_from(i % 26).expect("a letter");
    Bytes::from(vec![letter; CHUNK])
}

/// Whether process `pid` is stopped (by a signal).
fn stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('T'))
    })
}

/// Sends every chunk to the sink (counting them on `sent`), then collects the answers:
/// the request ids sent, and those answered `Done`.
async fn type_into_sink(
    mut typist: TestClient,
    sent: tokio::sync::watch::Sender<usize>,
) -> (Vec<RequestId>, Vec<RequestId>) {
    let mut ids = Vec::new();
    for i in 0..CHUNKS {
        let request_id = typist.request_id();
        ids.push(request_id);
        let session = "sink".to_owned();
        let data = chunk(i);
        typist
            .send(ClientMessage::SendInput {
                request_id,
                session,
                data,
            })
            .await;
        let _ = sent.send(i + 1);
    }
    let mut answered = Vec::new();
    while answered.len() < CHUNKS {
        match typist.next().await.expect("open") {
            ServerMessage::InputTaken { request_id, .. } => answered.push(request_id),
            msg @ ServerMessage::Error { .. } => panic!("input refused: {msg:?}"),
            _ => {}
        }
    }
    (ids, answered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stopped_reading_and_input_waiting_for_room_lose_nothing() {
    let world = Fugue::new();
    let _server = ServerProcess::start(world.socket());
    let mut control = TestClient::connect(world.socket(), Role::Control).await;
    let out = world.dir().join("sink.out");
    let sink = format!(
        "stty raw -echo; kill -STOP $$; exec cat > '{}'",
        out.display()
    );
    let sink = control.create(Some("sink"), &["sh", "-c", &sink]).await;
    let flood = "read go; seq 1 200000; read x; exit 5";
    control.create(Some("flood"), &["sh", "-c", flood]).await;
    // A client that stops reading while the flood is printed: its connection is stuck in
    // a write (far more output than the socket holds) when the upgrade comes.
    let mut stuck = TestClient::connect(world.socket(), Role::ReadOnly).await;
    let ServerMessage::Attached { seq: first, .. } = stuck.attach("flood").await else {
        panic!("not attached");
    };
    send_line(&mut control, "flood").await;
    let printed = poll(async || {
        let (screen, _) = capture(&mut control, "flood").await;
        if screen.contains("200000") {
            Ok(())
        } else {
            Err(screen)
        }
    })
    .await;
    assert!(printed.is_ok(), "the flood is printed: {printed:?}");
    wait_until("the sink's program stops", || stopped(sink.pid)).await;
    // Input the program does not take, sent by another task, which blocks once the
    // server stops reading: the last requests wait for room, those after them are unread.
    let typist = TestClient::connect(world.socket(), Role::Control).await;
    let (typed, mut sent) = tokio::sync::watch::channel(0);
    let typing = tokio::spawn(type_into_sink(typist, typed));
    while tokio::time::timeout(STALL, sent.changed()).await.is_ok() {}
    assert!(
        *sent.borrow() < CHUNKS,
        "the server stopped reading the input"
    );

    let output = upgrade(&world, &server_copy(world.dir(), "fugue-server-new"));
    assert_success(&output, "fugue upgrade");
    let report = stdout(&output);
    let pause = json_number(&report, "pause_ms").expect("pause_ms");
    assert!(
        pause < PARK_TIMEOUT_MS,
        "nothing held the upgrade up: {report}"
    );

    signal(sink.pid, Signal::CONT);
    let (ids, mut answered) = tokio::time::timeout(EVENT_TIMEOUT, typing)
        .await
        .expect("every request answered in time")
        .expect("typist");
    answered.sort_unstable();
    assert_eq!(answered, ids, "every request answered once");
    let expected: Vec<u8> = (0..CHUNKS).flat_map(|i| chunk(i).to_vec()).collect();
    let size = || std::fs::metadata(&out).map_or(0, |meta| meta.len());
    wait_until("the program has read every byte", || {
        size() >= expected.len() as u64
    })
    .await;
    let got = std::fs::read(&out).expect("read the sink's file");
    assert!(got == expected, "the input arrived whole and in order");

    // The stuck client reads again: a clean stream of frames to the end, every chunk
    // after the one before it, but for output skipped while it lagged (a resync says so).
    send_line(&mut control, "flood").await;
    let (mut last, mut exit) = (first, None);
    let read = async {
        while let Some(msg) = stuck.next().await {
            match msg {
                ServerMessage::Output { seq, .. } => {
                    assert_eq!(seq, last + 1, "output follows output or resync");
                    last = seq;
                }
                // Output skipped while it did not read: the screen as of `seq` instead.
                ServerMessage::Resync { seq, .. } => {
                    assert!(seq >= last, "resync {seq} after {last}");
                    last = seq;
                }
                ServerMessage::SessionExited { status, .. } => exit = Some(status),
                ServerMessage::Detached { .. } => return,
                _ => {}
            }
        }
    };
    tokio::time::timeout(EVENT_TIMEOUT, read)
        .await
        .expect("the stuck client reads to the end");
    assert_eq!(exit, Some(ExitStatus::Code { code: 5 }));
}
