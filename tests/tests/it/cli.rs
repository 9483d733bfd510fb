//! The `fugue` command line end to end: the real binaries, typed into a real terminal
//! (tmux) or run as a script would, each test with its own server and its own tmux.
//!
//! Typed commands spell their expected output with an empty `""` inside (`echo a""b`
//! prints `ab`), so the echoed command line never matches what a test waits for.

use std::time::{Duration, Instant};

use fugue_tests::tmux::{
    Fugue, PROMPT, TmuxTerm, assert_success, find_program, finish, has_line, json_number,
    poll_until, signal, stderr, stdout,
};
use rustix::process::Signal;

/// The exit code `fugue` uses when the server went away during an attach.
const EXIT_SERVER_GONE: i32 = 3;

/// Creates a session running `command` (the default shell if empty) without attaching.
fn new_detached(fugue: &Fugue, name: &str, command: &[&str]) {
    let mut args = vec!["new", "-d", "-s", name];
    if !command.is_empty() {
        args.push("--");
        args.extend_from_slice(command);
    }
    let output = fugue.run(&args);
    assert_success(&output, "fugue new -d");
    assert_eq!(stdout(&output).trim(), name, "`new -d` prints the name");
}

/// Waits, as a script would, until the session's screen ends with a bare prompt.
fn wait_for_session_prompt(fugue: &Fugue, name: &str) {
    let output = fugue.run(&["wait", name, "--for", r"^\$ ?\z", "--timeout", "15"]);
    assert_success(&output, "fugue wait --for prompt");
}

/// Whether the last non-empty row of `screen` is a bare prompt.
fn ends_with_prompt(screen: &str) -> bool {
    screen.lines().rev().find(|line| !line.trim().is_empty()) == Some(PROMPT.trim_end())
}

/// Types `command` (which attaches) as a job and waits until the session's screen has
/// replaced the shell's and shows a prompt.
fn attach_shell(term: &TmuxTerm<'_>, command: &str) -> fugue_tests::tmux::Job {
    let job = term.start_job(command);
    term.wait_for(&format!("`{command}` to attach to a shell"), |screen| {
        !screen.contains(command) && ends_with_prompt(screen)
    });
    job
}

/// The sessions `fugue ls --json` reports, as raw JSON text.
fn ls_json(fugue: &Fugue) -> String {
    let output = fugue.run(&["ls", "--json"]);
    assert_success(&output, "fugue ls --json");
    stdout(&output)
}

