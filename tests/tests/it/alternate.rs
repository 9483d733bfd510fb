//! What an attach restores besides the visible screen: the screen under a full-screen
//! program (a client that attaches while vim runs finds the shell's screen again when vim
//! exits, as a terminal that watched all along shows it), and the scrollback, replayed
//! into the terminal's own.

use fugue_tests::tmux::{Fugue, PROMPT, TmuxTerm, find_program, poll_until};

/// Waits until the terminal shows a session's shell prompt on its last non-empty line.
fn wait_for_shell(term: &TmuxTerm<'_>, what: &str) -> String {
    term.wait_for(what, |screen| {
        screen.lines().rev().find(|line| !line.trim().is_empty()) == Some(PROMPT.trim_end())
    })
}

#[test]
fn quitting_vim_after_an_attach_shows_the_shell_screen_a_watcher_shows() {
    if find_program("vim").is_none() {
        eprintln!("skipping: vim is not installed (cargo xtask test installs it)");
        return;
    }
    let fugue = Fugue::new();
    // The watcher: attached all along.
    let watcher = fugue.terminal();
    watcher.send_line("fugue new -s edit");
    wait_for_shell(&watcher, "the session's shell");
    for line in 1..=5 {
        watcher.send_line(&format!("printf '\\033[3{line}mbefore-{line}\\033[m\\n'"));
    }
    watcher.wait_for_line("before-5");
    wait_for_shell(&watcher, "the prompt after the lines");
    watcher.send_line("vim -u NONE -i NONE -N -n");
    watcher.wait_for("vim", |screen| {
        screen.lines().filter(|l| l.starts_with('~')).count() > 5
    });
    // The latecomer attaches while vim runs, and quits it.
    let latecomer = fugue.terminal();
    latecomer.send_line("fugue attach edit");
    latecomer.wait_for("vim", |screen| {
        screen.lines().filter(|l| l.starts_with('~')).count() > 5
    });
    latecomer.send_keys(":q");
    latecomer.send_raw(&["Enter"]);
    let seen = wait_for_shell(&latecomer, "the shell's screen after vim");
    let watched = wait_for_shell(&watcher, "the watcher's shell after vim");
    assert!(
        seen.contains("before-1") && seen.contains("before-5"),
        "{seen}"
    );
    assert_eq!(
        seen, watched,
        "the latecomer's screen against the watcher's"
    );
}

/// Lines that scrolled off before an attach land in the terminal's own scrollback, in
/// their colours, once each; `--history 0` leaves them out.
#[test]
fn an_attach_puts_the_sessions_scrollback_in_the_terminals_own() {
    let fugue = Fugue::new();
    let script = "i=1; while [ $i -le 100 ]; do printf '\\033[3%dmline-%d\\033[m\\n' \
                  $((i % 6 + 1)) $i; i=$((i+1)); done; exec sleep 600";
    let created = fugue.run(&["new", "-d", "-s", "h", "--", "sh", "-c", script]);
    fugue_tests::tmux::assert_success(&created, "fugue new -d");
    poll_until("the session to print its lines", || {
        let screen = fugue_tests::tmux::stdout(&fugue.run(&["capture", "h"]));
        screen.lines().any(|line| line == "line-100")
    });
    let term = fugue.terminal();
    term.send_line("fugue attach h");
    term.wait_for_line("line-100");
    let numbers = |text: &str| -> Vec<u32> {
        text.lines()
            .filter_map(|line| line.trim_end().strip_prefix("line-")?.parse().ok())
            .collect()
    };
    let history = term.capture_history();
    assert_eq!(
        numbers(&history),
        (1..=100).collect::<Vec<u32>>(),
        "{history}"
    );
    // Each line has its colour (tmux writes an escape where the colour changes).
    let coloured = term.capture_history_ansi();
    for i in [1, 2, 30, 59] {
        let line = format!("\x1b[3{}mline-{i}", i % 6 + 1);
        assert!(coloured.contains(&line), "no {line:?} in:\n{coloured}");
    }
    term.press_detach_key();
    term.wait_for_line("[detached from h]");

    let bare = fugue.terminal();
    bare.send_line("fugue attach h --history 0");
    bare.wait_for_line("line-100");
    let history = bare.capture_history();
    let first = numbers(&history).first().copied();
    // Only what the 40-row screen shows: no line that had scrolled off.
    assert!(first.is_some_and(|first| first > 55), "{history}");
}
