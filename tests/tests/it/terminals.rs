//! Several terminals on one session, and what a program turns on in them: the detach key
//! under the kitty keyboard protocol and modifyOtherKeys, undone on the way out, restored
//! on the way back in. Real `fugue` clients in tmux, their output kept in a file.

use std::fs;

use fugue_tests::tmux::{Fugue, assert_success, poll_until, stdout};

/// The session's program pushes kitty keyboard flags 1 (and modifyOtherKeys level 2),
/// then echoes what it reads.
const PUSHES_FLAGS: &str = r#"printf '\033[>1u\033[>4;2m'; exec cat"#;

/// Attaches in `term` with the client's output going to `file`; waits until attached.
fn attach_into(
    fugue: &Fugue,
    term: &fugue_tests::tmux::TmuxTerm<'_>,
    file: &str,
) -> fugue_tests::tmux::Job {
    let path = fugue.dir().join(file);
    let job = term.start_job(&format!("fugue attach kb > {}", path.display()));
    poll_until("the client is attached", || {
        stdout(&fugue.run(&["ls", "--json"])).contains("\"attached_clients\": 1")
    });
    job
}

/// Where `needle` last occurs in `haystack`.
fn last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

#[test]
fn the_detach_key_works_in_keyboard_protocols_and_the_flags_are_undone_and_restored() {
    let fugue = Fugue::new();
    let args = ["new", "-d", "-s", "kb", "--", "sh", "-c", PUSHES_FLAGS];
    assert_success(&fugue.run(&args), "fugue new");
    let term = fugue.terminal();
    // Ctrl-\ as the kitty keyboard protocol sends it, then as modifyOtherKeys does.
    for (file, detach_key) in [
        ("one.out", &["1b", "5b", "39", "32", "3b", "35", "75"][..]),
        (
            "two.out",
            &["1b", "5b", "32", "37", "3b", "35", "3b", "39", "32", "7e"],
        ),
    ] {
        let job = attach_into(&fugue, &term, file);
        let mut keys = vec!["-H"];
        keys.extend_from_slice(detach_key);
        term.send_raw(&keys);
        assert_eq!(term.exit_code(job), 0, "detached by {detach_key:?}");
        let out = fs::read(fugue.dir().join(file)).unwrap();
        // On the way in: the snapshot gave the terminal the program's flags back.
        let pushed = last(&out, b"\x1b[>1u").expect("flags restored on attach");
        assert!(
            last(&out, b"\x1b[>4;2m").is_some(),
            "modifyOtherKeys restored"
        );
        // On the way out: popped, after the last push, and modifyOtherKeys reset.
        let popped = last(&out, b"\x1b[<1u").expect("flags popped on detach");
        assert!(popped > pushed, "popped after being pushed");
        assert!(last(&out, b"\x1b[>4;0m").unwrap() > pushed);
    }
    // The typed key (as a kitty key report) reached no program: the session still runs.
    assert!(stdout(&fugue.run(&["ls"])).contains("kb"));
}
