//! `fugue run` in every shell it integrates with, and in a shell without integration.

use std::fmt::Write as _;

use fugue_tests::tmux::{Fugue, finish, poll_until, signal, stderr, stdout};
use rustix::process::Signal;

use super::{code, json, new_session};

const SHELLS: [&str; 4] = ["bash", "zsh", "fish", "sh"];

/// `fugue run NAME -- COMMAND`.
fn run(fugue: &Fugue, session: &str, command: &str) -> std::process::Output {
    fugue.run(&["run", session, "--", command])
}

fn seq_text(n: u32) -> String {
    (1..=n).fold(String::new(), |mut text, i| {
        let _ = writeln!(text, "{i}");
        text
    })
}

#[test]
fn run_returns_the_status_and_exactly_the_output_in_every_shell() {
    let fugue = Fugue::new();
    for shell in SHELLS {
        new_session(&fugue, shell, &[shell]);
    }
    for shell in SHELLS {
        let output = run(&fugue, shell, "echo one; echo two");
        assert_eq!(
            (code(&output), stdout(&output).as_str()),
            (0, "one\ntwo\n"),
            "{shell}"
        );
        let output = run(&fugue, shell, "sh -c 'echo out; echo err >&2; exit 3'");
        assert_eq!(code(&output), 3, "{shell}: {}", stderr(&output));
        assert_eq!(stdout(&output), "out\nerr\n", "{shell}");
        let output = run(&fugue, shell, "printf no-newline");
        assert_eq!(stdout(&output), "no-newline", "{shell}");
        let output = run(&fugue, shell, "seq 100000");
        assert_eq!(code(&output), 0, "{shell}");
        assert!(
            stdout(&output) == seq_text(100_000),
            "{shell}: 100,000 lines, exactly"
        );
    }
}

#[test]
fn a_prompt_holding_a_mark_of_its_own_does_not_end_a_run_early() {
    let fugue = Fugue::new();
    // A prompt that prints a command-finished mark with status 7, and the text of one.
    let prompt = "PS1=\\[\\e]133;D;7\\a\\]fugue=x 133;D;9 $ ";
    let args = ["new", "-d", "-s", "p", "-e", prompt, "--", "bash"];
    assert_eq!(code(&fugue.run(&args)), 0);
    for _ in 0..3 {
        let output = run(&fugue, "p", "echo a; sleep 0.2; echo b");
        assert_eq!((code(&output), stdout(&output).as_str()), (0, "a\nb\n"));
    }
    let output = fugue.run(&["run", "p", "--json", "--", "echo x; false"]);
    let result = json(&output);
    assert_eq!(result["status"], 1);
    assert_eq!(result["output"], "x\n");
    assert!(result["seq_end"].as_u64() > result["seq_start"].as_u64());
}

#[test]
fn without_shell_integration_a_typed_marker_frames_the_command() {
    let fugue = Fugue::new();
    let config = fugue.dir().join("home/.config/fugue");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        "[server]\nshell_integration = false\n",
    )
    .unwrap();
    for shell in SHELLS {
        new_session(&fugue, shell, &[shell]);
        let output = run(&fugue, shell, "echo one; sh -c 'exit 4'");
        assert_eq!(
            (code(&output), stdout(&output).as_str()),
            (4, "one\n"),
            "{shell}"
        );
        // Again (the typed mark must not make the shell look integrated), with a command
        // line long enough to wrap, which fish redraws on Enter.
        let long = format!("echo {}; echo two", "x".repeat(70));
        let output = run(&fugue, shell, &long);
        let expected = format!("{}\ntwo\n", "x".repeat(70));
        assert_eq!((code(&output), stdout(&output)), (0, expected), "{shell}");
    }
    // Marks a program prints (here, bash itself) do not make fugue trust the shell's.
    let output = run(&fugue, "bash", r"printf '\033]133;D;0\007'");
    assert_eq!(code(&output), 0);
    assert_eq!(stdout(&run(&fugue, "bash", "echo still")), "still\n");
    let listing = fugue.run(&["ls", "--json"]);
    let sessions = json(&listing);
    let sessions = sessions.as_array().unwrap();
    assert!(
        sessions
            .iter()
            .all(|session| session["shell_marks"] == false)
    );
}

#[test]
fn interrupted_and_timed_out_runs_stop_the_command_and_say_so() {
    let fugue = Fugue::new();
    for shell in SHELLS {
        new_session(&fugue, shell, &[shell]);
        let child = fugue.spawn(&["run", shell, "--", "echo started; sleep 30"]);
        poll_until("the command runs", || {
            let listing = stdout(&fugue.run(&["ls", "--json"]));
            listing.contains("\"command\": \"sleep\"")
        });
        signal(child.id(), Signal::INT);
        let output = finish(child, "fugue run, interrupted");
        assert_eq!(code(&output), 130, "{shell}: {}", stderr(&output));
        assert!(stdout(&output).starts_with("started\n"), "{shell}");
    }
    let output = fugue.run(&["run", "bash", "--timeout", "0.5", "--", "sleep 30"]);
    assert_eq!(code(&output), 124);
    assert!(stderr(&output).contains("timed out"), "{}", stderr(&output));
    // The shell is back at its prompt: the next run works.
    let output = run(&fugue, "bash", "echo again");
    assert_eq!(stdout(&output), "again\n");
}

