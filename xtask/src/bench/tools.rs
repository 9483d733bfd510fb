//! The tools under test and how each one starts a session, attaches a client and stops.
//!
//! Every session runs `/bin/sh -c SCRIPT` and the script first writes `$PPID` to a file:
//! the parent of a session's program is the tool's server process (fugue-server, the
//! tmux server, SCREEN, the dtach master), which is what the memory scenario measures.
//! `raw` has no server: its "client" is the script itself on the harness's terminal.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal, kill_process, test_kill_process};

use super::sandbox::{Sandbox, on_path};

/// A tool under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tool {
    /// This workspace's server and client.
    Fugue,
    /// tmux.
    Tmux,
    /// GNU screen.
    Screen,
    /// dtach.
    Dtach,
    /// The program writing straight to the harness's terminal: the ceiling.
    Raw,
    /// fugue, attached with `fugue -H ssh://127.0.0.1:PORT attach` (through `fugue proxy`).
    FugueSsh,
    /// fugue, attached with `ssh -t 127.0.0.1 fugue attach`.
    SshFugue,
    /// tmux, attached with `ssh -t 127.0.0.1 tmux attach`.
    SshTmux,
}

impl Tool {
    /// Every tool, in report order.
    pub const ALL: [Tool; 8] = [
        Tool::Fugue,
        Tool::Tmux,
        Tool::Screen,
        Tool::Dtach,
        Tool::Raw,
        Tool::FugueSsh,
        Tool::SshFugue,
        Tool::SshTmux,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Fugue => "fugue",
            Tool::Tmux => "tmux",
            Tool::Screen => "screen",
            Tool::Dtach => "dtach",
            Tool::Raw => "raw",
            Tool::FugueSsh => "fugue-ssh",
            Tool::SshFugue => "ssh-fugue",
            Tool::SshTmux => "ssh-tmux",
        }
    }

    /// The tool whose server runs the session: an ssh variant's local counterpart.
    pub fn base(self) -> Tool {
        match self {
            Tool::FugueSsh | Tool::SshFugue => Tool::Fugue,
            Tool::SshTmux => Tool::Tmux,
            other => other,
        }
    }

    /// Whether the client reaches the session through ssh (to a local sshd): measured for
    /// throughput and echo only.
    pub fn through_ssh(self) -> bool {
        self != self.base()
    }

    /// Whether the tool can be run here; fugue is built by the bench itself.
    pub fn available(self) -> bool {
        match self {
            Tool::Fugue | Tool::Raw => true,
            Tool::Tmux | Tool::Screen | Tool::Dtach => on_path(self.name()),
            Tool::FugueSsh | Tool::SshFugue | Tool::SshTmux => {
                self.base().available()
                    && on_path("ssh")
                    && on_path("ssh-keygen")
                    && std::path::Path::new("/usr/sbin/sshd").is_file()
            }
        }
    }

    /// How to install a missing tool.
    pub fn install_hint(self) -> String {
        if self.through_ssh() {
            return format!(
                "`{}` needs {}, ssh and sshd; on Debian or Ubuntu: sudo apt-get install \
                 openssh-client openssh-server {}",
                self.name(),
                self.base().name(),
                self.base().name()
            );
        }
        format!(
            "`{}` is not installed; on Debian or Ubuntu: sudo apt-get install {}",
            self.name(),
            self.name()
        )
    }

    /// Whether several clients can attach (all but `raw`).
    pub fn has_server(self) -> bool {
        self != Tool::Raw
    }
}

/// One session of one tool, stopped on drop.
#[derive(Debug)]
pub struct Session<'a> {
    tool: Tool,
    sandbox: &'a Sandbox,
    dir: PathBuf,
    script: String,
    stopped: bool,
}

/// The name every session gets.
pub const NAME: &str = "bench";

