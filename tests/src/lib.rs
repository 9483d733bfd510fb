//! Test harness for fugue's end-to-end tests: a real server on a temp socket, and a typed
//! protocol client that waits on events (never on sleeps).

// A harness reports a broken precondition by failing the test, which is what a panic does.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::missing_panics_doc)]

pub mod chromium;
pub mod poll;
pub mod process;
pub mod relay;
pub mod screen;
pub mod sshd;
pub mod tmux;
pub mod web;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use fugue_protocol::{
    ClientCodec, ClientMessage, PROTOCOL_VERSION, RequestId, Role, ServerMessage, SessionInfo,
    SessionSpec, TermSize,
};
use fugue_server::{Config, ServerError};
use futures_util::{SinkExt, StreamExt};
use tempfile::TempDir;
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

pub use crate::poll::wait_until;

/// How long any single expected event may take before the test fails.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// A server running in this process on a socket in a fresh temporary directory.
pub struct TestServer {
    /// Keeps the directory alive.
    pub dir: TempDir,
    /// The socket path.
    pub socket: PathBuf,
    token: CancellationToken,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl TestServer {
    /// Starts a server with the default configuration.
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts a server after letting `configure` adjust its configuration.
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("run").join("fugue.sock");
        let mut config = Config::new(socket.clone());
        configure(&mut config);
        let listener = fugue_server::socket::bind(&socket).expect("bind");
        let token = CancellationToken::new();
        let task = tokio::spawn(fugue_server::run(listener, config, token.clone()));
        TestServer {
            dir,
            socket,
            token,
            task: Some(task),
        }
    }

    /// Connects and completes the handshake with `role`.
    pub async fn client(&self, role: Role) -> TestClient {
        TestClient::connect(&self.socket, role).await
    }

    /// Cancels the server and waits for `run` to return.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        self.token.cancel();
        let task = self.task.take().expect("running");
        tokio::time::timeout(EVENT_TIMEOUT, task)
            .await
            .expect("server stops in time")
            .expect("server task does not panic")
    }

    /// The token the server runs under.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// A protocol-level client.
pub struct TestClient {
    framed: Framed<UnixStream, ClientCodec>,
    next_request: RequestId,
    /// The id the server gave this client.
    pub client_id: u64,
}

impl TestClient {
    /// Connects to `socket` without a handshake.
    pub async fn connect_raw(socket: &Path) -> Framed<UnixStream, ClientCodec> {
        let stream = UnixStream::connect(socket).await.expect("connect");
        Framed::new(stream, ClientCodec::new())
    }

    /// Connects and says `Hello` with `role`; panics unless the server says `Welcome`.
    pub async fn connect(socket: &Path, role: Role) -> TestClient {
        let mut framed = TestClient::connect_raw(socket).await;
        framed
            .send(ClientMessage::Hello {
                protocol_version: PROTOCOL_VERSION,
                client_name: "fugue-tests".into(),
                identity: None,
                role,
            })
            .await
            .expect("send hello");
        let mut client = TestClient {
            framed,
            next_request: 1,
            client_id: 0,
        };
        match client.next().await {
            Some(ServerMessage::Welcome { client_id, .. }) => client.client_id = client_id,
            other => panic!("expected Welcome, got {other:?}"),
        }
        client
    }

    /// The framed stream, for tests that split reading from writing.
    pub fn into_framed(self) -> Framed<UnixStream, ClientCodec> {
        self.framed
    }

    /// Sends one message.
    pub async fn send(&mut self, msg: ClientMessage) {
        self.framed.send(msg).await.expect("send");
    }

