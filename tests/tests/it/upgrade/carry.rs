//! What an upgrade carries over: programs (same pids, still the server's children),
//! sessions (same ids, screens and scrollback), attached clients (every byte exactly once,
//! no redraw), waiters, and connections made while it happens.

use std::path::Path;

use bytes::Bytes;
use fugue_protocol::{ClientMessage, ExitStatus, Role, ServerMessage, TermSize};
use fugue_tests::process::ServerProcess;
use fugue_tests::screen::Terminal;
use fugue_tests::tmux::{Fugue, assert_success, finish, json_number, stdout};
use fugue_tests::{EVENT_TIMEOUT, TestClient};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{capture, exe_of, script, server_copy, sessions, upgrade};

/// Numbers the counter prints, one line each (`n1`, `n2`, ...), a few milliseconds apart.
const COUNT: usize = 1200;

/// Waits for a line, prints `n1`..`n{COUNT}`, then waits for a line and exits with
/// status 7.
fn counter() -> String {
    format!(
        "read go; i=0; while [ $i -lt {COUNT} ]; do i=$((i+1)); echo n$i; sleep 0.002; done; \
         read x; exit 7"
    )
}

/// Types a line into `session`.
pub(super) async fn send_line(control: &mut TestClient, session: &str) {
    let session = session.to_owned();
    control
        .request(|request_id| ClientMessage::SendInput {
            request_id,
            session,
            data: Bytes::from_static(b"\r"),
        })
        .await;
}

/// What a client attached to the counter saw.
#[derive(Debug, Default)]
struct Seen {
    bytes: Vec<u8>,
    /// Jumps in sequence numbers: (last, next).
    gaps: Vec<(u64, u64)>,
    resyncs: usize,
    exit: Option<ExitStatus>,
}

/// Attaches a client of `role` to `session` and reads it until it is detached; the watch
/// counts output bytes as they come.
async fn read_counter(socket: &Path, role: Role) -> (JoinHandle<Seen>, watch::Receiver<usize>) {
    let mut client = TestClient::connect(socket, role).await;
    let attached = client.attach("count").await;
    let ServerMessage::Attached { seq, .. } = attached else {
        panic!("{attached:?}")
    };
    let (progress, watcher) = watch::channel(0);
    let task = tokio::spawn(async move {
        let mut seen = Seen::default();
        let mut last = seq;
        loop {
            match client.next().await.expect("open until detached") {
                ServerMessage::Output { seq, data, .. } => {
                    if seq != last + 1 {
                        seen.gaps.push((last, seq));
                    }
                    last = seq;
                    seen.bytes.extend_from_slice(&data);
                    let _ = progress.send(seen.bytes.len());
                }
                ServerMessage::Resync { .. } => seen.resyncs += 1,
                ServerMessage::SessionExited { status, .. } => seen.exit = Some(status),
                ServerMessage::Detached { .. } => return seen,
                _ => {}
            }
        }
    });
    (task, watcher)
}

/// The counter's numbers in the order they were printed.
fn numbers(bytes: &[u8]) -> Vec<usize> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|line| line.trim_end().strip_prefix('n')?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_upgrades_carry_programs_sessions_clients_and_waiters_over() {
    let world = Fugue::new();
    let server = ServerProcess::start(world.socket());
    let mut control = TestClient::connect(world.socket(), Role::Control).await;
    let still =
        "printf '\\033]2;a title\\007\\033[1;31mred\\033[m and plain\\n'; seq 1 60; exec cat";
    control.create(Some("still"), &["sh", "-c", still]).await;
    control
        .create(Some("count"), &["sh", "-c", &counter()])
        .await;
    let (first, mut progress) = read_counter(world.socket(), Role::Interactive).await;
    let (second, _) = read_counter(world.socket(), Role::ReadOnly).await;
    let waiter = world.spawn(&["wait", "count", "--exit"]);
    let first_fds = descriptors(&mut control, "fds-before").await;
    let listed = sessions(&mut control).await;
    let screen = capture(&mut control, "still").await;
    send_line(&mut control, "count").await;
    for round in 1..=3 {
        // Each upgrade lands while the counter prints.
        let lines = round * COUNT / 4;
        let wanted = format!("n{lines}\r\n").len() * lines;
        tokio::time::timeout(EVENT_TIMEOUT, progress.wait_for(|&n| n >= wanted))
            .await
            .expect("the counter prints")
            .expect("the reader runs");
        let binary = server_copy(world.dir(), &format!("fugue-server-{round}"));
        let output = upgrade(&world, &binary);
        assert_success(&output, "fugue upgrade");
        let report = stdout(&output);
        assert_eq!(json_number(&report, "sessions"), Some(3), "{report}");
        assert!(json_number(&report, "clients") >= Some(4), "{report}");
        assert_eq!(
            exe_of(server.pid()),
            binary,
            "the same process runs the new binary"
        );
        assert_eq!(
            sessions(&mut control).await,
            listed,
            "same ids, names and pids"
        );
        assert_eq!(capture(&mut control, "still").await, screen, "same screen");
    }
    // The program is still the server's child: its exit status reaches everyone.
    send_line(&mut control, "count").await;
    for (name, reader) in [("interactive", first), ("read-only", second)] {
        let seen = tokio::time::timeout(EVENT_TIMEOUT, reader)
            .await
            .expect("the client is detached in time")
            .expect("reader");
        let got = numbers(&seen.bytes);
        let expected: Vec<usize> = (1..=COUNT).collect();
        if let Some(at) = (0..expected.len()).find(|&at| got.get(at) != expected.get(at)) {
            let around = &got[at.saturating_sub(3)..(at + 3).min(got.len())];
            panic!("{name}: number {} is followed by {around:?}", at + 1);
        }
        assert_eq!(got.len(), COUNT, "{name}: nothing after the last number");
        assert_eq!((seen.gaps.len(), seen.resyncs), (0, 0), "{name}: {seen:?}");
        assert_eq!(seen.exit, Some(ExitStatus::Code { code: 7 }), "{name}");
    }
    let waited = finish(waiter, "fugue wait --exit");
    assert_eq!(waited.status.code(), Some(7), "{}", stdout(&waited));
    // Nothing that crossed the exec leaks into a program the new server starts: it has
    // the descriptors a program of the first server had.
    assert_eq!(descriptors(&mut control, "fds-after").await, first_fds);
}

