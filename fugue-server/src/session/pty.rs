//! Starting a program on a fresh PTY, and signalling its process group.
//!
//! This is the only place that creates PTYs; the master is handed to the session task,
//! which is the only one that reads, writes or resizes it.

use std::path::Path;

use fugue_protocol::{SessionSpec, TermSize};
use rustix::process::{Pid, Signal};

use crate::refusal::SpawnError;

/// A program running on a PTY.
pub(crate) struct Spawned {
    pub(crate) pty: pty_process::Pty,
    pub(crate) child: tokio::process::Child,
    pub(crate) pid: u32,
    pub(crate) command: Vec<String>,
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
pub(crate) fn spawn(spec: &SessionSpec, name: &str) -> Result<Spawned, SpawnError> {
    let command = command_line(spec);
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
    let (pty, pts) = pty_process::open().map_err(pty_error("open"))?;
    pty.resize(to_pty_size(spec.size))
        .map_err(pty_error("size"))?;
    let term = spec.term.as_deref().unwrap_or(DEFAULT_TERM);
    let mut cmd = pty_process::Command::new(program)
        .args(args)
        .envs(spec.env.iter().map(|(key, value)| (key, value)))
        .env("TERM", term)
        .env("FUGUE_SESSION", name)
        .kill_on_drop(false);
    if let Some(cwd) = &spec.cwd {
        cmd = cmd.current_dir(cwd);
    }
    let child = cmd.spawn(pts).map_err(|source| SpawnError::Exec {
        program: program.clone(),
        source,
    })?;
    let pid = child
        .id()
        .ok_or_else(|| SpawnError::Vanished(program.clone()))?;
    Ok(Spawned {
        pty,
        child,
        pid,
        command,
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