#[test]
fn two_runs_at_once_take_turns() {
    let fugue = Fugue::new();
    new_session(&fugue, "s", &["bash"]);
    let first = fugue.spawn(&["run", "s", "--", "echo A1; sleep 0.5; echo A2"]);
    let second = fugue.spawn(&["run", "s", "--", "echo B1; sleep 0.5; echo B2"]);
    assert_eq!(stdout(&finish(first, "first run")), "A1\nA2\n");
    assert_eq!(stdout(&finish(second, "second run")), "B1\nB2\n");
}

#[test]
fn commands_that_cannot_be_typed_whole_are_refused_and_nothing_is_typed() {
    let fugue = Fugue::new();
    new_session(&fugue, "s", &["bash"]);
    for bad in ["echo a\necho b", "echo \u{1b}[A", ""] {
        let output = run(&fugue, "s", bad);
        assert_eq!(code(&output), 125, "{bad:?}");
        assert!(
            stderr(&output).contains("cannot run"),
            "{}",
            stderr(&output)
        );
    }
    new_session(&fugue, "cat", &["cat"]);
    let output = run(&fugue, "cat", "ls");
    assert_eq!(code(&output), 125);
    assert!(
        stderr(&output).contains("not a shell"),
        "{}",
        stderr(&output)
    );
    let output = run(&fugue, "ghost", "ls");
    assert_ne!(code(&output), 0);
    assert!(stderr(&output).contains("ghost"));
    // A program holding the terminal is not typed into.
    assert_eq!(code(&fugue.run(&["send", "s", "sleep 30", "--enter"])), 0);
    poll_until("sleep has the terminal", || {
        stdout(&fugue.run(&["ls", "--json"])).contains("\"command\": \"sleep\"")
    });
    let output = run(&fugue, "s", "echo hi");
    assert_eq!(code(&output), 125);
    assert!(stderr(&output).contains("`sleep`"), "{}", stderr(&output));
    let screen = stdout(&fugue.run(&["capture", "s"]));
    assert!(!screen.contains("echo hi"), "nothing was typed:\n{screen}");
}

#[test]
fn a_session_that_ends_during_a_run_ends_it() {
    let fugue = Fugue::new();
    new_session(&fugue, "s", &["bash"]);
    let output = run(&fugue, "s", "exit 5");
    assert_eq!(code(&output), 125);
    assert!(stderr(&output).contains("ended"), "{}", stderr(&output));
}

#[test]
fn an_incomplete_command_is_cancelled_not_left_half_typed() {
    let fugue = Fugue::new();
    for shell in SHELLS {
        new_session(&fugue, shell, &[shell]);
        let output = run(&fugue, shell, "echo 'unclosed");
        assert_eq!(code(&output), 125, "{shell}: {}", stderr(&output));
        let said = stderr(&output);
        assert!(
            said.contains("incomplete") || said.contains("cannot parse"),
            "{said}"
        );
        // The shell is back at its prompt.
        let output = run(&fugue, shell, "echo after");
        assert_eq!(stdout(&output), "after\n", "{shell}");
    }
}

#[test]
fn a_run_waiting_its_turn_outlives_the_idle_timeout() {
    let fugue = Fugue::new();
    let config = fugue.dir().join("home/.config/fugue");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.toml"), "[server]\nidle_timeout = 1\n").unwrap();
    new_session(&fugue, "s", &["bash"]);
    let first = fugue.spawn(&["run", "s", "--", "sleep 3; echo first"]);
    poll_until("the first run is running", || {
        stdout(&fugue.run(&["ls", "--json"])).contains("\"command\": \"sleep\"")
    });
    let second = run(&fugue, "s", "echo second");
    assert_eq!(
        (code(&second), stdout(&second).as_str()),
        (0, "second\n"),
        "{}",
        stderr(&second)
    );
    assert_eq!(stdout(&finish(first, "first run")), "first\n");
}

#[test]
fn a_run_stopped_midway_resumes_its_output_exactly() {
    let fugue = Fugue::new();
    new_session(&fugue, "s", &["bash"]);
    let lines = "for i in $(seq 1 2000); do echo line$i; sleep 0.001; done";
    let child = fugue.spawn(&["run", "s", "--", lines]);
    let status = || json(&fugue.run(&["status", "--json"]));
    let lags_before = status()["lag_events"].as_u64().unwrap_or(0);
    // Any line of it (the first scrolls off the screen within milliseconds).
    poll_until("the command prints", || {
        let screen = stdout(&fugue.run(&["capture", "s"]));
        screen.lines().any(|line| line.starts_with("line"))
    });
    // Stopped longer than the server waits for a client: it is marked lagging, resynced,
    // and on waking connects again and resumes from the last position it saw.
    signal(child.id(), Signal::STOP);
    poll_until("the stopped run is marked lagging", || {
        status()["lag_events"].as_u64().unwrap_or(0) > lags_before
    });
    signal(child.id(), Signal::CONT);
    let output = finish(child, "fugue run, stopped and continued");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let expected: String = (1..=2000).map(|i| format!("line{i}\n")).collect();
    assert!(
        stdout(&output) == expected,
        "every line exactly once, in order"
    );
}
