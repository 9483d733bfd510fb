//! Driving the real `fugue` and `fugue-server` binaries the way a person does: typing into
//! a terminal (a private tmux server) and reading its screen, plus direct runs for scripts.
//!
//! A [`Fugue`] owns a private directory holding its socket (so the server it talks to is its
//! own) and kills that server on drop. A [`TmuxTerm`] borrows a `Fugue`, runs a plain `sh`
//! with the prompt `$ ` in a 120x40 tmux window whose server socket sits in that directory,
//! and kills the tmux server on drop. Nothing here kills a process by name: the only
//! processes it signals are ones it can tie to its own sockets.
//!
//! Waiting is polling with a deadline ([`EVENT_TIMEOUT`]), never a bare sleep.

use std::cell::Cell;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process};
use tempfile::TempDir;

use crate::EVENT_TIMEOUT;
use crate::poll::poll_blocking;

/// How often screens and processes are looked at while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The terminal's size: columns and rows.
pub const TERM_SIZE: (u16, u16) = (120, 40);

/// The shell prompt inside every terminal and every session.
pub const PROMPT: &str = "$ ";

/// How long cleanup waits for a server asked to stop before killing it.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The built `fugue` and `fugue-server`.
#[derive(Debug)]
pub struct Binaries {
    /// The directory holding both.
    pub dir: PathBuf,
    /// The client.
    pub fugue: PathBuf,
    /// The server.
    pub server: PathBuf,
}

/// The binaries, built by `cargo build -p fugue-server -p fugue-client` the first time any
/// test asks (once per test process); fails the test if the build fails.
pub fn binaries() -> &'static Binaries {
    static BUILT: OnceLock<Result<Binaries, String>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(binaries) => binaries,
        Err(why) => panic!("cannot provide the fugue binaries: {why}"),
    }
}

/// A test binary lives in `<target>/<profile>/deps/`; the binaries in `<target>/<profile>/`,
/// where `$CARGO_TARGET_DIR` (if set) is `<target>`.
fn binary_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|err| format!("current_exe: {err}"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} is not in <target>/<profile>/deps", exe.display()))?;
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) if !target.is_empty() => {
            let profile = profile_dir.file_name().unwrap_or(OsStr::new("debug"));
            let target = PathBuf::from(target);
            let target = if target.is_absolute() {
                target
            } else {
                workspace_root().join(target)
            };
            Ok(target.join(profile))
        }
        _ => Ok(profile_dir.to_path_buf()),
    }
}

fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

