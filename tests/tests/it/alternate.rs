//! The screen under a full-screen program: a client that attaches while vim runs finds the
//! shell's screen again when vim exits, as a terminal that watched all along shows it.

use fugue_tests::tmux::{Fugue, PROMPT, TmuxTerm, find_program};

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
