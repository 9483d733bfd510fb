//! `fugue wait --after`, `fugue send --json` and `fugue events`.

use fugue_tests::tmux::{Fugue, assert_success, finish, poll_until, signal, stderr, stdout};
use rustix::process::Signal;

use super::{code, json, new_session};

/// The exit code of a wait whose output after the position cannot be matched exactly.
const EXIT_OUTPUT_GONE: i32 = 4;

/// The `seq` of a command's JSON output.
fn seq_of(output: &std::process::Output) -> u64 {
    json(output)["seq"].as_u64().expect("a seq")
}

#[test]
fn wait_after_a_position_ignores_the_marker_already_on_screen() {
    let fugue = Fugue::new();
    new_session(&fugue, "s", &["bash"]);
    assert_success(
        &fugue.run(&["send", "s", "echo MARK\"\"ER", "--enter"]),
        "send",
    );
    let old = fugue.run(&["wait", "s", "--for", "^MARKER$", "--timeout", "10"]);
    assert_success(&old, "the first marker shows");
    let shown = seq_of(&fugue.run(&["capture", "s", "--json"]));
    let output = fugue.run(&[
        "wait",
        "s",
        "--for",
        "^MARKER$",
        "--after",
        &shown.to_string(),
        "--timeout",
        "1",
    ]);
    assert_eq!(code(&output), 124, "the marker on screen must not match");

    let sent = fugue.run(&[
        "send",
        "s",
        "--json",
        "sleep 0.3; echo MARK\"\"ER",
        "--enter",
    ]);
    let after = seq_of(&sent);
    assert!(after >= shown);
    let args = [
        "wait",
        "s",
        "--for",
        "^MARKER$",
        "--after",
        &after.to_string(),
        "--json",
        "--timeout",
        "10",
    ];
    let output = fugue.run(&args);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let found = json(&output);
    assert_eq!(found["line"], "MARKER");
    assert!(found["seq"].as_u64().unwrap() > after);
    let listed = json(&fugue.run(&["ls", "--json"]));
    assert!(listed[0]["seq"].as_u64().unwrap() >= found["seq"].as_u64().unwrap());
}

#[test]
fn positions_that_cannot_be_matched_exactly_get_their_own_exit_code() {
    let fugue = Fugue::new();
    new_session(&fugue, "s", &["bash"]);
    // More than the 4 MiB the server keeps for resuming.
    let flood = fugue.run(&["send", "s", "seq 1500000; echo FLOOD-DO\"\"NE", "--enter"]);
    assert_eq!(code(&flood), 0);
    let done = fugue.run(&["wait", "s", "--for", "^FLOOD-DONE$", "--timeout", "60"]);
    assert_eq!(code(&done), 0, "{}", stderr(&done));
    let output = fugue.run(&["wait", "s", "--for", "x", "--after", "1"]);
    assert_eq!(code(&output), EXIT_OUTPUT_GONE, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no longer held"),
        "{}",
        stderr(&output)
    );
    let output = fugue.run(&["wait", "s", "--for", "x", "--after", "999999999"]);
    assert_eq!(code(&output), EXIT_OUTPUT_GONE);
    assert!(stderr(&output).contains("ahead"), "{}", stderr(&output));
    let output = fugue.run(&["wait", "s", "--for", "(", "--after", "1"]);
    assert_eq!(code(&output), 1);
    assert!(stderr(&output).contains("regex"), "{}", stderr(&output));
}

#[test]
fn events_report_a_detach_and_an_exit_with_its_status() {
    let fugue = Fugue::new();
    new_session(&fugue, "s", &["bash"]);
    let events = fugue.spawn(&["events", "s", "--json"]);
    poll_until("the subscriber is connected", || {
        // This status request is the other client.
        json(&fugue.run(&["status", "--json"]))["clients"] == 2
    });
    let watcher = fugue.spawn(&["wait", "s", "--exit"]);
    poll_until("the watcher is attached", || {
        json(&fugue.run(&["ls", "--json"]))[0]["attached_clients"] == 1
    });
    signal(watcher.id(), Signal::KILL);
    let _ = finish(watcher, "killed watcher");
    poll_until("the watcher is gone", || {
        json(&fugue.run(&["ls", "--json"]))[0]["attached_clients"] == 0
    });
    assert_success(&fugue.run(&["send", "s", "exit 7", "--enter"]), "send");
    // `events NAME` ends with its session.
    let output = finish(events, "fugue events s");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let of_type = |kind: &str| lines.iter().filter(|event| event["type"] == kind).count();
    assert!(
        of_type("attached") >= 1 && of_type("detached") >= 1,
        "{lines:?}"
    );
    let exited = lines.last().expect("events");
    assert_eq!(exited["type"], "exited");
    assert_eq!(exited["status"], 7);
    assert_eq!(exited["name"], "s");
    assert!(exited["seq"].as_u64().is_some());
}
