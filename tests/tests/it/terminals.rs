//! Several terminals on one session, and what a program turns on in them: the detach key
//! under the kitty keyboard protocol and modifyOtherKeys, undone on the way out, restored
//! on the way back in. Real `fugue` clients in tmux, their output kept in a file.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use fugue_tests::tmux::{Fugue, TmuxTerm, assert_success, poll_until, stdout};

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

/// Clients attached to the session so far, as `fugue ls --json` counts them.
fn attached(fugue: &Fugue) -> usize {
    let listing = stdout(&fugue.run(&["ls", "--json"]));
    let count = |line: &str| {
        line.trim()
            .strip_prefix("\"attached_clients\": ")?
            .trim_end_matches(',')
            .parse()
            .ok()
    };
    listing.lines().find_map(count).unwrap_or(0)
}

#[test]
fn one_terminal_answers_a_query_however_many_are_attached() {
    let fugue = Fugue::new();
    let dir = fugue.dir().display().to_string();
    // On each line read: raw mode, a device-attributes query, two seconds of replies kept.
    let program = format!(
        "while read n; do stty raw -echo; printf '\\033[c'; timeout --foreground 2 cat > {dir}/replies-$n; \
         stty sane; echo DONE-$n; done"
    );
    assert_success(
        &fugue.run(&["new", "-d", "-s", "q", "--", "sh", "-c", &program]),
        "new",
    );
    let terms: Vec<TmuxTerm<'_>> = (0..3).map(|_| fugue.terminal()).collect();
    for (n, term) in (1..).zip(&terms) {
        term.start_job("fugue attach q");
        poll_until("the client is attached", || attached(&fugue) == n);
        assert_success(
            &fugue.run(&["send", "q", &n.to_string(), "--enter"]),
            "send",
        );
        let done = format!("^DONE-{n}$");
        assert_success(
            &fugue.run(&["wait", "q", "--for", &done, "--timeout", "15"]),
            "wait",
        );
        let replies = fs::read(fugue.dir().join(format!("replies-{n}"))).unwrap();
        let answers = replies.windows(3).filter(|w| *w == b"\x1b[?").count();
        assert_eq!(
            answers,
            1,
            "{n} clients attached: {:?}",
            String::from_utf8_lossy(&replies)
        );
    }
}

/// A real ssh agent on `path`, killed when dropped.
struct Agent {
    path: PathBuf,
    child: Child,
}

impl Agent {
    fn start(path: PathBuf) -> Agent {
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&path)
            .stdout(Stdio::null())
            .spawn()
            .expect("ssh-agent");
        poll_until("the agent listens", || path.exists());
        Agent { path, child }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ssh_auth_sock_follows_the_client_that_attached_last() {
    let fugue = Fugue::new();
    let [a, b] = ["a", "b"].map(|name| Agent::start(fugue.dir().join(format!("agent-{name}"))));
    let mut new = fugue.command(&["new", "-d", "-s", "s", "--", "bash"]);
    assert_success(&new.env("SSH_AUTH_SOCK", &a.path).output().unwrap(), "new");
    let link = || {
        let output = fugue.run(&["run", "s", "--", "readlink \"$SSH_AUTH_SOCK\""]);
        PathBuf::from(stdout(&output).trim())
    };
    assert_eq!(link(), a.path, "the creator's agent");
    let term = fugue.terminal();
    // A login whose agent is b attaches: the session's agent is b's.
    let job = term.start_job(&format!(
        "SSH_AUTH_SOCK={} fugue attach s",
        b.path.display()
    ));
    poll_until("attached", || attached(&fugue) == 1);
    assert_eq!(link(), b.path, "re-pointed on attach");
    // The agent answers through the link: no identities (1), not no agent (2).
    let listed = fugue.run(&["run", "s", "--", "ssh-add -l"]);
    assert_eq!(listed.status.code(), Some(1), "{}", stdout(&listed));
    term.press_detach_key();
    assert_eq!(term.exit_code(job), 0);
    // A client without an agent leaves the link as it was.
    let job = term.start_job("env -u SSH_AUTH_SOCK fugue attach s");
    poll_until("attached", || attached(&fugue) == 1);
    assert_eq!(link(), b.path);
    term.press_detach_key();
    assert_eq!(term.exit_code(job), 0);
}

#[test]
fn the_agent_link_can_be_turned_off() {
    let fugue = Fugue::new();
    let config = fugue.dir().join("home/.config/fugue");
    fs::create_dir_all(&config).unwrap();
    fs::write(config.join("config.toml"), "[server]\nagent_link = false\n").unwrap();
    let agent = fugue.dir().join("agent");
    let mut new = fugue.command(&["new", "-d", "-s", "s", "--", "bash"]);
    assert_success(&new.env("SSH_AUTH_SOCK", &agent).output().unwrap(), "new");
    let output = fugue.run(&["run", "s", "--", "echo \"$SSH_AUTH_SOCK\""]);
    // Inherited as it was (from the environment that started the server), not a link.
    assert_eq!(PathBuf::from(stdout(&output).trim()), agent);
}