fn build() -> Result<Binaries, String> {
    let dir = binary_dir()?;
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(workspace_root())
        .args(["build", "-p", "fugue-server", "-p", "fugue-client"])
        .stdin(Stdio::null());
    if dir.file_name() == Some(OsStr::new("release")) {
        cargo.arg("--release");
    }
    let output = cargo
        .output()
        .map_err(|err| format!("cannot run {}: {err}", env!("CARGO")))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo build -p fugue-server -p fugue-client` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let binaries = Binaries {
        fugue: dir.join("fugue"),
        server: dir.join("fugue-server"),
        dir,
    };
    for path in [&binaries.fugue, &binaries.server] {
        if !path.is_file() {
            return Err(format!("{} is missing after the build", path.display()));
        }
    }
    Ok(binaries)
}

/// A private fugue world: a directory with the socket path (`run/fugue.sock`) and a home.
/// Dropping it stops the server on that socket, if one runs.
pub struct Fugue {
    dir: TempDir,
    socket: PathBuf,
    home: PathBuf,
    n_terminals: Cell<u32>,
}

impl Fugue {
    /// A fresh directory; no server runs until a command starts one.
    pub fn new() -> Fugue {
        binaries();
        let dir = tempfile::Builder::new()
            .prefix("fugue-cli-")
            .tempdir()
            .expect("tempdir");
        let home = dir.path().join("home");
        fs::create_dir(&home).expect("home dir");
        let socket = dir.path().join("run").join("fugue.sock");
        Fugue {
            dir,
            socket,
            home,
            n_terminals: Cell::new(0),
        }
    }

    /// The private directory (files written there vanish with it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The socket path every command here uses (`FUGUE_SOCKET`).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The environment of every process started here, shells included: nothing inherited
    /// but `PATH` (with the binaries first), so a test sees the same world everywhere.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        let mut path = binaries().dir.clone().into_os_string();
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()));
        vec![
            ("PATH", path),
            ("HOME", self.home.clone().into_os_string()),
            ("SHELL", "/bin/sh".into()),
            ("PS1", PROMPT.into()),
            ("TERM", "xterm-256color".into()),
            ("FUGUE_SOCKET", self.socket.clone().into_os_string()),
            // A bash hung up as the world is torn down writes no history into a directory
            // being removed (which then stays behind).
            ("HISTFILE", "".into()),
        ]
    }

    /// `fugue ARGS` with this world's environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&binaries().fugue);
        command
            .args(args)
            .env_clear()
            .envs(self.env())
            .current_dir(&self.home);
        command
    }

    /// Runs `fugue ARGS` as a script would: no terminal, output captured. Fails the test if
    /// it does not finish within [`EVENT_TIMEOUT`].
    pub fn run(&self, args: &[&str]) -> Output {
        finish(self.spawn(args), &format!("fugue {}", args.join(" ")))
    }

    /// Starts `fugue ARGS` as [`Fugue::run`] does, without waiting; see [`finish`].
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn fugue")
    }

    /// The pid `fugue status --json` reports; `None` if no server answers.
    pub fn server_pid(&self) -> Option<u32> {
        let output = self.run(&["status", "--json"]);
        if !output.status.success() {
            return None;
        }
        json_number(&String::from_utf8_lossy(&output.stdout), "pid")
    }

    /// The end of the server's log (it writes one next to its socket), for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.socket.with_file_name("fugue-server.log");
        let text = fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// A new terminal showing a shell prompt.
    pub fn terminal(&self) -> TmuxTerm<'_> {
        let index = self.n_terminals.get() + 1;
        self.n_terminals.set(index);
        TmuxTerm::start(self, index)
    }

    /// Servers on this world's socket, found by their command line.
    fn server_pids(&self) -> Vec<u32> {
        let socket = self.socket.as_os_str().as_encoded_bytes();
        processes()
            .filter(|process| {
                let mut args = process.cmdline.split(|&byte| byte == 0);
                let is_server = args
                    .next()
                    .is_some_and(|program| program.ends_with(b"fugue-server"));
                is_server && args.any(|arg| arg == socket)
            })
            .map(|process| process.pid)
            .collect()
    }
}

impl Default for Fugue {
    fn default() -> Self {
        Fugue::new()
    }
}

impl Drop for Fugue {
    fn drop(&mut self) {
        let mut pids = self.server_pids();
        // A server that took over in an upgrade (or recovered from a failed one) runs with
        // `--takeover`, not `--socket`: its socket says it is there.
        if pids.is_empty() && !self.socket.exists() {
            return;
        }
        // Politely first, so sessions end the way they do for users; then for sure.
        let stop = self
            .command(&["kill-server"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(child) = stop {
            let _ = wait_with_deadline(child, STOP_GRACE);
        }
        // Whatever has not stopped within the grace period is killed below.
        let _ = poll_blocking(STOP_GRACE, POLL_INTERVAL, || {
            pids = self.server_pids();
            if pids.is_empty() && !self.socket.exists() {
                Ok(())
            } else {
                Err(())
            }
        });
        // A taken-over server that did not stop: the one `status` names.
        pids.extend(self.server_pid());
        for pid in pids {
            signal(pid, Signal::KILL);
        }
    }
}

/// Waits for a child started by [`Fugue::spawn`] and returns its output; kills it and fails
/// the test (naming `what`) if it takes longer than [`EVENT_TIMEOUT`].
pub fn finish(child: Child, what: &str) -> Output {
    match wait_with_deadline(child, EVENT_TIMEOUT) {
        Some(output) => output,
        None => panic!("`{what}` did not finish within {EVENT_TIMEOUT:?}"),
    }
}

fn wait_with_deadline(child: Child, limit: Duration) -> Option<Output> {
    let pid = child.id();
    let (output_tx, output_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = output_tx.send(child.wait_with_output());
    });
    match output_rx.recv_timeout(limit) {
        Ok(output) => Some(output.expect("wait for child")),
        Err(_) => {
            signal(pid, Signal::KILL);
            None
        }
    }
}

/// Calls `check` every [`POLL_INTERVAL`] until it holds; fails the test after
/// [`EVENT_TIMEOUT`]. For conditions no screen shows (a session's client count, a file).
pub fn poll_until(what: &str, mut check: impl FnMut() -> bool) {
    let held = poll_blocking(EVENT_TIMEOUT, POLL_INTERVAL, || {
        check().then_some(()).ok_or(())
    });
    assert!(held.is_ok(), "timed out waiting until {what}");
}

/// Sends `signal` to `pid`; a process that is already gone is not an error.
pub fn signal(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, signal);
    }
}

/// The number after `"key": ` in JSON text (the first one).
pub fn json_number(json: &str, key: &str) -> Option<u32> {
    let start = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = json[start..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails the test, showing both streams, unless the command exited 0.
pub fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "`{what}` failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

/// A process as `/proc` shows it.
pub(crate) struct Process {
    pub(crate) pid: u32,
    pub(crate) parent: u32,
    pub(crate) name: String,
    pub(crate) cmdline: Vec<u8>,
}

/// Every process that can be read now (zombies have an empty command line).
pub(crate) fn processes() -> impl Iterator<Item = Process> {
    let entries = fs::read_dir("/proc").into_iter().flatten().flatten();
    entries.filter_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
        // `pid (name) state ppid ...`; the name may hold spaces and parentheses.
        let (head, tail) = stat.rsplit_once(')')?;
        let name = head.split_once('(')?.1.to_owned();
        let parent = tail.split_whitespace().nth(1)?.parse().ok()?;
        let cmdline = fs::read(entry.path().join("cmdline")).ok()?;
        Some(Process {
            pid,
            parent,
            name,
            cmdline,
        })
    })
}

/// A terminal: a private tmux server with one 120x40 window running `sh`.
pub struct TmuxTerm<'a> {
    fugue: &'a Fugue,
    socket: PathBuf,
    n_jobs: Cell<u32>,
}

/// A command typed by [`TmuxTerm::start_job`]; its exit code shows when it finishes.
#[derive(Debug, Clone, Copy)]
pub struct Job(u32);

impl<'a> TmuxTerm<'a> {
    fn start(fugue: &'a Fugue, index: u32) -> TmuxTerm<'a> {
        let term = TmuxTerm {
            fugue,
            socket: fugue.dir().join(format!("tmux-{index}.sock")),
            n_jobs: Cell::new(0),
        };
        let (cols, rows) = TERM_SIZE;
        let home = fugue.home.to_str().expect("UTF-8 temp path");
        // tmux gives panes TERM=screen; the wrapper sets the one the tests assume.
        term.tmux(&[
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
            "-c",
            home,
            "--",
            "env",
            "TERM=xterm-256color",
            "sh",
        ]);
        term.wait_for_prompt();
        term
    }

    /// The world this terminal lives in.
    pub fn fugue(&self) -> &'a Fugue {
        self.fugue
    }

    /// Runs a tmux command against this terminal's server; fails the test if tmux does.
    fn tmux(&self, args: &[&str]) -> Output {
        let output = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .env_clear()
            .envs(self.fugue.env())
            .stdin(Stdio::null())
            .output()
            .expect("run tmux");
        assert_success(&output, &format!("tmux {}", args.join(" ")));
        output
    }

    /// Types `text` literally.
    pub fn send_keys(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "main", "-l", "--", text]);
    }

    /// Types `text`, then Enter.
    pub fn send_line(&self, text: &str) {
        self.tmux(&[
            "send-keys",
            "-t",
            "main",
            "-l",
            "--",
            text,
            ";",
            "send-keys",
            "-t",
            "main",
            "Enter",
        ]);
    }

    /// Presses keys named the tmux way: `C-\\` (Ctrl-\), `Enter`, `Escape`, `C-c`.
    pub fn send_raw(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Presses the default detach key, Ctrl-\.
    pub fn press_detach_key(&self) {
        self.send_raw(&["C-\\"]);
    }

    /// The visible screen, one line per row, trailing blanks trimmed.
    pub fn capture(&self) -> String {
        let output = self.tmux(&["capture-pane", "-p", "-t", "main"]);
        stdout(&output)
    }

    /// The scrollback and the visible screen, one line per row.
    pub fn capture_history(&self) -> String {
        let output = self.tmux(&["capture-pane", "-p", "-S", "-", "-t", "main"]);
        stdout(&output)
    }

    /// [`TmuxTerm::capture_history`] with SGR escapes where the attributes change.
    pub fn capture_history_ansi(&self) -> String {
        let output = self.tmux(&["capture-pane", "-p", "-e", "-S", "-", "-t", "main"]);
        stdout(&output)
    }

    /// The visible screen with SGR escapes where the attributes change.
    pub fn capture_ansi(&self) -> String {
        stdout(&self.tmux(&["capture-pane", "-p", "-e", "-t", "main"]))
    }

    /// Where the cursor is: column and row, from 0.
    pub fn cursor(&self) -> (u16, u16) {
        let output = self.tmux(&["display", "-p", "-t", "main", "#{cursor_x},#{cursor_y}"]);
        let text = stdout(&output);
        let (x, y) = text.trim().split_once(',').expect("x,y");
        (x.parse().expect("a column"), y.parse().expect("a row"))
    }

    /// Makes the terminal `cols` x `rows`.
    pub fn resize(&self, cols: u16, rows: u16) {
        let (cols, rows) = (cols.to_string(), rows.to_string());
        self.tmux(&["resize-window", "-t", "main", "-x", &cols, "-y", &rows]);
    }

    /// Polls the screen until `done` holds for it and returns that screen; fails the test
    /// after [`EVENT_TIMEOUT`], showing the last screen and the server's log.
    pub fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let drawn = poll_blocking(EVENT_TIMEOUT, POLL_INTERVAL, || {
            let screen = self.capture();
            if done(&screen) {
                Ok(screen)
            } else {
                Err(screen)
            }
        });
        drawn.unwrap_or_else(|screen| {
            panic!(
                "timed out waiting for {what}; the screen:\n{}\n--- end of screen; \
                 server log:\n{}",
                screen.trim_end(),
                self.fugue.log_tail()
            )
        })
    }

    /// Waits until some row reads exactly `line` (trailing blanks ignored).
    pub fn wait_for_line(&self, line: &str) -> String {
        self.wait_for(&format!("a line `{line}`"), |screen| has_line(screen, line))
    }

    /// Waits until the last non-empty row is a bare prompt.
    pub fn wait_for_prompt(&self) -> String {
        self.wait_for("a prompt", |screen| {
            screen.lines().rev().find(|line| !line.trim().is_empty()) == Some(PROMPT.trim_end())
        })
    }

    /// Types `command` followed by a report of its exit code, for [`TmuxTerm::exit_code`].
    pub fn start_job(&self, command: &str) -> Job {
        let job = Job(self.n_jobs.get() + 1);
        self.n_jobs.set(job.0);
        self.send_line(&format!("{command}; echo \"exit-{}=$?\"", job.0));
        job
    }

    /// Waits until `job` has finished and returns its exit code.
    pub fn exit_code(&self, job: Job) -> i32 {
        let prefix = format!("exit-{}=", job.0);
        let code = |screen: &str| {
            screen
                .lines()
                .find_map(|line| line.trim_end().strip_prefix(&prefix)?.parse().ok())
        };
        let screen = self.wait_for(&format!("job {} to finish", job.0), |screen| {
            code(screen).is_some()
        });
        code(&screen).expect("just seen")
    }

    /// Runs `command` in the shell and waits for it to finish; returns its exit code.
    pub fn run_in_shell(&self, command: &str) -> i32 {
        let job = self.start_job(command);
        self.exit_code(job)
    }

    /// The terminal's settings as `stty -g` prints them, taken in the shell.
    pub fn stty(&self) -> String {
        let n = self.n_jobs.get() + 1;
        let path = self.fugue.dir().join(format!("stty-{n}"));
        let command = format!("stty -g > {}", path.display());
        assert_eq!(self.run_in_shell(&command), 0, "stty -g fails");
        fs::read_to_string(&path).expect("stty output")
    }

    /// Runs `fugue ARGS` directly (outside the terminal), with the same socket.
    pub fn run_fugue(&self, args: &[&str]) -> Output {
        self.fugue.run(args)
    }

    /// The pid of the shell the terminal started with.
    pub fn shell_pid(&self) -> u32 {
        let output = self.tmux(&["display-message", "-p", "-t", "main", "#{pane_pid}"]);
        stdout(&output).trim().parse().expect("pane pid")
    }

    /// The pid of the `fugue` client the shell is running in the foreground.
    pub fn client_pid(&self) -> u32 {
        let shell = self.shell_pid();
        let clients: Vec<u32> = processes()
            .filter(|process| process.parent == shell && process.name == "fugue")
            .map(|process| process.pid)
            .collect();
        match clients[..] {
            [pid] => pid,
            _ => panic!("expected one fugue client under the shell, found {clients:?}"),
        }
    }
}

impl Drop for TmuxTerm<'_> {
    fn drop(&mut self) {
        // Hangs up everything running in the window, fugue clients included.
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Whether some row of `screen` reads exactly `line` (trailing blanks ignored).
pub fn has_line(screen: &str, line: &str) -> bool {
    screen.lines().any(|row| row.trim_end() == line)
}

/// Searches `PATH` for `program`, as `command -v` does.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
