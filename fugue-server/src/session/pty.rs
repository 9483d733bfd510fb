//! A session's operating-system side: starting its program on a fresh PTY, the PTY's
//! master ([`Master`]), the program's process ([`Program`]) and signals to its group.
//!
//! This is the only place that creates PTYs and the only module with `unsafe` code. A
//! master and a program are plain descriptors and a pid, so a server that took over from
//! another process (an upgrade) drives the ones it inherited exactly like its own.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use bytes::BytesMut;
use fugue_protocol::{ExitStatus, SessionSpec, TermSize};
use rustix::process::{Pid, PidfdFlags, Signal, WaitId, WaitIdOptions};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::integration;
use crate::refusal::SpawnError;

/// A program just started on a PTY.
pub(crate) struct Spawned {
    pub(crate) master: Master,
    pub(crate) program: Program,
    pub(crate) command: Vec<String>,
    /// It was started with fugue's shell integration.
    pub(crate) integrated: bool,
}

/// The `TERM` a program gets when the client names none.
const DEFAULT_TERM: &str = "xterm-256color";

/// The program and arguments to run: the spec's command, else `$SHELL`, else `/bin/sh`.
fn command_line(spec: &SessionSpec) -> Vec<String> {
    if !spec.command.is_empty() {
        return spec.command.clone();
    }
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|shell| !shell.is_empty())
        .unwrap_or_else(|| "/bin/sh".to_owned());
    vec![shell]
}

/// Starts the spec's program on a new PTY of the spec's size, as a session leader with the
/// PTY as its controlling terminal.
///
/// # Errors
///
/// What could not be started, and why.
pub(crate) fn spawn(
    spec: &SessionSpec,
    name: &str,
    integration_dir: Option<&Path>,
) -> Result<Spawned, SpawnError> {
    let command = command_line(spec);
    let integration = integration_dir.and_then(|dir| {
        integration::for_command(&command, &spec.env, dir)
            .inspect_err(|err| tracing::warn!(%err, "no shell integration"))
            .ok()
            .flatten()
    });
    let (program, args) = command.split_first().ok_or(SpawnError::EmptyCommand)?;
    if let Some(cwd) = &spec.cwd
        && !Path::new(cwd).is_dir()
    {
        return Err(SpawnError::NotADirectory {
            program: program.clone(),
            cwd: cwd.clone(),
        });
    }
    let pty_error = |what| move |source| SpawnError::Pty { what, source };
    let (pty, pts) = pty_process::blocking::open().map_err(pty_error("open"))?;
    pty.resize(to_pty_size(spec.size))
        .map_err(pty_error("size"))?;
    let term = spec.term.as_deref().unwrap_or(DEFAULT_TERM);
    let integrated = integration.is_some();
    let integration = integration.unwrap_or_default();
    let mut cmd = pty_process::blocking::Command::new(program)
        .args(args)
        .args(&integration.args)
        .envs(spec.env.iter().map(|(key, value)| (key, value)))
        .envs(integration.env.iter().map(|(key, value)| (key, value)))
        .env("TERM", term)
        .env("FUGUE_SESSION", name);
    if let Some(cwd) = spec.cwd.clone().or_else(home) {
        cmd = cmd.current_dir(cwd);
    }
    // The `Child` is only a pid: dropping it neither kills nor reaps the program, which
    // the session waits for through a pidfd.
    let child = cmd.spawn(pts).map_err(|source| SpawnError::Exec {
        program: program.clone(),
        source,
    })?;
    let pid = child.id();
    let io_error = |what| {
        move |err: io::Error| SpawnError::Pty {
            what,
            source: err.into(),
        }
    };
    let program = Program::adopt(pid).map_err(io_error("watch the program of"))?;
    let master = Master::new(pty.into()).map_err(io_error("register"))?;
    Ok(Spawned {
        master,
        program,
        command,
        integrated,
    })
}

/// The PTY size for a terminal size.
pub(crate) fn to_pty_size(size: TermSize) -> pty_process::Size {
    pty_process::Size::new(size.rows, size.cols)
}

