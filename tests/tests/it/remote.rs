//! Remote sessions: `fugue -H ssh://…` through a real OpenSSH server on 127.0.0.1 (the
//! "remote" side is this machine, as the same user, with its own `fugue proxy`).

use std::process::Output;
use std::time::Duration;

use fugue_client::REMOTE_SILENCE_LIMIT;
use fugue_tests::EVENT_TIMEOUT;
use fugue_tests::poll::poll_blocking;
use fugue_tests::sshd::{Sshd, ssh_children};
use fugue_tests::tmux::{
    Fugue, TmuxTerm, assert_success, finish, has_line, json_number, poll_until, signal, stderr,
    stdout,
};
use rustix::process::Signal;

/// `fugue -H <sshd> ARGS`, through `ssh_command`.
fn remote_with(fugue: &Fugue, sshd: &Sshd, ssh_command: &str, args: &[&str]) -> Output {
    let url = sshd.url();
    let mut all = vec!["-H", url.as_str()];
    all.extend_from_slice(args);
    let child = fugue
        .command(&all)
        .env("FUGUE_SSH_COMMAND", ssh_command)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn fugue");
    finish(child, &format!("fugue -H {}", args.join(" ")))
}

fn remote(fugue: &Fugue, sshd: &Sshd, args: &[&str]) -> Output {
    remote_with(fugue, sshd, &sshd.ssh_command(), args)
}

/// A session that prints `n1` … `nLAST`, slowly enough to drop the link in the middle,
/// then `done` (and stays).
fn start_counter(fugue: &Fugue, sshd: &Sshd, last: u32) {
    let script = format!(
        "for i in $(seq 1 {last}); do echo n$i; sleep 0.02; done; echo done; exec sleep 600"
    );
    let output = remote(
        fugue,
        sshd,
        &["new", "-d", "-s", "counter", "--", "sh", "-c", &script],
    );
    assert_success(&output, "fugue -H new -d");
}

/// Attaches to the counter through ssh in `term`; returns the client's pid.
fn attach_counter(term: &TmuxTerm<'_>, sshd: &Sshd) -> u32 {
    term.send_line(&format!(
        "FUGUE_SSH_COMMAND='{}' fugue -H {} attach counter; echo \"exit-attach=$?\"",
        sshd.ssh_command(),
        sshd.url()
    ));
    term.wait_for("the counter", |screen| screen.contains("n10"));
    term.client_pid()
}

/// The client's one ssh, once it has one.
fn ssh_of(client: u32) -> u32 {
    let mut found = Vec::new();
    poll_until("the client to run ssh", || {
        found = ssh_children(client);
        found.len() == 1
    });
    found[0]
}

/// Waits up to `limit` until `client` runs an ssh other than `old`: it reconnected.
fn wait_for_new_ssh(term: &TmuxTerm<'_>, client: u32, old: u32, limit: Duration) {
    let resumed = poll_blocking(limit, Duration::from_millis(50), || {
        let new = ssh_children(client).iter().any(|&pid| pid != old);
        if new { Ok(()) } else { Err(()) }
    });
    assert!(
        resumed.is_ok(),
        "no new ssh within {limit:?}:\n{}",
        term.capture()
    );
}

/// Every `nK` the terminal ever showed (scrollback too) is there exactly once, in order,
/// from 1 to `last`.
fn assert_every_number_once(term: &TmuxTerm<'_>, last: u32) {
    let history = term.capture_history();
    let numbers: Vec<u32> = history
        .lines()
        .filter_map(|line| line.trim_end().strip_prefix('n')?.parse().ok())
        .collect();
    let expected: Vec<u32> = (1..=last).collect();
    assert_eq!(numbers, expected, "the terminal's history:\n{history}");
    // A status line shown meanwhile was taken away without a trace.
    assert!(
        !history.contains("[no word from") && !history.contains("[reconnecting"),
        "{history}"
    );
}

#[test]
fn host_flag_runs_ls_new_send_and_capture_through_ssh() {
    let fugue = Fugue::new();
    let sshd = Sshd::start(&fugue);
    let created = remote(&fugue, &sshd, &["new", "-d", "-s", "far", "--", "sh"]);
    assert_success(&created, "fugue -H new -d");
    assert_eq!(stdout(&created).trim(), "far");
    // The server the proxy started is this world's: a local ls sees the session.
    assert!(stdout(&fugue.run(&["ls"])).contains("far"));
    let listed = remote(&fugue, &sshd, &["ls", "--json"]);
    assert!(
        stdout(&listed).contains("\"name\": \"far\""),
        "{}",
        stdout(&listed)
    );
    send_and_see(&fugue, &sshd, "echo remote-$((6*7))", "remote-42");
    // Without -c it started in the home directory there, as ssh lands.
    let check = r#"[ "$PWD" = "$HOME" ] && echo at-home"#;
    send_and_see(&fugue, &sshd, check, "at-home");
}