/// The descriptors a new session's program has open, as it lists them itself (the shell's
/// own handle on the listing included).
async fn descriptors(control: &mut TestClient, name: &str) -> String {
    let list = "cd /proc/self/fd && echo fds: * end; exec cat";
    control.create(Some(name), &["sh", "-c", list]).await;
    let shown = fugue_tests::poll::poll(async || {
        let (text, _) = capture(control, name).await;
        match text.lines().find(|line| line.contains("end")) {
            Some(line) => Ok(line.to_owned()),
            None => Err(text),
        }
    })
    .await;
    shown.expect("the program listed its descriptors")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vim_is_restored_cell_for_cell_and_keeps_working_after_an_upgrade() {
    let world = Fugue::new();
    let server = ServerProcess::start(world.socket());
    let file = world.dir().join("notes.txt");
    std::fs::write(&file, "first line\nsecond line\n").expect("write file");
    let mut driver = TestClient::connect(world.socket(), Role::Interactive).await;
    let path = file.to_str().expect("UTF-8 path");
    driver
        .create(Some("vim"), &["vim", "-u", "NONE", "-N", path])
        .await;
    let mut screen = Terminal::new(TermSize::DEFAULT);
    screen.apply(&driver.attach("vim").await);
    follow(&mut driver, &mut screen, |text| {
        text.contains("second line")
    })
    .await;
    driver.send(fugue_tests::input("Gotyped before\x1b")).await;
    // Drawn by vim (the terminal's own echo of the keys shows no file line), out of insert
    // mode: the screen no longer changes.
    follow(&mut driver, &mut screen, |text| {
        text.contains("first line") && text.contains("typed before") && !text.contains("INSERT")
    })
    .await;
    let before = fresh_screen(world.socket()).await;
    let output = upgrade(&world, &server_copy(world.dir(), "fugue-server-next"));
    assert_success(&output, "fugue upgrade");
    assert_eq!(
        fresh_screen(world.socket()).await,
        before,
        "restored cell for cell"
    );
    driver.send(fugue_tests::input("oafter\x1b:wq\r")).await;
    let mut exit = None;
    loop {
        match driver.next().await.expect("open until detached") {
            ServerMessage::SessionExited { status, .. } => exit = Some(status),
            ServerMessage::Detached { .. } => break,
            _ => {}
        }
    }
    assert_eq!(
        exit,
        Some(ExitStatus::Code { code: 0 }),
        "vim quit normally"
    );
    let saved = std::fs::read_to_string(&file).expect("read file");
    assert_eq!(saved, "first line\nsecond line\ntyped before\nafter\n");
    drop(server);
}

/// Applies `client`'s output to `screen` until its text satisfies `done`.
async fn follow(client: &mut TestClient, screen: &mut Terminal, done: impl Fn(&str) -> bool) {
    while !done(&screen.contents()) {
        let msg = client.next().await.expect("open");
        screen.apply(&msg);
    }
}

/// The screen a client attaching now is shown, cell by cell.
async fn fresh_screen(socket: &Path) -> String {
    let mut viewer = TestClient::connect(socket, Role::ReadOnly).await;
    let mut term = Terminal::new(TermSize::DEFAULT);
    term.apply(&viewer.attach("vim").await);
    term.digest()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_made_during_the_handoff_is_served_by_the_new_server() {
    let world = Fugue::new();
    let server = ServerProcess::start(world.socket());
    // A new binary that takes its time to start, so that the handoff lasts.
    let real = server_copy(world.dir(), "fugue-server-real");
    let body = format!(
        "[ \"$1\" = --handoff-probe ] || sleep 1\nexec {} \"$@\"",
        real.display()
    );
    let slow = script(world.dir(), "fugue-server-slow", &body);
    let mut control = TestClient::connect(world.socket(), Role::Control).await;
    control.create(Some("kept"), &["cat"]).await;
    let upgrading = world.spawn(&["upgrade", "--server-binary", slow.to_str().expect("UTF-8")]);
    // The old server has handed over once its process runs the script's shell.
    let shell = std::fs::canonicalize("/bin/sh").expect("/bin/sh");
    fugue_tests::wait_until("the handoff is under way", || {
        std::fs::canonicalize(exe_of(server.pid())).ok().as_ref() == Some(&shell)
    })
    .await;
    // Nobody accepts now: the connection waits in the listener's backlog.
    let mut late = TestClient::connect(world.socket(), Role::Control).await;
    let listed = sessions(&mut late).await;
    assert_eq!(listed.len(), 1);
    assert_success(&finish(upgrading, "fugue upgrade"), "fugue upgrade");
    assert_eq!(exe_of(server.pid()), real);
}
