//! The soak driver behind `cargo xtask soak`: many clients attach, detach, type and
//! disconnect at random against a real `fugue-server` for a set time, then it reports what
//! happened and whether the server is back where it started.
//!
//! `soak --server PATH [--minutes N] [--clients K] [--seed S]`. Sessions: four `cat`s in
//! raw mode (typed text comes back exactly, so every typed token is checked), a program
//! that prints steadily, and a shell. Each of the K workers loops: connect as interactive
//! or read-only, attach to a random session, type tokens and wait for their echo, read,
//! resize, then detach or just hang up; or run control requests; or connect and vanish in
//! the middle of a frame; or create and kill a session. At the end it checks that the
//! server counts no client but the probe, that its file descriptors are back to the count
//! before the soak, and that it exits 0 on SIGTERM. The exit code is 1 if anything failed.

// A driver reports a broken precondition by stopping, which is what a panic does; its
// report is its output.
#![allow(clippy::expect_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fugue_client::{
    CaptureFormat, Client, ConnectOptions, DetachReason, Event, Events, Role, SessionSpec, TermSize,
};
use fugue_tests::process::fd_count;
use fugue_tests::rss_kib;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

/// How long any awaited reply or echo may take before it counts as an error.
const DEADLINE: Duration = Duration::from_secs(10);

/// The sessions that type back exactly what they get.
const ECHO_SESSIONS: &[&str] = &["echo-0", "echo-1", "echo-2", "echo-3"];
/// Every session a worker may attach to.
const SESSIONS: &[&str] = &["echo-0", "echo-1", "echo-2", "echo-3", "steady", "shell"];

