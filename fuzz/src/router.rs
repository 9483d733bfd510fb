//! The message router target: arbitrary frame sequences against a live server.
//!
//! One server (`fugue_server::run`, in this process, on a temporary socket) serves every
//! input. An input is one connection: its first byte picks the role and whether `Hello`
//! is sent; the rest is read as frames. Every frame that decodes is sent as a message (made
//! safe first, see [`make_safe`]); the first bytes that do not decode are sent raw, followed
//! by end-of-file. Checked for every input: no panic anywhere in the server; a connection
//! that sent only whole messages gets its final `Ping` answered; one that sent garbage is
//! closed; and afterwards a fresh connection is still served. Sessions the input created
//! are killed before the next input.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use fugue_protocol::{
    ClientCodec, ClientMessage, PROTOCOL_VERSION, Role, ServerCodec, ServerMessage,
};
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::runtime::Runtime;
use tokio_util::codec::{Decoder, Framed, FramedRead};
use tokio_util::sync::CancellationToken;

/// How long one input may take before it counts as a hang.
const INPUT_TIMEOUT: Duration = Duration::from_secs(30);

/// The nonce of the `Ping` that ends a well-formed input.
const FINAL_NONCE: u64 = 0xf0f0_f0f0;

/// Sessions one input may create (each is a process).
const MAX_CREATES: usize = 3;

/// The only programs a fuzzed `CreateSession` may start: none reads input as commands.
const PROGRAMS: &[&[&str]] = &[
    &["cat"],
    &["seq", "1", "300"],
    &["sh", "-c", "exit 3"],
    &["/nonexistent/fugue-fuzz-program"],
    &[
        "printf",
        "\\033[?1049h\\033]0;title\\007\\033[5;5Hx\\033[?1049l",
    ],
];

struct Live {
    runtime: Runtime,
    socket: PathBuf,
    _token: CancellationToken,
    _dir: PathBuf,
    _sigpipe: tokio::signal::unix::Signal,
}

fn live() -> &'static Live {
    static LIVE: OnceLock<Live> = OnceLock::new();
    LIVE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = std::env::temp_dir().join(format!("fugue-fuzz-{}", std::process::id()));
        let socket = dir.join("fugue.sock");
        let token = CancellationToken::new();
        // libFuzzer's `main` is not Rust's, which would ignore SIGPIPE; a write to a peer
        // that hung up must be an error, not the end of the process. A handled signal is.
        let (listener, sigpipe) = runtime.block_on(async {
            let sigpipe = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::pipe())
                .expect("handle SIGPIPE");
            let listener =
                fugue_server::socket::bind(&socket).expect("bind the fuzz server's socket");
            (listener, sigpipe)
        });
        let mut config = fugue_server::Config::new(socket.clone());
        config.handshake_timeout = Duration::from_secs(2);
        config.kill_grace = Duration::from_millis(200);
        runtime.spawn(fugue_server::run(listener, config, token.clone()));
        Live {
            runtime,
            socket,
            _token: token,
            _dir: dir,
            _sigpipe: sigpipe,
        }
    })
}

/// The target.
pub fn router(data: &[u8]) {
    let Some((&control, frames)) = data.split_first() else {
        return;
    };
    let live = live();
    live.runtime.block_on(async {
        let run = async {
            one_connection(&live.socket, control, frames).await;
            still_serving(&live.socket).await;
            kill_all_sessions(&live.socket).await;
        };
        if tokio::time::timeout(INPUT_TIMEOUT, run).await.is_err() {
            panic!("the server did not finish with an input within {INPUT_TIMEOUT:?}");
        }
    });
}

/// Splits `bytes` into the messages that decode and the raw rest (from the first frame
/// that does not).
pub fn split_frames(bytes: &[u8]) -> (Vec<ClientMessage>, Bytes) {
    let mut codec = ServerCodec::new();
    let mut buf = BytesMut::from(bytes);
    let mut messages = Vec::new();
    loop {
        let before = buf.clone();
        match codec.decode(&mut buf) {
            Ok(Some(msg)) => messages.push(msg),
            Ok(None) => return (messages, buf.freeze()),
            Err(_) => return (messages, before.freeze()),
        }
    }
}

/// Replaces what must not run on a developer's machine: a created session runs one of
/// [`PROGRAMS`] with only `FUZZ_` variables added, and `KillServer` and `Upgrade` (which
/// runs the binary it names) become `Status`.
pub fn make_safe(msg: ClientMessage, creates: &mut usize) -> Option<ClientMessage> {
    match msg {
        ClientMessage::CreateSession {
            request_id,
            mut spec,
            attach,
        } => {
            *creates += 1;
            if *creates > MAX_CREATES {
                return None;
            }
            let program = PROGRAMS[spec.command.len() % PROGRAMS.len()];
            spec.command = program.iter().map(|arg| (*arg).to_owned()).collect();
            spec.env = spec
                .env
                .into_iter()
                .map(|(key, value)| (format!("FUZZ_{key}"), value))
                .collect();
            Some(ClientMessage::CreateSession {
                request_id,
                spec,
                attach,
            })
        }
        ClientMessage::KillServer { request_id } | ClientMessage::Upgrade { request_id, .. } => {
            Some(ClientMessage::Status { request_id })
        }
        other => Some(other),
    }
}

