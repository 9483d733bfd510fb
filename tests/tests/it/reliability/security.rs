//! Security: a client of another uid is refused; the socket is never seen with a mode wider
//! than 0600; session names that could escape a path are refused; no input or output
//! payload is written to the log.
//!
//! Unsafe socket directories (another owner, open permissions, a symlink) are refused with
//! a clear error: `server_lifecycle::unsafe_socket_directories_are_refused`.

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use bytes::Bytes;
use fugue_protocol::{ClientMessage, ErrorCode, Role, ServerMessage};
use fugue_tests::poll::poll;
use fugue_tests::process::{ServerOptions, ServerProcess};
use fugue_tests::tmux::{binaries, find_program, finish, stderr};
use fugue_tests::{EVENT_TIMEOUT, TestClient, TestServer, contains, spec};
use rustix::process::Signal;

use super::ping;

/// `nobody`, on Debian and most other systems.
const NOBODY: u32 = 65534;

/// Whether every directory above `path` lets others through and `path` lets them run it.
fn others_can_run(path: &Path) -> bool {
    let mode = |p: &Path| fs::metadata(p).map(|m| m.permissions().mode()).unwrap_or(0);
    mode(path) & 0o001 != 0 && path.ancestors().skip(1).all(|dir| mode(dir) & 0o001 != 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_another_uid_is_refused() {
    if !rustix::process::geteuid().is_root() || find_program("setpriv").is_none() {
        eprintln!("skipping: running a client as nobody needs root and setpriv");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run").join("fugue.sock");
    let server = ServerProcess::start(&socket);
    // The misconfiguration under test: the socket is reachable by everyone, so only the
    // server's peer-uid check stands between nobody and the sessions.
    for path in [dir.path(), socket.parent().unwrap()] {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o666)).unwrap();
    let fugue = if others_can_run(&binaries().fugue) {
        binaries().fugue.clone()
    } else {
        let copy = dir.path().join("fugue");
        fs::copy(&binaries().fugue, &copy).unwrap();
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
        copy
    };
    let mut root = TestClient::connect(&socket, Role::Control).await;
    root.create(Some("private"), &["cat"]).await;

    for args in [
        &["ls"][..],
        &["send", "private", "touch /tmp/pwned"],
        &["status"],
    ] {
        let child = Command::new("setpriv")
            .args([
                "--reuid",
                &NOBODY.to_string(),
                "--regid",
                &NOBODY.to_string(),
            ])
            .args(["--clear-groups", "--"])
            .arg(&fugue)
            .arg("--socket")
            .arg(&socket)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn setpriv");
        let output = finish(child, "fugue as nobody");
        let message = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "fugue {args:?} as nobody: {message}"
        );
        assert!(
            message.contains("another user") && message.contains(&NOBODY.to_string()),
            "fugue {args:?} as nobody: {message}"
        );
    }
    assert!(server.log().contains("refused a client of another user"));
    // The owner is still served, and nothing reached the session.
    ping(&mut root, 1).await;
    let captured = root
        .request(|request_id| ClientMessage::Capture {
            request_id,
            session: "private".into(),
            format: fugue_protocol::CaptureFormat::Plain,
            scrollback_lines: 0,
        })
        .await;
    match captured {
        ServerMessage::Captured { text, .. } => assert!(!text.contains("pwned"), "{text}"),
        other => panic!("expected Captured, got {other:?}"),
    }
}

/// Server starts watched for the socket's first appearance.
const N_STARTS: usize = 20;

#[test]
fn the_socket_is_never_seen_with_a_mode_wider_than_0600() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..N_STARTS {
        let socket = dir.path().join(format!("run-{i}")).join("fugue.sock");
        let server = ServerProcess::spawn(&socket, ServerOptions::default());
        let mode = first_sight(&socket, &server);
        assert_eq!(
            mode & 0o777,
            0o600,
            "start {i}: socket first seen with mode {mode:o}"
        );
        let dir_mode = fs::metadata(socket.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            dir_mode & 0o777,
            0o700,
            "start {i}: directory mode {dir_mode:o}"
        );
        // Dropping kills it: SIGTERM this early could beat the server's signal handlers.
        drop(server);
    }
}

/// The socket's mode the first time `socket` exists, looked at as often as possible.
fn first_sight(socket: &PathBuf, server: &ServerProcess) -> u32 {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        if let Ok(meta) = fs::symlink_metadata(socket) {
            assert!(meta.file_type().is_socket(), "{socket:?} is not a socket");
            return meta.permissions().mode();
        }
        assert!(
            server.is_running(),
            "the server exited:\n{}",
            server.log_tail()
        );
        assert!(Instant::now() < deadline, "the socket never appeared");
        std::thread::yield_now();
    }
}

#[tokio::test]
async fn session_names_that_could_escape_a_path_are_refused() {
    let server = TestServer::start().await;
    let mut client = server.client(Role::Control).await;
    client.create(Some("fine"), &["cat"]).await;
    let bad_names = [
        "..",
        ".",
        "../up",
        "a/../b",
        "/",
        "nul\0byte",
        "\0",
        "new\nline",
        "\n",
    ];
    for bad in bad_names {
        let create = client
            .request(|request_id| ClientMessage::CreateSession {
                request_id,
                spec: spec(Some(bad), &["cat"]),
                attach: false,
            })
            .await;
        let rename = client
            .request(|request_id| ClientMessage::RenameSession {
                request_id,
                session: "fine".into(),
                new_name: bad.to_owned(),
            })
            .await;
        for (what, reply) in [("create", create), ("rename", rename)] {
            assert!(
                matches!(
                    reply,
                    ServerMessage::Error {
                        code: ErrorCode::InvalidName,
                        ..
                    }
                ),
                "{what} with the name {bad:?} was not refused: {reply:?}"
            );
        }
    }
}