/// What the soak counts; shared by all workers.
#[derive(Default)]
struct Figures {
    connections: AtomicU64,
    attaches: AtomicU64,
    detaches: AtomicU64,
    hang_ups: AtomicU64,
    torn_frames: AtomicU64,
    control_requests: AtomicU64,
    sessions_cycled: AtomicU64,
    tokens_typed: AtomicU64,
    tokens_echoed: AtomicU64,
    bytes_received: AtomicU64,
    resyncs: AtomicU64,
    errors: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

impl Figures {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn error(&self, what: String) {
        Figures::add(&self.errors, 1);
        let mut first = self.first_errors.lock().unwrap_or_else(|e| e.into_inner());
        if first.len() < 10 {
            first.push(what);
        }
    }
}

/// xorshift64: deterministic per worker, so a seed replays the same choices.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

struct Args {
    server: PathBuf,
    minutes: f64,
    clients: usize,
    seed: u64,
}

fn parse_args() -> Args {
    let mut args = Args {
        server: PathBuf::from("target/release/fugue-server"),
        minutes: 3.0,
        clients: 16,
        seed: 0x5eed_f00d,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        let value = argv.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--server" => args.server = PathBuf::from(value),
            "--minutes" => args.minutes = value.parse().expect("--minutes: a number"),
            "--clients" => args.clients = value.parse().expect("--clients: a number"),
            "--seed" => args.seed = value.parse().expect("--seed: a number"),
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn main() -> std::process::ExitCode {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if runtime.block_on(soak(args)) {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

fn spec(name: &str, command: &[&str]) -> SessionSpec {
    SessionSpec {
        name: Some(name.to_owned()),
        command: command.iter().map(|arg| (*arg).to_owned()).collect(),
        cwd: None,
        env: vec![("PS1".into(), "$ ".into())],
        size: TermSize::DEFAULT,
        term: None,
    }
}

fn start_server(binary: &Path, socket: &Path, log: &Path) -> Child {
    let child = Command::new(binary)
        .arg("--socket")
        .arg(socket)
        .arg("--log-file")
        .arg(log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
    let started = Instant::now();
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        assert!(started.elapsed() < DEADLINE, "the server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

async fn connect(socket: &Path, role: Role) -> Result<(Client, Events), String> {
    let options = ConnectOptions::new(socket)
        .with_role(role)
        .with_client_name("soak");
    tokio::time::timeout(DEADLINE, Client::connect(&options))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|err| format!("connect: {err}"))
}

/// Runs the soak; true if nothing failed.
async fn soak(args: Args) -> bool {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("run").join("fugue.sock");
    let log = dir.path().join("server.log");
    let mut server = start_server(&args.server, &socket, &log);
    let pid = server.id();
    let (probe, _probe_events) = connect(&socket, Role::Control).await.expect("probe");
    for name in ECHO_SESSIONS {
        let spec = spec(name, &["sh", "-c", "stty raw -echo; exec cat"]);
        probe.create_session(spec).await.expect("create echo");
    }
    let steady = "while :; do seq 1 5000; sleep 0.2; done";
    probe
        .create_session(spec("steady", &["sh", "-c", steady]))
        .await
        .expect("create steady");
    probe
        .create_session(spec("shell", &["sh"]))
        .await
        .expect("create shell");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fds_before = fd_count(pid);
    let rss_before = rss_kib(pid);

    let figures = Arc::new(Figures::default());
    let deadline = Instant::now() + Duration::from_secs_f64(args.minutes * 60.0);
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..args.clients {
        let socket = socket.clone();
        let figures = figures.clone();
        let seed = args.seed.wrapping_add(worker as u64 * 0x9e37_79b9) | 1;
        workers.push(tokio::spawn(async move {
            let mut rng = Rng(seed);
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let outcome = match rng.below(20) {
                    0..=13 => episode(&socket, &figures, &mut rng, worker, n).await,
                    14..=16 => control(&socket, &figures, &mut rng).await,
                    17..=18 => torn_frame(&socket, &figures).await,
                    _ => cycle_session(&socket, &figures, worker, n).await,
                };
                if let Err(err) = outcome {
                    figures.error(format!("worker {worker}: {err}"));
                }
            }
        }));
    }
    for worker in workers {
        if worker.await.is_err() {
            figures.error("a worker panicked".into());
        }
    }
    let elapsed = started.elapsed();

    // Back to where it started: only the probe, the same descriptors.
    let settle = Instant::now();
    let mut clients = u32::MAX;
    while settle.elapsed() < DEADLINE {
        clients = probe
            .status()
            .await
            .map_or(u32::MAX, |status| status.clients);
        if clients == 1 && fd_count(pid) == fds_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fds_after = fd_count(pid);
    let rss_after = rss_kib(pid);
    let sessions = probe.list_sessions().await.map_or(0, |list| list.len());
    drop(probe);
    let server_pid = rustix::process::Pid::from_raw(pid as i32).expect("a pid");
    rustix::process::kill_process(server_pid, rustix::process::Signal::TERM)
        .expect("SIGTERM the server");
    let exit = server.wait().expect("wait for the server");

    let f = &*figures;
    let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    println!(
        "soak: {:.1} min, {} workers, seed {}",
        elapsed.as_secs_f64() / 60.0,
        args.clients,
        args.seed
    );
    println!("  connections          {}", get(&f.connections));
    println!("  attaches             {}", get(&f.attaches));
    println!("  detaches             {}", get(&f.detaches));
    println!("  hang-ups while attached {}", get(&f.hang_ups));
    println!("  torn frames          {}", get(&f.torn_frames));
    println!("  control requests     {}", get(&f.control_requests));
    println!("  sessions created+killed {}", get(&f.sessions_cycled));
    println!(
        "  tokens typed/echoed  {}/{}",
        get(&f.tokens_typed),
        get(&f.tokens_echoed)
    );
    println!("  bytes received       {}", get(&f.bytes_received));
    println!("  resyncs              {}", get(&f.resyncs));
    println!("  errors               {}", get(&f.errors));
    for error in f
        .first_errors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        println!("    {error}");
    }
    println!("  final client count   {clients} (the probe)");
    println!("  sessions at the end  {sessions}");
    println!("  server fds           {fds_before} before, {fds_after} after");
    println!("  server RSS           {rss_before} KiB before, {rss_after} KiB after");
    println!("  server exit          {exit}");
    let ok = get(&f.errors) == 0
        && clients == 1
        && fds_after == fds_before
        && sessions == SESSIONS.len()
        && get(&f.tokens_typed) == get(&f.tokens_echoed)
        && exit.success();
    println!("soak {}", if ok { "passed" } else { "FAILED" });
    ok
}

/// One client's visit: attach, act a few times, then detach or hang up.
async fn episode(
    socket: &Path,
    figures: &Arc<Figures>,
    rng: &mut Rng,
    worker: usize,
    n: u64,
) -> Result<(), String> {
    let role = if rng.below(3) == 0 {
        Role::ReadOnly
    } else {
        Role::Interactive
    };
    let (client, events) = connect(socket, role).await?;
    Figures::add(&figures.connections, 1);
    let session = rng.pick(SESSIONS);
    let size = TermSize {
        rows: 10 + rng.below(50) as u16,
        cols: 40 + rng.below(160) as u16,
    };
    tokio::time::timeout(DEADLINE, client.attach(session, size))
        .await
        .map_err(|_| format!("attach {session} timed out"))?
        .map_err(|err| format!("attach {session}: {err}"))?;
    Figures::add(&figures.attaches, 1);
    let (token_tx, token_rx) = mpsc::channel(4);
    let reader = tokio::spawn(read_events(events, token_rx, figures.clone()));
    for step in 0..1 + rng.below(8) {
        match rng.below(4) {
            0 if role == Role::Interactive && ECHO_SESSIONS.contains(&session) => {
                let token = format!("<w{worker}n{n}s{step}>");
                let (seen_tx, seen_rx) = oneshot::channel();
                token_tx
                    .send((token.clone(), seen_tx))
                    .await
                    .map_err(|_| "the reader stopped".to_owned())?;
                Figures::add(&figures.tokens_typed, 1);
                client
                    .send_input(Bytes::from(token.clone()))
                    .await
                    .map_err(|err| format!("input: {err}"))?;
                match tokio::time::timeout(DEADLINE, seen_rx).await {
                    Ok(Ok(())) => Figures::add(&figures.tokens_echoed, 1),
                    _ => return Err(format!("{token} typed into {session} never came back")),
                }
            }
            1 if role == Role::Interactive => {
                let size = TermSize {
                    rows: 10 + rng.below(50) as u16,
                    cols: 40 + rng.below(160) as u16,
                };
                client
                    .resize(size)
                    .await
                    .map_err(|err| format!("resize: {err}"))?;
            }
            _ => tokio::time::sleep(Duration::from_millis(10 + rng.below(300))).await,
        }
    }
    if rng.below(2) == 0 {
        let reason = tokio::time::timeout(DEADLINE, client.detach())
            .await
            .map_err(|_| "detach timed out".to_owned())?
            .map_err(|err| format!("detach: {err}"))?;
        if reason != DetachReason::Requested {
            return Err(format!("detach answered {reason:?}"));
        }
        Figures::add(&figures.detaches, 1);
    } else {
        Figures::add(&figures.hang_ups, 1);
    }
    drop(client);
    drop(token_tx);
    tokio::time::timeout(DEADLINE, reader)
        .await
        .map_err(|_| "the connection did not close".to_owned())?
        .map_err(|_| "the reader panicked".to_owned())
}

/// Consumes events, counting output and answering when an awaited token shows up in the
/// output (or in a resync's screen).
async fn read_events(
    mut events: Events,
    mut tokens: mpsc::Receiver<(String, oneshot::Sender<()>)>,
    figures: Arc<Figures>,
) {
    let mut awaited: Vec<(String, oneshot::Sender<()>)> = Vec::new();
    let mut recent: Vec<u8> = Vec::new();
    let mut tokens_open = true;
    loop {
        tokio::select! {
            token = tokens.recv(), if tokens_open => match token {
                Some(token) => awaited.push(token),
                None => tokens_open = false,
            },
            event = events.recv() => {
                let data = match event {
                    Some(Event::Output { data, .. }) => data,
                    Some(Event::Resync { snapshot, .. }) => {
                        Figures::add(&figures.resyncs, 1);
                        snapshot
                    }
                    Some(Event::Closed { .. }) | None => return,
                    Some(_) => continue,
                };
                Figures::add(&figures.bytes_received, data.len() as u64);
                recent.extend_from_slice(&data);
                let keep_from = recent.len().saturating_sub(64 * 1024);
                recent.drain(..keep_from);
                let text = String::from_utf8_lossy(&recent).into_owned();
                for (token, seen) in std::mem::take(&mut awaited) {
                    if text.contains(token.as_str()) {
                        let _ = seen.send(());
                    } else {
                        awaited.push((token, seen));
                    }
                }
            }
        }
    }
}

/// Requests that need no attachment.
async fn control(socket: &Path, figures: &Figures, rng: &mut Rng) -> Result<(), String> {
    let (client, _events) = connect(socket, Role::Control).await?;
    Figures::add(&figures.connections, 1);
    for _ in 0..1 + rng.below(4) {
        let session = rng.pick(SESSIONS);
        let request = async {
            match rng.below(4) {
                0 => client.list_sessions().await.map(drop),
                1 => client.status().await.map(drop),
                2 => client
                    .capture(session, CaptureFormat::Plain, 0)
                    .await
                    .map(drop),
                _ => client
                    .send_to_session("shell", Bytes::from_static(b"echo soak\r"))
                    .await
                    .map(drop),
            }
        };
        tokio::time::timeout(DEADLINE, request)
            .await
            .map_err(|_| "a control request timed out".to_owned())?
            .map_err(|err| format!("control request: {err}"))?;
        Figures::add(&figures.control_requests, 1);
    }
    Ok(())
}

/// Connects and hangs up in the middle of the Hello frame.
async fn torn_frame(socket: &Path, figures: &Figures) -> Result<(), String> {
    let mut stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|err| format!("raw connect: {err}"))?;
    stream
        .write_all(&[0, 0, 0, 20, 0, 2])
        .await
        .map_err(|err| format!("raw write: {err}"))?;
    Figures::add(&figures.torn_frames, 1);
    Ok(())
}

/// Creates a session and kills it again.
async fn cycle_session(
    socket: &Path,
    figures: &Figures,
    worker: usize,
    n: u64,
) -> Result<(), String> {
    let (client, _events) = connect(socket, Role::Control).await?;
    Figures::add(&figures.connections, 1);
    let name = format!("tmp-{worker}-{n}");
    let cycle = async {
        client
            .create_session(spec(&name, &["sh", "-c", "seq 1 100; exec cat"]))
            .await?;
        client.kill_session(&name).await
    };
    tokio::time::timeout(DEADLINE, cycle)
        .await
        .map_err(|_| format!("create and kill {name} timed out"))?
        .map_err(|err| format!("create and kill {name}: {err}"))?;
    Figures::add(&figures.sessions_cycled, 1);
    Ok(())
}