/// Types `line` into the remote session `far` with `fugue -H send`, then waits until
/// `fugue -H capture` shows a row reading `seen`.
fn send_and_see(fugue: &Fugue, sshd: &Sshd, line: &str, seen: &str) {
    let sent = remote(fugue, sshd, &["send", "far", "--enter", line]);
    assert_success(&sent, "fugue -H send");
    poll_until(&format!("a row `{seen}` through ssh"), || {
        let captured = remote(fugue, sshd, &["capture", "far"]);
        stdout(&captured).lines().any(|row| row.trim_end() == seen)
    });
}

/// The automation commands work through ssh as they do here: `run` (exact output and
/// status), `wait --after` a position `send --json` gave, and `events`.
#[test]
fn run_wait_and_events_work_through_ssh() {
    let fugue = Fugue::new();
    let sshd = Sshd::start(&fugue);
    let created = remote(&fugue, &sshd, &["new", "-d", "-s", "auto", "--", "bash"]);
    assert_success(&created, "fugue -H new -d");
    let ran = remote(
        &fugue,
        &sshd,
        &["run", "auto", "--", "echo far-$((2+3)); false"],
    );
    assert_eq!(ran.status.code(), Some(1), "{}", stderr(&ran));
    assert_eq!(stdout(&ran), "far-5\n");
    let sent = remote(
        &fugue,
        &sshd,
        &["send", "auto", "--enter", "--json", "echo mark-$((7*6))"],
    );
    assert_success(&sent, "fugue -H send --json");
    let seq = json_number(&stdout(&sent), "seq")
        .expect("a position")
        .to_string();
    let waited = remote(
        &fugue,
        &sshd,
        &[
            "wait",
            "auto",
            "--for",
            "^mark-42",
            "--after",
            &seq,
            "--timeout",
            "10",
        ],
    );
    assert_success(&waited, "fugue -H wait --after");
    // Events: a rename made locally shows through ssh.
    let url = sshd.url();
    let mut events = fugue
        .command(&["-H", url.as_str(), "events", "--json"])
        .env("FUGUE_SSH_COMMAND", sshd.ssh_command())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn fugue events");
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    let stdout = events.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    poll_until("a rename through the events stream", || {
        // A rename before the subscription is missed; try until one comes through.
        assert_success(&fugue.run(&["rename", "auto", "auto2"]), "rename");
        assert_success(&fugue.run(&["rename", "auto2", "auto"]), "rename back");
        // Lines of this round or an earlier one (the poll paces the rounds).
        line_rx.try_iter().any(|line| line.contains("\"renamed\""))
    });
    let _ = events.kill();
    let _ = events.wait();
}

