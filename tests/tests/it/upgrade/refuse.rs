//! Upgrades that do not happen: each is refused with a clear message and leaves the old
//! server serving as it was, or (a new binary that dies before it takes over) the standby
//! process takes over, and nothing is lost.

use fugue_protocol::{ClientMessage, ErrorCode, Role, ServerMessage};
use fugue_tests::process::{self, ServerProcess};
use fugue_tests::tmux::{Fugue, binaries, stderr};
use fugue_tests::{TestClient, contains, input, wait_until};

use super::{exe_of, script, sessions, upgrade};

/// A session whose program echoes what it is sent, and a client attached to it.
async fn echo_session(world: &Fugue) -> (TestClient, u32) {
    let mut client = TestClient::connect(world.socket(), Role::Interactive).await;
    let session = client.create(Some("echo"), &["cat"]).await;
    client.attach("echo").await;
    (client, session.pid)
}

/// Types `text` and waits for `cat` to echo it back.
async fn echoes(client: &mut TestClient, text: &str) {
    client.send(input(&format!("{text}\r"))).await;
    let echoed = format!("{text}\r\n{text}");
    client
        .output_until(|bytes| contains(bytes, echoed.as_bytes()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_that_cannot_take_over_is_refused_and_nothing_changes() {
    let world = Fugue::new();
    let server = ServerProcess::start(world.socket());
    let (mut client, pid) = echo_session(&world).await;
    let dir = world.dir();
    let future = script(
        dir,
        "future-server",
        "echo 'fugue-server 9.0 formats 7 protocols 3-9'",
    );
    let cases = [
        (dir.join("no-such-server"), "No such file"),
        ("/bin/true".into(), "not a fugue-server"),
        (
            script(dir, "not-executable", "exit 0"),
            "not an executable file",
        ),
        (future, "cannot read this server's state"),
    ];
    std::fs::set_permissions(
        &cases[2].0,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    for (binary, why) in cases {
        let output = upgrade(&world, &binary);
        assert_eq!(output.status.code(), Some(1), "{}", binary.display());
        let message = stderr(&output);
        assert!(
            message.contains("upgrade refused") && message.contains(why),
            "{message}"
        );
        assert_eq!(
            exe_of(server.pid()),
            binaries().server,
            "the old server still runs"
        );
        echoes(&mut client, "still served").await;
    }
    let relative = world.run(&["upgrade", "--server-binary", "fugue-server"]);
    assert_eq!(
        relative.status.code(),
        Some(1),
        "a path that does not exist here"
    );
    assert!(process::is_alive(pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_binary_that_dies_before_it_takes_over_loses_nothing() {
    let world = Fugue::new();
    let server = ServerProcess::start(world.socket());
    let (mut client, pid) = echo_session(&world).await;
    let mut control = TestClient::connect(world.socket(), Role::Control).await;
    let listed = sessions(&mut control).await;
    // It answers the probe like a fugue-server, then exits at once when it is started.
    let probe = format!("exec {} --handoff-probe", binaries().server.display());
    let body = format!("[ \"$1\" = --handoff-probe ] && {probe}\nexit 1");
    let crasher = script(world.dir(), "crashing-server", &body);
    let output = upgrade(&world, &crasher);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("took over again"), "{message}");
    // The process the test started is gone; the standby process serves in its place.
    wait_until("the crashed server is gone", || !server.is_running()).await;
    assert!(process::is_alive(pid), "the program lives on");
    assert_eq!(sessions(&mut control).await, listed);
    echoes(&mut client, "carried on").await;
    let late = world.run(&["ls"]);
    assert!(late.status.success(), "{}", stderr(&late));
}

#[tokio::test]
async fn a_read_only_client_cannot_upgrade() {
    let world = Fugue::new();
    let _server = ServerProcess::start(world.socket());
    let mut viewer = TestClient::connect(world.socket(), Role::ReadOnly).await;
    let server_binary = binaries().server.display().to_string();
    match viewer
        .request(|request_id| ClientMessage::Upgrade {
            request_id,
            server_binary,
        })
        .await
    {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::ReadOnly),
        other => panic!("expected a refusal, got {other:?}"),
    }
}