/// What the test types and what its program prints: neither may reach the log.
const TYPED_SECRET: &str = "TYPED-SECRET-0815";
const SENT_SECRET: &str = "SENT-SECRET-2222";
const PRINTED_SECRET: &str = "PRINTED-SECRET-4711";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_input_or_output_payload_is_written_to_the_log_even_at_trace() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run").join("fugue.sock");
    let log = dir.path().join("server.log");
    let options = ServerOptions {
        args: vec!["--log-file".into(), log.display().to_string()],
        env: vec![("FUGUE_LOG".into(), "trace".into())],
        ..ServerOptions::default()
    };
    let mut server = ServerProcess::start_with(&socket, options);
    let mut client = TestClient::connect(&socket, Role::Interactive).await;
    client.create(Some("secrets"), &["cat"]).await;
    client.attach("secrets").await;
    client
        .send(fugue_tests::input(&format!("{TYPED_SECRET}\r")))
        .await;
    client
        .output_until(|bytes| {
            contains(
                bytes,
                format!("{TYPED_SECRET}\r\n{TYPED_SECRET}").as_bytes(),
            )
        })
        .await;
    // The program prints a secret the test never sends: `printf` builds it.
    let mut control = TestClient::connect(&socket, Role::Control).await;
    control
        .create(
            Some("printer"),
            &[
                "sh",
                "-c",
                "printf '%s-%s\\n' PRINTED-SECRET 4711; read end",
            ],
        )
        .await;
    let sent = control
        .request(|request_id| ClientMessage::SendInput {
            request_id,
            session: "secrets".into(),
            data: Bytes::from(format!("{SENT_SECRET}\r")),
        })
        .await;
    assert!(matches!(sent, ServerMessage::InputTaken { .. }), "{sent:?}");
    client
        .output_until(|bytes| contains(bytes, SENT_SECRET.as_bytes()))
        .await;
    client.send(ClientMessage::Detach { request_id: 99 }).await;
    let mut printer = TestClient::connect(&socket, Role::ReadOnly).await;
    printer.attach("printer").await;
    // Captures carry payload too; they show the secrets went through the server.
    for (session, secret) in [("secrets", SENT_SECRET), ("printer", PRINTED_SECRET)] {
        let shown = poll(async || {
            let captured = control
                .request(|request_id| ClientMessage::Capture {
                    request_id,
                    session: session.into(),
                    format: fugue_protocol::CaptureFormat::Plain,
                    scrollback_lines: 100,
                })
                .await;
            match captured {
                ServerMessage::Captured { text, .. } if text.contains(secret) => Ok(()),
                ServerMessage::Captured { .. } => Err(()),
                other => panic!("expected Captured, got {other:?}"),
            }
        })
        .await;
        assert!(shown.is_ok(), "{secret} never showed in {session}");
    }
    server.signal(Signal::TERM);
    assert!(server.wait_exit(EVENT_TIMEOUT).success());

    let text = fs::read_to_string(&log).expect("the log file");
    assert!(
        text.contains("client connected") && text.contains("DEBUG"),
        "the log is not at debug level or more:\n{text}"
    );
    for secret in [TYPED_SECRET, SENT_SECRET, PRINTED_SECRET] {
        assert!(!text.contains(secret), "{secret} is in the log:\n{text}");
    }
}

#[tokio::test]
async fn descriptors_the_server_inherited_do_not_reach_session_programs() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run").join("fugue.sock");
    let held = dir.path().join("held-open");
    // A parent that starts the server with descriptor 7 open, as `exec 7>file` in a shell.
    let parent = Command::new("sh")
        .arg("-c")
        .arg(r#"exec 7>>"$1"; exec "$2" --socket "$3""#)
        .arg("sh")
        .arg(&held)
        .arg(&binaries().server)
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The shell execs the server, so this child is the server: killed however the test ends.
    let _server = KillOnDrop(parent);
    fugue_tests::wait_until("the server listens", || {
        std::os::unix::net::UnixStream::connect(&socket).is_ok()
    })
    .await;
    let mut client = TestClient::connect(&socket, Role::Interactive).await;
    let listing = spec(
        Some("fds"),
        &["sh", "-c", "echo FDS $(ls /proc/self/fd) END; read x"],
    );
    let reply = client
        .request(|request_id| ClientMessage::CreateSession {
            request_id,
            spec: listing,
            attach: true,
        })
        .await;
    assert!(matches!(reply, ServerMessage::Attached { .. }), "{reply:?}");
    let out = client.output_until(|bytes| contains(bytes, b" END")).await;
    let text = String::from_utf8_lossy(&out.bytes);
    let fds: Vec<&str> = text
        .split("FDS")
        .nth(1)
        .and_then(|rest| rest.split("END").next())
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert!(fds.contains(&"0") && fds.contains(&"2"), "{text:?}");
    assert!(
        !fds.contains(&"7"),
        "descriptor 7 leaked into the session: {text:?}"
    );
}

/// Kills and reaps a child process when dropped, so a failing test leaves no server behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