#[test]
fn refused_login_and_missing_fugue_are_clear_errors_not_retries() {
    let fugue = Fugue::new();
    let sshd = Sshd::start(&fugue);
    let refused = remote_with(&fugue, &sshd, &sshd.stranger_command(), &["ls"]);
    assert_eq!(refused.status.code(), Some(1));
    let message = stderr(&refused);
    assert!(
        message.contains("ssh to 127.0.0.1 failed") && message.contains("Permission denied"),
        "{message}"
    );
    let empty = fugue.dir().join("no-fugue-here");
    std::fs::create_dir(&empty).unwrap();
    let bare = Sshd::start_with_path(&fugue, &empty);
    let missing = remote(&fugue, &bare, &["ls"]);
    assert_eq!(missing.status.code(), Some(1));
    let message = stderr(&missing);
    assert!(
        message.contains("cannot run fugue on 127.0.0.1") && message.contains("PATH"),
        "{message}"
    );
    let bad = fugue.run(&["-H", "ssh://-oProxyCommand=x", "ls"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn attached_client_resumes_every_line_after_ssh_is_killed() {
    let fugue = Fugue::new();
    let sshd = Sshd::start(&fugue);
    start_counter(&fugue, &sshd, 400);
    let term = fugue.terminal();
    let client = attach_counter(&term, &sshd);
    let first = ssh_of(client);
    signal(first, Signal::KILL);
    wait_for_new_ssh(&term, client, first, EVENT_TIMEOUT);
    term.wait_for_line("done");
    assert_every_number_once(&term, 400);
    // Still attached after all: the detach key detaches, exit 0.
    term.press_detach_key();
    term.wait_for_line("exit-attach=0");
}

#[test]
fn attached_client_resumes_after_sshd_drops_the_connection() {
    let fugue = Fugue::new();
    let sshd = Sshd::start(&fugue);
    start_counter(&fugue, &sshd, 400);
    let term = fugue.terminal();
    let client = attach_counter(&term, &sshd);
    let first = ssh_of(client);
    for pid in sshd.connection_pids() {
        signal(pid, Signal::KILL);
    }
    wait_for_new_ssh(&term, client, first, EVENT_TIMEOUT);
    term.wait_for_line("done");
    assert_every_number_once(&term, 400);
}

#[test]
fn a_stalled_link_is_given_up_and_resumed_past_the_idle_timeout() {
    let fugue = Fugue::new();
    // The server the proxy starts drops a silent client after 2 s.
    std::fs::write(
        fugue.dir().join("config.toml"),
        "[server]\nidle_timeout = 2\n",
    )
    .unwrap();
    let sshd = Sshd::start(&fugue);
    start_counter(&fugue, &sshd, 1500);
    let term = fugue.terminal();
    let client = attach_counter(&term, &sshd);
    let stalled = Stalled(ssh_of(client));
    signal(stalled.0, Signal::STOP);
    term.wait_for("the silence shown", |screen| {
        screen.contains("[no word from 127.0.0.1 for ")
    });
    // Longer than the idle timeout and the client's silence limit (20 s): a new ssh comes,
    // and the counter, still running, is followed to its end.
    let limit = REMOTE_SILENCE_LIMIT * 2;
    wait_for_new_ssh(&term, client, stalled.0, limit);
    let done = poll_blocking(limit, Duration::from_millis(100), || {
        let screen = term.capture();
        if has_line(&screen, "done") {
            Ok(())
        } else {
            Err(screen)
        }
    });
    assert!(done.is_ok(), "the counter did not end: {done:?}");
    assert_every_number_once(&term, 1500);
}

/// Typing while the link is down is held, sent once on the new connection, and counted
/// on the status line.
#[test]
fn typing_while_the_link_is_down_is_held_and_sent_once() {
    let fugue = Fugue::new();
    let mut sshd = Sshd::start(&fugue);
    let script = "stty -echo; echo n10; exec cat";
    let output = remote(
        &fugue,
        &sshd,
        &["new", "-d", "-s", "counter", "--", "sh", "-c", script],
    );
    assert_success(&output, "fugue -H new -d");
    let term = fugue.terminal();
    let client = attach_counter(&term, &sshd);
    sshd.stop_listening();
    signal(ssh_of(client), Signal::KILL);
    term.wait_for("the status line", |screen| {
        screen.contains("[reconnecting to 127.0.0.1… ")
    });
    term.send_line("typed-while-down");
    term.wait_for("the held typing counted", |screen| {
        screen.contains("typing held: 17 bytes")
    });
    sshd.listen_again();
    term.wait_for_line("typed-while-down");
    // Once only, and the session still takes typing.
    term.send_line("after");
    term.wait_for_line("after");
    let history = term.capture_history();
    assert_eq!(history.matches("typed-while-down").count(), 1, "{history}");
    assert!(!history.contains("[reconnecting"), "{history}");
}

/// A stopped ssh: continued and killed whatever happens to the test.
struct Stalled(u32);

impl Drop for Stalled {
    fn drop(&mut self) {
        signal(self.0, Signal::KILL);
        signal(self.0, Signal::CONT);
    }
}

#[test]
fn detach_key_works_while_reconnecting_and_a_refused_login_ends_it() {
    let fugue = Fugue::new();
    let mut sshd = Sshd::start(&fugue);
    start_counter(&fugue, &sshd, 100_000);
    let term = fugue.terminal();
    let client = attach_counter(&term, &sshd);
    // Nothing listens any more: every attempt fails, and the status line says so.
    sshd.stop_listening();
    signal(ssh_of(client), Signal::KILL);
    term.wait_for("the status line", |screen| {
        screen.contains("[reconnecting to 127.0.0.1… ")
    });
    term.press_detach_key();
    term.wait_for_line("exit-attach=0");
    assert!(term.capture().contains("[detached from counter]"));

    // A login refused while reconnecting is final: the client ends, exit 3.
    let sshd = Sshd::start(&fugue);
    let term = fugue.terminal();
    let client = attach_counter(&term, &sshd);
    sshd.refuse_user_key();
    signal(ssh_of(client), Signal::KILL);
    term.wait_for_line("exit-attach=3");
    assert!(
        term.capture().contains("Permission denied"),
        "{}",
        term.capture()
    );
}

/// A remote server outside the protocol range is named as such, with this fugue's version.
#[test]
fn a_remote_server_of_another_version_is_a_clear_error() {
    let fugue = Fugue::new();
    let socket = fugue.socket();
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let mut other = std::process::Command::new(env!("CARGO_BIN_EXE_other-version-server"))
        .arg(socket)
        .spawn()
        .expect("start the stand-in server");
    poll_until("the stand-in listens", || {
        std::os::unix::net::UnixStream::connect(socket).is_ok()
    });
    let sshd = Sshd::start(&fugue);
    let refused = remote(&fugue, &sshd, &["ls"]);
    let _ = other.kill();
    let _ = other.wait();
    assert_eq!(refused.status.code(), Some(1));
    let message = stderr(&refused);
    let this = format!("this is fugue {}", env!("CARGO_PKG_VERSION"));
    assert!(
        message.contains("fugue on 127.0.0.1 is another version")
            && message.contains("protocol version mismatch")
            && message.contains(&this),
        "{message}"
    );
}
