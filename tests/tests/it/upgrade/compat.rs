//! A client of protocol 3 (the `fugue` of the previous release, still attached when its
//! server is upgraded) is served before and after, in its own version: its frames are
//! pinned here as the bytes it sends, and what it gets back is read with its own layout.

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use fugue_tests::EVENT_TIMEOUT;
use fugue_tests::process::ServerProcess;
use fugue_tests::tmux::{Fugue, assert_success};

use super::{server_copy, upgrade};

/// `Hello { protocol_version: 3, client_name: "fugue 0.1.0", identity: None, role:
/// Control }`.
const HELLO_V3: &str = "0000001000030b667567756520302e312e300002";
/// `Status { request_id: 9 }`.
const STATUS_V3: &str = "000000020d09";
/// `ListSessions { request_id: 4 }`.
const LIST_V3: &str = "000000020304";

/// `ServerStatus` as protocol 3 lays it out.
#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "the layout is what is checked, not every value")]
struct StatusV3 {
    server_version: String,
    protocol_version: u32,
    pid: u32,
    uptime_ms: u64,
    socket_path: String,
    clients: u32,
    attached_clients: u32,
    sessions: u32,
    clients_by_role: Vec<(String, u32)>,
    messages_delivered: u64,
    messages_dropped: u64,
    lag_events: u64,
    pacing_timeouts: u64,
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
        .collect()
}

/// The body of the next frame that is not a `Ping` (variant 1).
async fn next_body(stream: &mut UnixStream) -> Vec<u8> {
    loop {
        let mut len = [0u8; 4];
        tokio::time::timeout(EVENT_TIMEOUT, stream.read_exact(&mut len))
            .await
            .expect("a frame in time")
            .expect("read length");
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        stream.read_exact(&mut body).await.expect("read body");
        if body.first() != Some(&1) {
            return body;
        }
    }
}

/// Asks for the status and checks the answer has exactly protocol 3's layout.
async fn status_reads_as_v3(stream: &mut UnixStream) -> StatusV3 {
    stream.write_all(&unhex(STATUS_V3)).await.expect("send");
    let body = next_body(stream).await;
    assert_eq!(&body[..2], [13, 9], "Status, request 9");
    match postcard::take_from_bytes::<StatusV3>(&body[2..]) {
        Ok((status, [])) => status,
        other => panic!("not protocol 3's layout: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_3_client_is_served_in_its_version_across_an_upgrade() {
    let world = Fugue::new();
    let _server = ServerProcess::start(world.socket());
    let mut old = UnixStream::connect(world.socket()).await.expect("connect");
    old.write_all(&unhex(HELLO_V3)).await.expect("send hello");
    let welcome = next_body(&mut old).await;
    assert_eq!(&welcome[..2], [0, 3], "Welcome, in protocol 3");
    let before = status_reads_as_v3(&mut old).await;
    assert_eq!(before.sessions, 0);
    let output = upgrade(&world, &server_copy(world.dir(), "fugue-server-next"));
    assert_success(&output, "fugue upgrade");
    // The same connection, carried over, now answered by the new server.
    let after = status_reads_as_v3(&mut old).await;
    assert_eq!(after.pid, before.pid, "the same process");
    old.write_all(&unhex(LIST_V3)).await.expect("send");
    assert_eq!(
        next_body(&mut old).await,
        [5, 4, 0],
        "Sessions, request 4, none"
    );
}

/// `Hello { protocol_version: 5, client_name: "fugue 0.1.0", identity: None, role:
/// Control }`: the `fugue` of the release before positions.
const HELLO_V5: &str = "0000001000050b667567756520302e312e300002";
/// `SendInput { request_id: 7, session: "work", data: b"echo\n" }`.
const SEND_V5: &str = "0000000d0b0704776f726b056563686f0a";

/// `SessionInfo` as protocol 5 lays it out (before `seq`, `foreground`, `shell_marks`).
#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "the layout is what is checked, not every value")]
struct SessionInfoV5 {
    id: uuid::Uuid,
    name: String,
    command: Vec<String>,
    pid: u32,
    created_unix_ms: u64,
    last_attached_unix_ms: u64,
    attached_clients: u32,
    size: (u16, u16),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_5_client_gets_done_for_input_and_sessions_in_its_layout() {
    let world = Fugue::new();
    let _server = ServerProcess::start(world.socket());
    assert_success(&world.run(&["new", "-d", "-s", "work", "--", "cat"]), "new");
    let mut old = UnixStream::connect(world.socket()).await.expect("connect");
    old.write_all(&unhex(HELLO_V5)).await.expect("send hello");
    assert_eq!(
        &next_body(&mut old).await[..2],
        [0, 5],
        "Welcome, in protocol 5"
    );
    old.write_all(&unhex(SEND_V5)).await.expect("send input");
    assert_eq!(
        next_body(&mut old).await,
        [4, 7],
        "Done, request 7, not InputTaken"
    );
    old.write_all(&unhex(LIST_V3)).await.expect("send list");
    let body = next_body(&mut old).await;
    assert_eq!(&body[..2], [5, 4], "Sessions, request 4");
    match postcard::take_from_bytes::<Vec<SessionInfoV5>>(&body[2..]) {
        Ok((sessions, [])) => assert_eq!(sessions[0].name, "work"),
        other => panic!("not protocol 5's layout: {other:?}"),
    }
}