async fn one_connection(socket: &PathBuf, control: u8, frames: &[u8]) {
    let role = match control % 3 {
        0 => Role::Interactive,
        1 => Role::ReadOnly,
        _ => Role::Control,
    };
    let say_hello = control & 0x80 == 0;
    let (messages, rest) = split_frames(frames);
    let stream = UnixStream::connect(socket).await.expect("connect");
    let (read_half, write_half) = stream.into_split();
    // Read everything the server says while writing, or a full socket would stall both.
    let reader = tokio::spawn(async move {
        let mut frames = FramedRead::new(read_half, ClientCodec::new());
        let mut answered = false;
        while let Some(frame) = frames.next().await {
            match frame {
                Ok(ServerMessage::Pong { nonce }) if nonce == FINAL_NONCE => {
                    answered = true;
                    break;
                }
                Ok(_) => {}
                Err(err) => panic!("the server sent a frame its client cannot decode: {err}"),
            }
        }
        answered
    });
    let mut writer = tokio_util::codec::FramedWrite::new(write_half, ClientCodec::new());
    if say_hello {
        let hello = ClientMessage::Hello {
            protocol_version: PROTOCOL_VERSION,
            client_name: "fugue-fuzz".into(),
            identity: None,
            role,
        };
        if writer.send(hello).await.is_err() {
            return;
        }
    }
    let mut creates = 0;
    for msg in messages {
        let Some(msg) = make_safe(msg, &mut creates) else {
            continue;
        };
        if writer.send(msg).await.is_err() {
            // The server closed the connection (e.g. no Hello): nothing more to check here.
            let _ = reader.await;
            return;
        }
    }
    let well_formed = rest.is_empty();
    if well_formed {
        let _ = writer
            .send(ClientMessage::Ping { nonce: FINAL_NONCE })
            .await;
    } else {
        let mut raw = writer.into_inner();
        let _ = raw.write_all(&rest).await;
        let _ = raw.shutdown().await;
        writer = tokio_util::codec::FramedWrite::new(raw, ClientCodec::new());
    }
    let answered = reader.await.expect("the reader does not panic");
    if well_formed && say_hello {
        assert!(
            answered,
            "a well-formed connection's final Ping was not answered"
        );
    }
    drop(writer);
}

/// A fresh client still gets a `Pong`.
async fn still_serving(socket: &PathBuf) {
    let mut client = handshake(socket, Role::Control).await;
    client
        .send(ClientMessage::Ping { nonce: 7 })
        .await
        .expect("send ping");
    loop {
        match client.next().await {
            Some(Ok(ServerMessage::Pong { nonce: 7 })) => return,
            Some(Ok(_)) => {}
            other => panic!("the server stopped serving: {other:?}"),
        }
    }
}

async fn handshake(socket: &PathBuf, role: Role) -> Framed<UnixStream, ClientCodec> {
    let stream = UnixStream::connect(socket).await.expect("connect");
    let mut client = Framed::new(stream, ClientCodec::new());
    let hello = ClientMessage::Hello {
        protocol_version: PROTOCOL_VERSION,
        client_name: "fugue-fuzz-probe".into(),
        identity: None,
        role,
    };
    client.send(hello).await.expect("send hello");
    match client.next().await {
        Some(Ok(ServerMessage::Welcome { .. })) => client,
        other => panic!("expected Welcome, got {other:?}"),
    }
}

/// Kills every session, so inputs do not pile up processes.
async fn kill_all_sessions(socket: &PathBuf) {
    let mut client = handshake(socket, Role::Control).await;
    client
        .send(ClientMessage::ListSessions { request_id: 1 })
        .await
        .expect("send list");
    let sessions = loop {
        match client.next().await {
            Some(Ok(ServerMessage::Sessions { sessions, .. })) => break sessions,
            Some(Ok(_)) => {}
            other => panic!("no session list: {other:?}"),
        }
    };
    for (n, session) in sessions.iter().enumerate() {
        let request_id = 2 + u32::try_from(n).unwrap_or(0);
        client
            .send(ClientMessage::KillSession {
                request_id,
                session: session.id.to_string(),
            })
            .await
            .expect("send kill");
        loop {
            match client.next().await {
                Some(Ok(ServerMessage::Done { request_id: done })) if done == request_id => break,
                Some(Ok(ServerMessage::Error {
                    request_id: Some(id),
                    ..
                })) if id == request_id => {
                    break;
                }
                Some(Ok(_)) => {}
                other => panic!("no answer to kill: {other:?}"),
            }
        }
    }
}