/// Sends `signal` to the program's process group (the program leads its own session, so
/// its group holds everything it started in the foreground). Errors mean the group is gone.
pub(crate) fn signal_group(pid: u32, signal: Signal) {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    if rustix::process::kill_process_group(pid, signal).is_err() {
        // The leader may have left its group already; signal it directly as a fallback.
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// The master side of a session's PTY, non-blocking and registered with the runtime.
pub(crate) struct Master {
    fd: AsyncFd<OwnedFd>,
}

impl Master {
    /// Takes over a PTY master descriptor.
    ///
    /// # Errors
    ///
    /// When it cannot be made non-blocking or registered (it is then closed).
    pub(crate) fn new(fd: OwnedFd) -> io::Result<Self> {
        let flags = rustix::fs::fcntl_getfl(&fd)?;
        rustix::fs::fcntl_setfl(&fd, flags | rustix::fs::OFlags::NONBLOCK)?;
        // SAFETY: the `AsyncFd` owns `fd`, so the descriptor stays open for as long as it
        // is registered and is closed only when the `AsyncFd` is dropped (or given back by
        // `into_fd`, which deregisters it first).
        let fd =
            unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE | Interest::WRITABLE) }
                .map_err(io::Error::from)?;
        Ok(Master { fd })
    }

    /// Reads what the program wrote into the spare capacity of `buf`, waiting until there
    /// is something. Linux reports EIO once the last slave descriptor has closed.
    pub(crate) async fn read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
        loop {
            let mut ready = self.fd.readable().await?;
            if let Ok(read) = ready.try_io(|fd| read_into(fd.get_ref(), buf)) {
                return read;
            }
        }
    }

    /// Writes some of `data` for the program, waiting until the PTY takes any.
    pub(crate) async fn write(&self, data: &[u8]) -> io::Result<usize> {
        loop {
            let mut ready = self.fd.writable().await?;
            let written = ready.try_io(|fd| Ok(rustix::io::write(fd.get_ref(), data)?));
            if let Ok(written) = written {
                return written;
            }
        }
    }

    /// The descriptor's number (for a handoff state).
    pub(crate) fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(self.fd.get_ref())
    }

    /// The descriptor, no longer registered with the runtime (for a handoff).
    pub(crate) fn into_fd(self) -> OwnedFd {
        self.fd.into_inner()
    }

    /// Sets the terminal size the program sees.
    pub(crate) fn resize(&self, size: TermSize) -> io::Result<()> {
        let winsize = rustix::termios::Winsize::from(to_pty_size(size));
        Ok(rustix::termios::tcsetwinsize(self.fd.get_ref(), winsize)?)
    }
}

/// Reads into the spare capacity of `buf` (which must have some).
fn read_into(fd: &OwnedFd, buf: &mut BytesMut) -> io::Result<usize> {
    let (filled, _) = rustix::io::read(fd, buf.spare_capacity_mut())?;
    let n = filled.len();
    // SAFETY: `read` initialised the first `n` bytes of the spare capacity, which directly
    // follow the buffer's initialised part.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// A session's program: its pid, and a pidfd that turns readable when it exits.
pub(crate) struct Program {
    pid: u32,
    pidfd: AsyncFd<OwnedFd>,
}

impl Program {
    /// Watches process `pid`: this server's child, or (after a recovered upgrade) a program
    /// that outlived the server that started it.
    ///
    /// # Errors
    ///
    /// When the process is gone or its pidfd cannot be registered.
    pub(crate) fn adopt(pid: u32) -> io::Result<Self> {
        let raw = i32::try_from(pid).ok().and_then(Pid::from_raw);
        let pid_of = raw.ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let fd = rustix::process::pidfd_open(pid_of, PidfdFlags::empty())?;
        // SAFETY: as for `Master::new`: the `AsyncFd` owns the descriptor it watches.
        let pidfd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(Program { pid, pidfd })
    }

    /// The program's pid.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the program to exit and reaps it. `None`: it exited, but it is not this
    /// process's child (a recovered upgrade), so its status cannot be known.
    pub(crate) async fn wait(&self) -> io::Result<Option<ExitStatus>> {
        loop {
            let mut ready = self.pidfd.readable().await?;
            let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG;
            match rustix::process::waitid(WaitId::PidFd(self.pidfd.get_ref().as_fd()), options) {
                Ok(Some(status)) => return Ok(Some(exit_status(status))),
                Ok(None) => ready.clear_ready(),
                Err(rustix::io::Errno::CHILD) => return Ok(None),
                Err(err) => return Err(err.into()),
            }
        }
    }
}

fn exit_status(status: rustix::process::WaitIdStatus) -> ExitStatus {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => ExitStatus::Code { code },
        (None, Some(signal)) => ExitStatus::Signal { signal },
        (None, None) => ExitStatus::Code { code: 0 },
    }
}

/// Where a session starts when its client names no directory (one on another machine,
/// through `fugue -H`, has none that means anything here): the user's home, as ssh
/// would land there, if it is a directory.
fn home() -> Option<String> {
    std::env::var("HOME")
        .ok()
        .filter(|home| Path::new(home).is_dir())
}
