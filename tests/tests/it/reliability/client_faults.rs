//! Client faults: a client killed with SIGKILL during heavy output, and one stopped with
//! SIGSTOP under heavy output for half the server's idle timeout.

use std::process::{Command, Stdio};
use std::time::Duration;

use fugue_protocol::{ClientMessage, Role, ServerMessage};
use fugue_tests::process::{self, ServerProcess};
use fugue_tests::tmux::{Fugue, TmuxTerm, assert_success, binaries, has_line, signal, stdout};
use fugue_tests::{EVENT_TIMEOUT, TestClient, wait_until};
use rustix::process::Signal;
use tokio::task::JoinHandle;

use super::{
    Seen, send_text, seq_text, shell_options, spawn_reader, status, temp_socket, wait_for_progress,
    wait_for_status,
};

/// The flood: this many bursts of [`BURST_LINES`] lines from `seq` (about 23 MB in all).
const BURSTS: u64 = 60;
const BURST_LINES: u64 = 50_000;
const FLOOD_LINES: u64 = BURSTS * BURST_LINES;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_an_attached_client_mid_flood_leaves_session_and_others_going() {
    let (_dir, socket) = temp_socket();
    let server = ServerProcess::start(&socket);
    let mut probe = TestClient::connect(&socket, Role::Control).await;
    // Bursts of 50,000 lines (under 0.5 MB) 50 ms apart: heavy, yet a rate a healthy
    // reader keeps up with on a loaded machine (a client's queue absorbs about 4 MiB).
    let command = format!(
        "read go; i=0; while [ $i -lt {BURSTS} ]; do \
         seq $((i*{BURST_LINES}+1)) $((i*{BURST_LINES}+{BURST_LINES})); sleep 0.05; \
         i=$((i+1)); done; echo FLOOD-DONE; read end"
    );
    let session = probe.create(Some("flood"), &["sh", "-c", &command]).await;
    let mut observer = TestClient::connect(&socket, Role::ReadOnly).await;
    assert!(matches!(
        observer.attach("flood").await,
        ServerMessage::Attached { .. }
    ));
    wait_for_status(&mut probe, "the observer is attached", |s| {
        s.clients == 2 && s.attached_clients == 1
    })
    .await;
    let fds_before = server.fd_count();

    // The victim: a real `fugue` client in its own process, attached and reading.
    let mut victim = Command::new(&binaries().fugue)
        .arg("--socket")
        .arg(&socket)
        .args(["wait", "flood", "--exit"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn fugue wait");
    wait_for_status(&mut probe, "the victim is attached", |s| {
        s.clients == 3 && s.attached_clients == 2
    })
    .await;

    let (reader, mut progress) = spawn_reader(observer, b"FLOOD-DONE\r\n", true);
    send_text(&mut probe, "flood", "go\r").await;
    wait_for_progress(&mut progress, 2 << 20).await;
    victim.kill().expect("kill -9 the victim");
    victim.wait().expect("reap the victim");
    let at_kill = *progress.borrow();

    wait_for_status(&mut probe, "the victim is unregistered", |s| {
        s.clients == 2 && s.attached_clients == 1
    })
    .await;
    wait_until("the server's fd count is back to its baseline", || {
        server.fd_count() == fds_before
    })
    .await;
    let (seen, _observer) = reader.await.expect("reader");
    let expected = format!("go\r\n{}FLOOD-DONE\r\n", seq_text(1, FLOOD_LINES));
    assert!(
        seen.n_bytes > at_kill,
        "the kill came after the flood had ended; nothing to prove"
    );
    assert!(
        seen.gaps.is_empty() && seen.resyncs == 0,
        "the observer missed output: {seen:?}"
    );
    assert!(
        seen.bytes == expected.as_bytes(),
        "the observer's {} bytes differ from the expected {}",
        seen.bytes.len(),
        expected.len()
    );
    // The session itself goes on.
    let listed = match probe
        .request(|request_id| ClientMessage::ListSessions { request_id })
        .await
    {
        ServerMessage::Sessions { sessions, .. } => sessions,
        other => panic!("expected Sessions, got {other:?}"),
    };
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(process::is_alive(session.pid));
}

/// The server's idle timeout in this test: a client silent for that long is dropped. The
/// stop lasts as long as the flood (seconds), well short of it.
const IDLE_TIMEOUT_SECS: u64 = 30;
/// The flood's first part: this many bursts of [`FLOOD_CHUNK`] bytes, a tenth of a second
/// apart. 20 MB is more than the stopped client's queue can hold (256 frames of at most
/// 64 KiB), so it must be marked lagging; the other client keeps up, the session pacing
/// itself to it.
const FLOOD_CHUNKS: usize = 20;
const FLOOD_CHUNK: usize = 1_000_000;
/// The flood's second part, once the stopped client lags: output during which the
/// server's memory must stay level.
const MORE_CHUNKS: usize = 10;
/// What the server may grow by for a stalled client: the output frames its queue pins
/// (64 KiB each), the 4 MiB replay ring, the screen model's backlog and a 1,000-line
/// scrollback of 120 columns, with room for the allocator.
const MAX_GROWTH_MIB: u64 = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_stopped_under_flood_recovers_while_server_memory_stays_bounded() {
    let world = Fugue::new();
    // A short scrollback keeps the screen model's share of memory small, so the bound
    // below is about what a stalled client can make the server hold.
    let mut options = shell_options();
    options.args = ["--scrollback", "1000", "--idle-timeout"]
        .map(String::from)
        .into_iter()
        .chain([IDLE_TIMEOUT_SECS.to_string()])
        .collect();
    let mut server = ServerProcess::start_with(world.socket(), options);
    let output = world.run(&["new", "-d", "-s", "flood"]);
    assert_success(&output, "fugue new -d");
    let term = world.terminal();
    let before = term.stty();
    // Under a shell of its own: the terminal's interactive shell would take the terminal
    // back from a stopped foreground job (job control), which is not what is tested here.
    let mut probe = TestClient::connect(world.socket(), Role::Control).await;
    let job = term.start_job("sh -c 'fugue attach flood; exit $?'");
    attached_in_terminal(&mut probe, &term).await;
    let mut observer = TestClient::connect(world.socket(), Role::ReadOnly).await;
    assert!(matches!(
        observer.attach("flood").await,
        ServerMessage::Attached { .. }
    ));
    let rss_before = server.rss_kib();
    let (reader, mut progress) = spawn_reader(observer, b"flood done\r\n", false);

    let stopped = fugue_client_under(term.shell_pid());
    signal(stopped, Signal::STOP);
    wait_until("the client is stopped", || {
        process::state(stopped) == Some('T')
    })
    .await;
    // The flood, a pause until the test says go, more flood, a clear screen and a last
    // line; `""` keeps the typed command from matching what the test waits for.
    let bursts = |n: usize| {
        format!(
            "i=0; while [ $i -lt {n} ]; do head -c {FLOOD_CHUNK} /dev/zero | tr '\\000' x; \
             sleep 0.1; i=$((i+1)); done"
        )
    };
    let flood = format!(
        "{}; read go; {}; printf '\\033[H\\033[2J'; echo flood\"\" done\r",
        bursts(FLOOD_CHUNKS),
        bursts(MORE_CHUNKS)
    );
    send_text(&mut probe, "flood", &flood).await;
    // The first part is more than the stopped client's queue and the replay ring hold: by
    // its end the client is cut loose and the ring is full.
    wait_for_progress(&mut progress, FLOOD_CHUNKS * FLOOD_CHUNK).await;
    let cut_loose = wait_for_status(&mut probe, "the stopped client lags", |status| {
        status.lag_events >= 1
    })
    .await;
    drop(cut_loose);
    // From here on, more output must not grow the server.
    let level = server.rss_kib();
    send_text(&mut probe, "flood", "\r").await;
    let ((seen, _observer), peak) = sample_rss_until_done(&server, stopped, reader).await;
    let lagged = status(&mut probe).await;
    signal(stopped, Signal::CONT);

    let growth_mib = peak.max(level).saturating_sub(rss_before) / 1024;
    let creep_mib = peak.saturating_sub(level) / 1024;
    eprintln!(
        "server RSS {rss_before} KiB before the stop, {level} KiB after the first \
         {FLOOD_CHUNKS} MB; peak growth {growth_mib} MiB, {creep_mib} MiB of it in the \
         last {MORE_CHUNKS} MB"
    );
    assert!(
        growth_mib < MAX_GROWTH_MIB,
        "server memory grew by {growth_mib} MiB for a stopped client"
    );
    assert!(
        creep_mib < 4,
        "server memory kept growing with the output: {creep_mib} MiB in the last part"
    );
    let flood_bytes = (FLOOD_CHUNKS + MORE_CHUNKS) * FLOOD_CHUNK;
    assert!(
        seen.n_bytes >= flood_bytes && seen.gaps.is_empty() && seen.resyncs == 0,
        "the other client missed output: {seen:?}"
    );
    assert_eq!(
        lagged.clients,
        3,
        "the stopped client was dropped: {lagged:?}\nits terminal:\n{}\nserver log:\n{}",
        term.capture(),
        server.log_tail()
    );

    // The stopped client catches up with one fresh screen: what the session shows.
    let screen = term.wait_for("the resynced screen", |screen| {
        has_line(screen, "flood done") && !screen.contains("xxxxxxxx")
    });
    let captured = world.run(&["capture", "flood"]);
    assert_success(&captured, "fugue capture");
    assert_eq!(
        trimmed_lines(&screen),
        trimmed_lines(&stdout(&captured)),
        "the recovered client's screen is the session's"
    );
    // And its terminal is usable.
    term.send_line(r#"echo usable"" after stop"#);
    term.wait_for_line("usable after stop");
    term.press_detach_key();
    term.wait_for_line("[detached from flood]");
    assert_eq!(term.exit_code(job), 0);
    assert_eq!(term.stty(), before);
    server.signal(Signal::TERM);
    assert!(server.wait_exit(EVENT_TIMEOUT).success());
}

/// Samples the server's RSS until `reader` has seen the whole flood, checking that the
/// client stays stopped; returns what the reader saw (and its client, still connected)
/// and the highest RSS.
async fn sample_rss_until_done(
    server: &ServerProcess,
    stopped: u32,
    mut reader: JoinHandle<(Seen, TestClient)>,
) -> ((Seen, TestClient), u64) {
    let mut peak = 0;
    let sampling = async {
        loop {
            peak = peak.max(server.rss_kib());
            assert_eq!(
                process::state(stopped),
                Some('T'),
                "the client stays stopped"
            );
            tokio::select! {
                done = &mut reader => return done.expect("reader"),
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    };
    let seen = tokio::time::timeout(EVENT_TIMEOUT, sampling)
        .await
        .expect("the observer sees the whole flood");
    (seen, peak)
}

/// Waits until the `fugue attach` typed in `term` is attached (the server says so) and
/// shows the session's prompt.
pub(super) async fn attached_in_terminal(probe: &mut TestClient, term: &TmuxTerm<'_>) {
    wait_for_status(probe, "the terminal's client is attached", |s| {
        s.clients_by_role
            .iter()
            .any(|(role, n)| role == "interactive" && *n == 1)
            && s.attached_clients == 1
    })
    .await;
    term.wait_for("the session's prompt", |screen| {
        !screen.contains("fugue attach") && screen.trim_end().ends_with('$')
    });
}

/// The `fugue` process among the grandchildren of `shell`.
fn fugue_client_under(shell: u32) -> u32 {
    let found: Vec<u32> = process::children(shell)
        .into_iter()
        .flat_map(process::children)
        .filter(|&pid| process::name(pid).as_deref() == Some("fugue"))
        .collect();
    match found[..] {
        [pid] => pid,
        _ => panic!("expected one fugue client under the shell, found {found:?}"),
    }
}

/// Rows with trailing blanks trimmed, trailing empty rows dropped.
fn trimmed_lines(screen: &str) -> Vec<String> {
    let mut lines: Vec<String> = screen.lines().map(|l| l.trim_end().to_owned()).collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}