    /// The next message, answering pings on the way; `None` when the server closed.
    pub async fn next(&mut self) -> Option<ServerMessage> {
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.framed.next())
                .await
                .expect("a message in time");
            match frame {
                None => return None,
                Some(Err(err)) => panic!("decode error: {err}"),
                Some(Ok(ServerMessage::Ping { nonce })) => {
                    self.send(ClientMessage::Pong { nonce }).await;
                }
                Some(Ok(msg)) => return Some(msg),
            }
        }
    }

    /// A fresh request id.
    pub fn request_id(&mut self) -> RequestId {
        self.next_request += 1;
        self.next_request
    }

    /// Sends a request built from a fresh id and returns the reply carrying that id,
    /// skipping output and other unrelated messages.
    pub async fn request(
        &mut self,
        build: impl FnOnce(RequestId) -> ClientMessage,
    ) -> ServerMessage {
        let id = self.request_id();
        self.send(build(id)).await;
        loop {
            let msg = self.next().await.expect("reply before close");
            if msg.reply_to() == Some(id) {
                return msg;
            }
        }
    }

    /// Creates a session running `command` at 24x80 and returns its info.
    pub async fn create(&mut self, name: Option<&str>, command: &[&str]) -> SessionInfo {
        let spec = spec(name, command);
        match self
            .request(|request_id| ClientMessage::CreateSession {
                request_id,
                spec,
                attach: false,
            })
            .await
        {
            ServerMessage::Created { session, .. } => session,
            other => panic!("expected Created, got {other:?}"),
        }
    }

    /// Types `text` into `session` (`SendInput`); returns the position it reached the
    /// program at.
    pub async fn type_in(&mut self, session: &str, text: &str) -> u64 {
        let session = session.to_owned();
        let data = Bytes::copy_from_slice(text.as_bytes());
        let reply = self
            .request(|request_id| ClientMessage::SendInput {
                request_id,
                session,
                data,
            })
            .await;
        match reply {
            ServerMessage::InputTaken { seq, .. } => seq,
            other => panic!("expected InputTaken, got {other:?}"),
        }
    }

    /// `session`'s screen as plain text (`Capture`, no scrollback).
    pub async fn screen_text(&mut self, session: &str) -> String {
        let session = session.to_owned();
        let reply = self
            .request(|request_id| ClientMessage::Capture {
                request_id,
                session,
                format: fugue_protocol::CaptureFormat::Plain,
                scrollback_lines: 0,
            })
            .await;
        match reply {
            ServerMessage::Captured { text, .. } => text,
            other => panic!("expected Captured, got {other:?}"),
        }
    }

    /// Attaches to `session` at 24x80; returns the `Attached` reply.
    pub async fn attach(&mut self, session: &str) -> ServerMessage {
        let session = session.to_owned();
        self.request(|request_id| ClientMessage::Attach {
            request_id,
            session,
            size: TermSize::DEFAULT,
            resume_from: None,
        })
        .await
    }

    /// Collects `Output` bytes until `done` holds for everything collected, or the stream
    /// ends; returns the bytes, the last sequence number, and the message that ended it.
    pub async fn output_until(&mut self, done: impl Fn(&[u8]) -> bool) -> Collected {
        let mut collected = Collected::default();
        while !done(&collected.bytes) {
            match self.next().await {
                Some(ServerMessage::Output { seq, data, .. }) => {
                    assert!(seq > collected.last_seq, "sequence numbers increase");
                    collected.last_seq = seq;
                    collected.bytes.extend_from_slice(&data);
                }
                Some(other) => {
                    collected.other.push(other);
                }
                None => break,
            }
        }
        collected
    }
}

/// What [`TestClient::output_until`] gathered.
#[derive(Debug, Default)]
pub struct Collected {
    /// The output bytes, in order.
    pub bytes: Vec<u8>,
    /// The last `Output` sequence number.
    pub last_seq: u64,
    /// Messages other than output, in order.
    pub other: Vec<ServerMessage>,
}

/// A session spec for `command` at 24x80 in a plain environment.
pub fn spec(name: Option<&str>, command: &[&str]) -> SessionSpec {
    SessionSpec {
        name: name.map(str::to_owned),
        command: command.iter().map(|arg| (*arg).to_owned()).collect(),
        cwd: None,
        env: vec![("PS1".into(), "$ ".into())],
        size: TermSize::DEFAULT,
        term: None,
    }
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Bytes as input.
pub fn input(text: &str) -> ClientMessage {
    ClientMessage::Input {
        data: Bytes::copy_from_slice(text.as_bytes()),
    }
}

/// Whether a process with this pid exists (zombies count as existing).
pub fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Number of open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// Resident set size of process `pid` in KiB (0 if it cannot be read).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}
