//! Real `fugue-server` processes, and what `/proc` says about processes: for the fault,
//! load and security tests, which kill, stop, starve or measure a server from outside.
//!
//! A [`ServerProcess`] is the server binary run in the foreground as a child of the test,
//! so the test can signal it, read its exit status, count its file descriptors and read its
//! memory and CPU time. It is killed (SIGKILL) on drop if it is still running.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use rustix::process::{Resource, Rlimit, Signal};

use crate::EVENT_TIMEOUT;
use crate::poll::{POLL_INTERVAL, poll_blocking};
use crate::tmux::binaries;

/// Clock ticks per second in `/proc/PID/stat` (`USER_HZ`, 100 on every Linux ABI that
/// fugue builds for).
const USER_HZ: u64 = 100;

/// How a [`ServerProcess`] is started.
#[derive(Debug, Default, Clone)]
pub struct ServerOptions {
    /// Extra arguments after `--socket PATH`.
    pub args: Vec<String>,
    /// Extra environment variables (the rest is cleared but for `PATH`).
    pub env: Vec<(String, String)>,
    /// Soft and hard `RLIMIT_NOFILE` for the server, set between fork and exec.
    pub max_fds: Option<u64>,
}

/// The `fugue-server` binary running in the foreground as this test's child.
pub struct ServerProcess {
    child: Child,
    /// The socket it serves.
    pub socket: PathBuf,
    /// Where its standard error (its log, unless `--log-file` is given) goes.
    pub stderr_path: PathBuf,
}

impl ServerProcess {
    /// Starts a server on `socket` with default options and waits until it accepts.
    pub fn start(socket: &Path) -> ServerProcess {
        ServerProcess::start_with(socket, ServerOptions::default())
    }

    /// Starts a server on `socket` as `options` say and waits until it accepts.
    pub fn start_with(socket: &Path, options: ServerOptions) -> ServerProcess {
        let server = ServerProcess::spawn(socket, options);
        server.wait_ready();
        server
    }

    /// Starts a server without waiting for it.
    pub fn spawn(socket: &Path, options: ServerOptions) -> ServerProcess {
        let dir = socket.parent().expect("socket has a directory");
        let log_dir = dir.parent().unwrap_or(dir);
        let stderr_path = log_dir.join(format!(
            "server-{}.stderr",
            socket
                .file_name()
                .map_or("x".into(), |n| n.to_string_lossy())
        ));
        let stderr = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_path)
            .expect("server stderr file");
        let mut command = Command::new(&binaries().server);
        command
            .arg("--socket")
            .arg(socket)
            .args(&options.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SHELL", "/bin/sh")
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        if let Some(max_fds) = options.max_fds {
            let limit = Rlimit {
                current: Some(max_fds),
                maximum: Some(max_fds),
            };
            // SAFETY: setrlimit is a single system call: async-signal-safe, and it touches
            // no memory shared with the parent. It is all that runs between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    rustix::process::setrlimit(Resource::Nofile, limit).map_err(Into::into)
                });
            }
        }
        let child = command.spawn().expect("spawn fugue-server");
        ServerProcess {
            child,
            socket: socket.to_owned(),
            stderr_path,
        }
    }

    /// Waits until the socket accepts a connection; fails the test if the server exits or
    /// takes longer than [`EVENT_TIMEOUT`].
    pub fn wait_ready(&self) {
        let accepted = poll_blocking(EVENT_TIMEOUT, POLL_INTERVAL, || {
            assert!(
                self.is_running(),
                "fugue-server exited during start-up:\n{}",
                self.log_tail()
            );
            std::os::unix::net::UnixStream::connect(&self.socket).map(drop)
        });
        if let Err(err) = accepted {
            panic!(
                "fugue-server did not accept in time ({err}):\n{}",
                self.log_tail()
            );
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has not exited (a zombie not yet waited for counts as exited).
    pub fn is_running(&self) -> bool {
        state(self.pid()).is_some_and(|state| state != 'Z')
    }

    /// Sends `signal` to the server.
    pub fn signal(&self, signal: Signal) {
        crate::tmux::signal(self.pid(), signal);
    }

    /// Waits for the server to exit; fails the test after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let child = &mut self.child;
        let exited = poll_blocking(limit, POLL_INTERVAL, || {
            child.try_wait().expect("wait for fugue-server").ok_or(())
        });
        exited.unwrap_or_else(|()| {
            panic!(
                "fugue-server did not exit within {limit:?}:\n{}",
                self.log_tail()
            )
        })
    }

    /// Open file descriptors of the server.
    pub fn fd_count(&self) -> usize {
        fd_count(self.pid())
    }

    /// The numbers of the server's open file descriptors.
    pub fn fd_numbers(&self) -> Vec<usize> {
        fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
            .collect()
    }

    /// Resident memory of the server in KiB.
    pub fn rss_kib(&self) -> u64 {
        crate::rss_kib(self.pid())
    }

    /// CPU time (user plus system) the server has used so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time(self.pid())
    }

    /// What the server has written to standard error.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The end of what the server wrote to standard error, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Open file descriptors of process `pid` (0 if it cannot be read).
pub fn fd_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// The fields of `/proc/PID/stat` after the command name: field 3 (state) is index 0.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (name) state ...`; the name may hold spaces and parentheses.
    let (_, tail) = stat.rsplit_once(')')?;
    Some(tail.split_whitespace().map(str::to_owned).collect())
}

/// The state letter of process `pid` (`R`, `S`, `T`, `Z`, ...), `None` if it is gone.
pub fn state(pid: u32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

/// Whether `pid` is alive: it exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    state(pid).is_some_and(|state| state != 'Z')
}

/// The command name of process `pid` (`/proc/PID/comm`).
pub fn name(pid: u32) -> Option<String> {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim_end().to_owned())
}

/// The parent of process `pid`.
pub fn parent(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// CPU time (user plus system) process `pid` has used, zero if it cannot be read.
pub fn cpu_time(pid: u32) -> Duration {
    // Fields 14 and 15 of the stat line: indexes 11 and 12 after the name.
    let ticks = stat_fields(pid)
        .map(|fields| {
            let field =
                |i: usize| -> u64 { fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(0) };
            field(11) + field(12)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 1000 / USER_HZ)
}

/// The processes whose parent is `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    let entries = fs::read_dir("/proc").into_iter().flatten().flatten();
    entries
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| parent(child) == Some(pid))
        .collect()
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit and returns the new soft
/// limit, for tests that hold many connections open.
pub fn raise_fd_limit() -> u64 {
    let limit = rustix::process::getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    rustix::process::setrlimit(Resource::Nofile, raised).expect("raise RLIMIT_NOFILE");
    rustix::process::getrlimit(Resource::Nofile)
        .current
        .unwrap_or(u64::MAX)
}