#[test]
fn typed_command_output_appears_in_a_new_session() {
    let fugue = Fugue::new();
    let term = fugue.terminal();
    attach_shell(&term, "fugue new -s work");
    term.send_line(r#"echo "hello from $FUGUE_SESSION""#);
    term.wait_for_line("hello from work");
}

#[test]
fn detach_key_reports_the_session_and_leaves_it_listed() {
    let fugue = Fugue::new();
    let term = fugue.terminal();
    let job = attach_shell(&term, "fugue new -s work");
    term.press_detach_key();
    term.wait_for_line("[detached from work]");
    assert_eq!(term.exit_code(job), 0);

    let output = term.run_fugue(&["ls"]);
    assert_success(&output, "fugue ls");
    let listing = stdout(&output);
    let row = listing
        .lines()
        .find(|line| line.split_whitespace().next() == Some("work"))
        .unwrap_or_else(|| panic!("no row for work in:\n{listing}"));
    assert_eq!(
        row.split_whitespace().nth(3),
        Some("0"),
        "no clients: {row}"
    );
}

#[test]
fn reattach_repaints_the_earlier_output() {
    let fugue = Fugue::new();
    let term = fugue.terminal();
    attach_shell(&term, "fugue new -s work");
    term.send_line(r#"echo before"" detach"#);
    term.wait_for_line("before detach");
    term.press_detach_key();
    term.wait_for_line("[detached from work]");
    // Wipe the local screen, so only a repaint can bring the session's output back.
    term.send_line(r"printf '\033[H\033[2J'");
    term.wait_for("the screen to clear", |screen| {
        !has_line(screen, "before detach") && ends_with_prompt(screen)
    });

    term.start_job("fugue attach work");
    term.wait_for_line("before detach");
    term.send_line(r#"echo after"" reattach"#);
    let screen = term.wait_for_line("after reattach");
    assert!(has_line(&screen, "before detach"), "{screen}");
}

#[test]
fn program_exit_status_becomes_the_client_exit_status() {
    let fugue = Fugue::new();
    let term = fugue.terminal();
    let job = term.start_job(r#"fugue new -s seven -- sh -c 'echo wait""ing; read line; exit 7'"#);
    term.wait_for_line("waiting");
    term.send_raw(&["Enter"]);
    term.wait_for_line("[seven exited with status 7]");
    assert_eq!(term.exit_code(job), 7);

    let job = attach_shell(&term, "fugue new -s nine");
    term.send_line("exit 9");
    term.wait_for_line("[nine exited with status 9]");
    assert_eq!(term.exit_code(job), 9);
}

#[test]
fn program_that_exits_at_once_still_gives_its_exit_status() {
    let fugue = Fugue::new();
    let term = fugue.terminal();
    // The program may be gone before the client attaches; ten tries make losing that race
    // near certain, and every try must still end with the program's status.
    term.send_line(
        "n=0; for i in 1 2 3 4 5 6 7 8 9 10; do fugue new -- sh -c 'exit 7'; \
         [ $? = 7 ] && n=$((n+1)); done; echo \"sevens=$n\"",
    );
    let count = |screen: &str| {
        screen
            .lines()
            .find_map(|line| line.trim_end().strip_prefix("sevens=")?.parse::<u32>().ok())
    };
    let screen = term.wait_for("the ten tries", |screen| count(screen).is_some());
    assert_eq!(
        count(&screen),
        Some(10),
        "some tries did not end with status 7:\n{screen}"
    );
}

#[test]
fn detach_restores_the_terminal_settings() {
    let fugue = Fugue::new();
    let term = fugue.terminal();
    let before = term.stty();
    let job = attach_shell(&term, "fugue new -s work");
    term.press_detach_key();
    assert_eq!(term.exit_code(job), 0);
    assert_eq!(term.stty(), before);
}

#[test]
fn program_exit_restores_the_terminal_settings() {
    let fugue = Fugue::new();
    let term = fugue.terminal();
    let before = term.stty();
    let job = attach_shell(&term, "fugue new -s work");
    term.send_line("exit");
    term.wait_for_line("[work exited with status 0]");
    assert_eq!(term.exit_code(job), 0);
    assert_eq!(term.stty(), before);
}

#[test]
fn killed_server_ends_the_attach_with_a_message_and_restores_the_terminal() {
    let fugue = Fugue::new();
    let term = fugue.terminal();
    let before = term.stty();
    let job = attach_shell(&term, "fugue new -s doomed");
    let server = fugue.server_pid().expect("the server reports its pid");
    signal(server, Signal::KILL);
    term.wait_for_line("[lost connection to fugue-server]");
    assert_eq!(term.exit_code(job), EXIT_SERVER_GONE);
    assert_eq!(term.stty(), before);
}

#[test]
fn sigterm_to_the_client_detaches_and_restores_the_terminal() {
    let fugue = Fugue::new();
    let term = fugue.terminal();
    let before = term.stty();
    let job = attach_shell(&term, "fugue new -s work");
    signal(term.client_pid(), Signal::TERM);
    term.wait_for_line("[SIGTERM received, detached]");
    assert_eq!(term.exit_code(job), 128 + 15);
    assert_eq!(term.stty(), before);
    let sessions = ls_json(&fugue);
    assert!(sessions.contains(r#""name": "work""#), "{sessions}");
}

#[test]
fn bare_fugue_starts_the_server_and_attaches() {
    let fugue = Fugue::new();
    let term = fugue.terminal();
    assert!(!fugue.socket().exists(), "no server yet");
    attach_shell(&term, "fugue");
    term.send_line(r#"echo "inside=$FUGUE_SESSION""#);
    let screen = term.wait_for("the session's name", |screen| {
        screen
            .lines()
            .any(|line| line.starts_with("inside=") && line.trim_end().len() > "inside=".len())
    });
    assert!(fugue.socket().exists(), "{screen}");

    let output = term.run_fugue(&["status", "--json"]);
    assert_success(&output, "fugue status --json");
    let status = stdout(&output);
    assert_eq!(json_number(&status, "sessions"), Some(1), "{status}");
    assert_eq!(
        json_number(&status, "attached_clients"),
        Some(1),
        "{status}"
    );
}

#[test]
fn scripts_drive_a_session_with_send_wait_and_capture() {
    let fugue = Fugue::new();
    new_detached(&fugue, "script", &["sh"]);
    wait_for_session_prompt(&fugue, "script");
    let output = fugue.run(&["send", "script", r#"echo from"" script"#, "--enter"]);
    assert_success(&output, "fugue send");
    let output = fugue.run(&["wait", "script", "--for", "^from script$"]);
    assert_success(&output, "fugue wait --for");

    let output = fugue.run(&["capture", "script"]);
    assert_success(&output, "fugue capture");
    let screen = stdout(&output);
    assert!(has_line(&screen, r#"$ echo from"" script"#), "{screen}");
    assert!(has_line(&screen, "from script"), "{screen}");
}

#[test]
fn two_attached_clients_both_see_the_output() {
    let fugue = Fugue::new();
    new_detached(&fugue, "shared", &["sh"]);
    let first = fugue.terminal();
    let second = fugue.terminal();
    attach_shell(&first, "fugue attach shared");
    attach_shell(&second, "fugue attach shared");

    first.send_line(r#"echo typed in"" first"#);
    first.wait_for_line("typed in first");
    second.wait_for_line("typed in first");
    second.send_line(r#"echo typed in"" second"#);
    second.wait_for_line("typed in second");
    first.wait_for_line("typed in second");
}

#[test]
fn read_only_client_sees_output_but_cannot_type() {
    let fugue = Fugue::new();
    new_detached(&fugue, "watched", &["sh"]);
    wait_for_session_prompt(&fugue, "watched");
    let term = fugue.terminal();
    let job = attach_shell(&term, "fugue attach -r watched");
    let output = fugue.run(&["send", "watched", r#"echo shown to"" viewer"#, "--enter"]);
    assert_success(&output, "fugue send");
    term.wait_for_line("shown to viewer");

    // Whatever the viewer would send goes out before its detach is confirmed, so after
    // the detach anything typed has either reached the session or never will.
    term.send_line(r#"echo typed by"" viewer"#);
    term.press_detach_key();
    term.wait_for_line("[detached from watched]");
    assert_eq!(term.exit_code(job), 0);
    let output = fugue.run(&["send", "watched", r#"echo after"" viewer"#, "--enter"]);
    assert_success(&output, "fugue send");
    let output = fugue.run(&["wait", "watched", "--for", "^after viewer$"]);
    assert_success(&output, "fugue wait --for");

    let output = fugue.run(&["capture", "watched"]);
    assert_success(&output, "fugue capture");
    let screen = stdout(&output);
    assert!(
        !screen.contains("typed by"),
        "the viewer's typing arrived:\n{screen}"
    );
}

#[test]
fn wait_exit_returns_the_program_exit_code() {
    let fugue = Fugue::new();
    new_detached(&fugue, "job", &["sh", "-c", "read line; exit 5"]);
    let waiter = fugue.spawn(&["wait", "job", "--exit", "--timeout", "15"]);
    // The program must still be running when the waiter attaches.
    poll_until("the waiter is attached", || {
        json_number(&ls_json(&fugue), "attached_clients") == Some(1)
    });
    let output = fugue.run(&["send", "job", "--enter"]);
    assert_success(&output, "fugue send --enter");
    let output = finish(waiter, "fugue wait --exit");
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
}

#[test]
fn wait_for_gives_up_with_124_after_its_timeout() {
    let fugue = Fugue::new();
    new_detached(&fugue, "quiet", &["sh"]);
    let started = Instant::now();
    let output = fugue.run(&["wait", "quiet", "--for", "never shown", "--timeout", "1"]);
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(124), "{}", stderr(&output));
    assert!(stderr(&output).contains("timed out"), "{}", stderr(&output));
    assert!(
        elapsed >= Duration::from_secs(1),
        "gave up after {elapsed:?}"
    );
}

#[test]
fn kill_ends_only_the_named_session() {
    let fugue = Fugue::new();
    new_detached(&fugue, "doomed", &["sh"]);
    new_detached(&fugue, "kept", &["sh"]);
    let output = fugue.run(&["kill", "doomed"]);
    assert_success(&output, "fugue kill doomed");

    let sessions = ls_json(&fugue);
    assert!(!sessions.contains(r#""name": "doomed""#), "{sessions}");
    assert!(sessions.contains(r#""name": "kept""#), "{sessions}");
    let output = fugue.run(&["capture", "doomed"]);
    assert_eq!(output.status.code(), Some(1), "capture of a killed session");
    let output = fugue.run(&["kill", "doomed"]);
    assert_eq!(output.status.code(), Some(1), "second kill");
    assert!(stderr(&output).contains("doomed"), "{}", stderr(&output));
}

#[test]
fn rename_moves_the_session_to_the_new_name() {
    let fugue = Fugue::new();
    new_detached(&fugue, "old", &["sh"]);
    let output = fugue.run(&["rename", "old", "new"]);
    assert_success(&output, "fugue rename");

    let sessions = ls_json(&fugue);
    assert!(sessions.contains(r#""name": "new""#), "{sessions}");
    assert!(!sessions.contains(r#""name": "old""#), "{sessions}");
    let output = fugue.run(&["send", "new", r#"echo re""named"#, "--enter"]);
    assert_success(&output, "fugue send new");
    let output = fugue.run(&["wait", "new", "--for", "^renamed$"]);
    assert_success(&output, "fugue wait new");
    let output = fugue.run(&["capture", "old"]);
    assert_eq!(output.status.code(), Some(1), "the old name is gone");
}

#[test]
fn attaching_a_session_from_inside_itself_is_refused() {
    let fugue = Fugue::new();
    let term = fugue.terminal();
    attach_shell(&term, "fugue new -s inner");
    term.send_line(r#"fugue attach inner; echo "named-attach=$?""#);
    term.wait_for_line("named-attach=1");
    term.send_line(r#"fugue attach; echo "default-attach=$?""#);
    let screen = term.wait_for_line("default-attach=1");
    let refusal = "refusing to attach to session inner from inside itself";
    assert_eq!(screen.matches(refusal).count(), 2, "{screen}");
    // Still attached, and still typing into the session.
    term.send_line(r#"echo "still in $FUGUE_SESSION""#);
    term.wait_for_line("still in inner");
}

#[test]
fn full_screen_program_survives_detach_and_reattach() {
    let fugue = Fugue::new();
    let (command, edits) = if find_program("vim").is_some() {
        ("vim -u NONE -i NONE -N notes.txt", true)
    } else if find_program("vi").is_some() {
        ("vi notes.txt", true)
    } else if find_program("less").is_some() {
        ("less notes.txt", false)
    } else {
        eprintln!("skipping the full-screen part: neither vim, vi nor less is installed");
        return;
    };
    let notes = fugue.dir().join("home").join("notes.txt");
    std::fs::write(&notes, "alpha line\nbeta line\ngamma line\n").unwrap();
    let shows_notes = |screen: &str| {
        ["alpha line", "beta line", "gamma line"]
            .iter()
            .all(|line| has_line(screen, line))
    };
    let term = fugue.terminal();
    let job = term.start_job(&format!("fugue new -s ed -- {command}"));
    term.wait_for("the file on screen", shows_notes);
    term.press_detach_key();
    // Leaving the alternate screen takes the program's picture away.
    term.wait_for("the detach, off the alternate screen", |screen| {
        has_line(screen, "[detached from ed]") && !screen.contains("alpha line")
    });
    assert_eq!(term.exit_code(job), 0);

    // Twice: the second time the client learns of the alternate screen from the repaint.
    for _ in 0..2 {
        let job = term.start_job("fugue attach ed");
        term.wait_for("the file on screen again", shows_notes);
        term.press_detach_key();
        term.wait_for("the detach, off the alternate screen", |screen| {
            has_line(screen, "[detached from ed]") && !screen.contains("alpha line")
        });
        assert_eq!(term.exit_code(job), 0);
    }

    let job = term.start_job("fugue attach ed");
    term.wait_for("the file on screen again", shows_notes);
    if edits {
        // Delete the first line, then save and quit.
        term.send_keys("ggdd");
        term.wait_for("the first line deleted", |screen| {
            !screen.contains("alpha line") && has_line(screen, "beta line")
        });
        term.send_line(":wq");
    } else {
        term.send_keys("q");
    }
    term.wait_for_line("[ed exited with status 0]");
    assert_eq!(term.exit_code(job), 0);
    let expected = if edits {
        "beta line\ngamma line\n"
    } else {
        "alpha line\nbeta line\ngamma line\n"
    };
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), expected);
}

/// The `tick-N` numbers on `screen`, top to bottom.
fn ticks(screen: &str) -> Vec<u64> {
    screen
        .lines()
        .filter_map(|line| line.trim().strip_prefix("tick-")?.parse().ok())
        .collect()
}

/// The number of clients `fugue status --json` reports (the asking client included).
fn status_clients(fugue: &Fugue) -> u32 {
    let output = fugue.run(&["status", "--json"]);
    assert_success(&output, "fugue status --json");
    json_number(&stdout(&output), "clients").expect("clients in status")
}

#[test]
fn client_dropped_while_stopped_reconnects_and_resumes_without_a_gap() {
    let fugue = Fugue::new();
    // A server that drops a client silent for a second, as it would one stopped too long.
    let started = std::process::Command::new(&fugue_tests::tmux::binaries().server)
        .args(["--daemon", "--idle-timeout", "1", "--socket"])
        .arg(fugue.socket())
        .env_clear()
        .envs(fugue.env())
        .status()
        .expect("start fugue-server");
    assert!(started.success());
    let term = fugue.terminal();
    // tmux sends SIGCONT to a stopped pane process group, and a shell's job control would
    // take the terminal back: so the client runs in a session of its own (`setsid`), in
    // place of the shell (`exec`).
    term.send_line(
        "exec setsid -w fugue new -s ticker -- sh -c 'i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.05; done'",
    );
    let before = term.wait_for("ticks", |screen| ticks(screen).len() > 3);
    let client = term.client_pid();
    signal(client, Signal::STOP);
    poll_until("the server drops the stopped client", || {
        status_clients(&fugue) == 1
    });
    signal(client, Signal::CONT);
    poll_until("the client reconnects", || status_clients(&fugue) == 2);
    let last_before = *ticks(&before).last().expect("a tick");
    let screen = term.wait_for("ticks after the reconnect", |screen| {
        ticks(screen)
            .first()
            .is_some_and(|first| *first > last_before + 10)
    });
    let seen = ticks(&screen);
    let consecutive = seen.windows(2).all(|pair| pair[1] == pair[0] + 1);
    assert!(
        consecutive,
        "the missed output was replayed without a gap:\n{screen}"
    );
}

/// A server of another version (one started before an upgrade, say) answers nothing but
/// its refusal: every command says what it is and how to stop it, and `kill-server` stops
/// it with SIGTERM, as that server's own `kill-server` would.
#[test]
fn a_server_of_another_version_is_explained_and_kill_server_stops_it() {
    /// Kills the stand-in if the test fails before `kill-server` did.
    struct StandIn(std::process::Child);
    impl Drop for StandIn {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let fugue = Fugue::new();
    let socket = fugue.socket();
    std::fs::create_dir_all(socket.parent().expect("socket dir")).expect("socket dir");
    let mut old = StandIn(
        std::process::Command::new(env!("CARGO_BIN_EXE_other-version-server"))
            .arg(socket)
            .spawn()
            .expect("start the stand-in server"),
    );
    poll_until("the stand-in listens", || {
        std::os::unix::net::UnixStream::connect(socket).is_ok()
    });

    let ls = fugue.run(&["ls"]);
    assert!(!ls.status.success(), "ls against another version succeeded");
    let why = stderr(&ls);
    assert!(
        why.contains("is another version of fugue") && why.contains("`fugue kill-server`"),
        "{why}"
    );

    let kill = fugue.run(&["kill-server"]);
    assert_success(&kill, "fugue kill-server");
    let said = stdout(&kill);
    assert!(
        said.contains(&format!("stopped fugue-server (pid {})", old.0.id())),
        "{said}"
    );
    // kill-server returns once the process has exited.
    let status = old
        .0
        .try_wait()
        .expect("wait")
        .expect("the stand-in exited");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(Signal::TERM.as_raw())
    );
}

/// `fugue capture NAME | head`: when the reader closes the pipe early, fugue ends quietly
/// with SIGPIPE's status, as a Unix filter does, instead of reporting a broken pipe.
#[test]
fn capture_into_a_pipe_closed_early_ends_quietly() {
    let fugue = Fugue::new();
    // Far more than a pipe holds (64 KiB): 20,000 lines of 70 characters.
    let line = "0123456789".repeat(7);
    let script = format!("yes {line} | head -n 20000; echo DONE; exec sleep 100");
    new_detached(&fugue, "big", &["sh", "-c", &script]);
    let output = fugue.run(&["wait", "big", "--for", "^DONE$", "--timeout", "15"]);
    assert_success(&output, "fugue wait --for DONE");
    let mut capture = fugue
        .command(&["capture", "big", "--scrollback", "10000"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn fugue capture");
    let mut pipe = capture.stdout.take().expect("stdout pipe");
    let mut first = [0u8; 70];
    std::io::Read::read_exact(&mut pipe, &mut first).expect("the capture starts");
    assert_eq!(&first[..], line.as_bytes());
    drop(pipe);
    let output = finish(capture, "fugue capture big --scrollback 10000");
    assert_eq!(output.status.code(), Some(141), "{output:?}");
    assert_eq!(stderr(&output), "", "no message for a closed pipe");
}

#[test]
fn switch_moves_this_terminal_to_another_session() {
    let fugue = Fugue::new();
    let term = fugue.terminal();
    let job = attach_shell(&term, "fugue new -s one");
    term.send_line("fugue new -d -s two");
    // Nesting is refused, and says what to do instead.
    term.send_line(r#"fugue attach two; echo "nested=$?""#);
    let screen = term.wait_for_line("nested=1");
    assert!(screen.contains("fugue switch two"), "{screen}");
    term.send_line(r#"fugue new -s three; echo "nested-new=$?""#);
    let screen = term.wait_for_line("nested-new=1");
    assert!(screen.contains("refusing to start and attach"), "{screen}");
    term.send_line("fugue switch two");
    term.wait_for("the other session's screen", |screen| {
        !screen.contains("nested-new=1") && ends_with_prompt(screen)
    });
    term.send_line(r#"echo "now in $FUGUE_SESSION""#);
    term.wait_for_line("now in two");
    let listing = ls_json(&fugue);
    let clients = |name: &str| {
        let at = listing
            .find(&format!("\"name\": \"{name}\""))
            .expect("listed");
        json_number(&listing[at..], "attached_clients")
    };
    assert_eq!(
        (clients("one"), clients("two")),
        (Some(0), Some(1)),
        "{listing}"
    );
    term.press_detach_key();
    term.wait_for_line("[detached from two]");
    assert_eq!(term.exit_code(job), 0);
}
