//! The automation API end to end, through the real `fugue` binary as scripts use it:
//!
//! - `run`: exit status and exactly the command's output in bash, zsh, fish and sh, with
//!   a prompt that holds a mark of its own, a 100,000-line output, an interrupt, a
//!   timeout, two runs at once, and commands that cannot be typed.
//! - `wait`: `wait --after` ignores what was on the screen before the position; output no
//!   longer held and positions ahead of the output; `events` reports exits and detaches.
//! - `config`: completions load in bash; flags beat environment beat the file, which the
//!   server reads too; a malformed file names its line.

mod config;
mod run;
mod wait;

use std::process::Output;

use fugue_tests::tmux::{Fugue, assert_success, stdout};

/// Creates a detached session named `name` running `command`.
fn new_session(fugue: &Fugue, name: &str, command: &[&str]) {
    let mut args = vec!["new", "-d", "-s", name, "--"];
    args.extend_from_slice(command);
    assert_success(&fugue.run(&args), "fugue new -d");
}

/// Parses a command's standard output as one JSON value.
fn json(output: &Output) -> serde_json::Value {
    let text = stdout(output);
    serde_json::from_str(text.trim()).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

/// The exit code, failing the test (with both streams) when the process was killed.
fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or_else(|| {
        panic!(
            "killed by a signal: {:?}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    })
}