impl<'a> Session<'a> {
    /// Starts a detached session running `script` in `dir` (from [`Sandbox::new_dir`]).
    ///
    /// # Errors
    ///
    /// When the tool fails to start it.
    pub fn start(
        sandbox: &'a Sandbox,
        tool: Tool,
        dir: PathBuf,
        script: &str,
    ) -> anyhow::Result<Self> {
        let script = format!("echo $PPID > {}; {script}", dir.join("ppid").display());
        let session = Session {
            tool,
            sandbox,
            dir,
            script,
            stopped: false,
        };
        let sh = ["/bin/sh", "-c", session.script.as_str()];
        match tool.base() {
            Tool::Raw => {}
            Tool::Fugue => {
                let server = sandbox.fugue_binary("fugue-server");
                run(sandbox
                    .command(server)
                    .arg("--daemon")
                    .arg("--socket")
                    .arg(session.socket()))?;
                run(session
                    .fugue()
                    .args(["new", "-d", "-s", NAME, "--"])
                    .args(sh))?;
            }
            Tool::Tmux => {
                // One shell-command string (tmux runs it with `sh -c`); the status line is
                // turned off so the pane is 120x40 like everyone else's terminal.
                run(session
                    .tmux()
                    .args(["new-session", "-d", "-s", NAME, "-x", "120", "-y", "40"])
                    .arg(&session.script)
                    .args([";", "set-option", "-g", "status", "off"]))?;
            }
            Tool::Screen => run(session.screen().args(["-dmS", NAME]).args(sh))?,
            Tool::Dtach => run(sandbox
                .command("dtach")
                .arg("-n")
                .arg(session.socket())
                .args(sh))?,
            Tool::FugueSsh | Tool::SshFugue | Tool::SshTmux => unreachable!("a base tool"),
        }
        if tool.has_server() {
            // Some tools return before their socket exists; an attach in that window
            // would fail. The script's pid file shows the program runs, the socket file
            // that the server listens.
            session.server_pid(START_TIMEOUT)?;
            wait_until(START_TIMEOUT, || session.listening())
                .with_context(|| format!("{} did not create its socket", tool.name()))?;
        }
        Ok(session)
    }

    /// Whether the tool's server socket exists.
    fn listening(&self) -> bool {
        match self.tool.base() {
            Tool::Raw => true,
            Tool::Fugue | Tool::Tmux | Tool::Dtach => self.socket().exists(),
            Tool::Screen => std::fs::read_dir(self.dir.join("screen")).is_ok_and(|entries| {
                entries.flatten().any(|entry| {
                    entry
                        .file_name()
                        .to_string_lossy()
                        .ends_with(&format!(".{NAME}"))
                })
            }),
            Tool::FugueSsh | Tool::SshFugue | Tool::SshTmux => false,
        }
    }

    /// The command that attaches one more client (for `raw`, the script itself).
    pub fn attach(&self) -> Command {
        match self.tool {
            Tool::Raw => {
                let mut cmd = self.sandbox.command("/bin/sh");
                cmd.arg("-c").arg(&self.script);
                cmd
            }
            // The screen restored, as the others restore it: without the replay of the
            // session's scrollback into the terminal's own (its cost is measured apart).
            Tool::Fugue => {
                let mut cmd = self.fugue();
                cmd.args(["attach", NAME, "--history", "0"]);
                cmd
            }
            Tool::Tmux => {
                let mut cmd = self.tmux();
                cmd.args(["attach-session", "-t", NAME]);
                cmd
            }
            // `-x` attaches another display even when one is attached already.
            Tool::Screen => {
                let mut cmd = self.screen();
                cmd.args(["-x", NAME]);
                cmd
            }
            Tool::Dtach => {
                let mut cmd = self.sandbox.command("dtach");
                cmd.arg("-a").arg(self.socket());
                cmd
            }
            Tool::FugueSsh | Tool::SshFugue | Tool::SshTmux => self.attach_through_ssh(),
        }
    }

    /// The attach command of an ssh variant: through a local sshd, as a remote user would.
    fn attach_through_ssh(&self) -> Command {
        let Some(sshd) = self.sandbox.sshd() else {
            // `available` checked sshd; if it failed to start, this attach fails visibly.
            return self.sandbox.command("false");
        };
        let ssh = sshd.ssh_args();
        let socket = self.socket().display().to_string();
        if self.tool == Tool::FugueSsh {
            let mut cmd = self.sandbox.command(self.sandbox.fugue_binary("fugue"));
            let command = format!("{} -o SetEnv=FUGUE_SOCKET={socket}", ssh.join(" "));
            cmd.env("FUGUE_SSH_COMMAND", command)
                .arg("-H")
                .arg(format!("ssh://127.0.0.1:{}", sshd.port()))
                .args(["attach", NAME]);
            return cmd;
        }
        let mut cmd = self.sandbox.command(&ssh[0]);
        cmd.args(&ssh[1..])
            .args(["-t", "-p", &sshd.port().to_string(), "127.0.0.1"]);
        if self.tool == Tool::SshFugue {
            cmd.arg(self.sandbox.fugue_binary("fugue"))
                .args(["--socket", &socket, "attach", NAME]);
        } else {
            cmd.args(["tmux", "-f", "/dev/null", "-S", &socket]).args([
                "attach-session",
                "-t",
                NAME,
            ]);
        }
        cmd
    }

    /// The tool's server process, as the session's script reported it.
    ///
    /// # Errors
    ///
    /// When the script has not written it within `timeout`.
    pub fn server_pid(&self, timeout: Duration) -> anyhow::Result<u32> {
        let path = self.dir.join("ppid");
        let read = || std::fs::read_to_string(&path).ok()?.trim().parse().ok();
        wait_until(timeout, || read().is_some())
            .with_context(|| format!("the session did not write {}", path.display()))?;
        read().context("unreadable pid file")
    }

    /// `fugue status --json`, for fugue sessions.
    pub fn fugue_status(&self) -> Option<serde_json::Value> {
        if self.tool.base() != Tool::Fugue {
            return None;
        }
        let output = self.fugue().args(["status", "--json"]).output().ok()?;
        serde_json::from_slice(&output.stdout).ok()
    }

    /// Stops the session and its server: the tool's own way, then signals.
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) || self.tool == Tool::Raw {
            return;
        }
        let server = self.server_pid(Duration::ZERO).ok();
        let own_way = match self.tool.base() {
            Tool::Fugue => Some(self.fugue().arg("kill-server").output()),
            Tool::Tmux => Some(self.tmux().arg("kill-server").output()),
            Tool::Screen => Some(self.screen().args(["-S", NAME, "-X", "quit"]).output()),
            // The dtach master exits on SIGTERM, below.
            Tool::Dtach | Tool::Raw => None,
            Tool::FugueSsh | Tool::SshFugue | Tool::SshTmux => None,
        };
        drop(own_way);
        if let Some(pid) = server.and_then(|pid| Pid::from_raw(i32::try_from(pid).ok()?)) {
            let _ = kill_process(pid, Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(3);
            while test_kill_process(pid).is_ok() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = kill_process(pid, Signal::KILL);
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.join(format!("{}.sock", self.tool.name()))
    }

    /// The `fugue` CLI talking to this session's server.
    pub fn fugue(&self) -> Command {
        let mut cmd = self.sandbox.command(self.sandbox.fugue_binary("fugue"));
        cmd.arg("--socket").arg(self.socket());
        cmd
    }

    fn tmux(&self) -> Command {
        let mut cmd = self.sandbox.command("tmux");
        cmd.args(["-f", "/dev/null", "-S"]).arg(self.socket());
        cmd
    }

    fn screen(&self) -> Command {
        let mut cmd = self.sandbox.command("screen");
        cmd.env("SCREENDIR", self.dir.join("screen"))
            .args(["-c", "/dev/null"]);
        cmd
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How long a tool may take to start a session.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Polls `ready` every 5 ms until it holds.
///
/// # Errors
///
/// When `timeout` passes first.
fn wait_until(timeout: Duration, ready: impl Fn() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !ready() {
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Runs a set-up command to completion.
///
/// # Errors
///
/// When it cannot start or fails.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let output = cmd
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !output.status.success() {
        bail!(
            "{:?} failed ({}): {}",
            cmd.get_program(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
