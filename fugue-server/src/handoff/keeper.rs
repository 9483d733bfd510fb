//! The last steps of a handoff, and the standby process that guards them.
//!
//! [`execute`], in the old server: every descriptor the state names is made inheritable,
//! the state goes into a sealed memfd, a standby process is started from this binary, and
//! the server `exec`s the new binary with `--takeover FD --confirm FD --keeper PID`. If
//! that `exec` fails, this binary takes over again the same way, and the upgrade request is answered
//! with the reason.
//!
//! [`standby`], in the standby process: it holds every descriptor the state names (so the
//! programs keep their PTYs and the clients their sockets whatever happens) and waits on
//! the confirm pipe. The new server writes to it once it serves: the standby process exits.
//! If the pipe closes without a word, the new server died; if no word comes within
//! [`STANDBY_TIMEOUT`], it hangs, and is killed. Either way the standby process execs its
//! own binary (the old one, which `/proc/self/exe` names even if its file was replaced) to
//! take over from the same state. The programs are then no longer the server's children,
//! so their exit status cannot be read (it is reported as 255).

use std::convert::Infallible;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{MemfdFlags, SealFlags};
use rustix::pipe::PipeFlags;
use rustix::process::Signal;

use super::fds::{adopt, set_inheritable};
use super::state::HandoffState;

/// The binary running now, whatever became of its file.
const SELF_EXE: &str = "/proc/self/exe";
/// How long the standby process waits for the new server's word.
const STANDBY_TIMEOUT: Duration = Duration::from_secs(30);
/// What the new server writes to the confirm pipe once it serves.
pub(crate) const CONFIRMED: &[u8] = b"ok";

/// Makes `descriptors` inheritable, starts the standby process and `exec`s `binary` in
/// takeover mode; never returns (see the module doc).
pub(crate) fn execute(
    mut state: HandoffState,
    descriptors: Vec<OwnedFd>,
    binary: &Path,
) -> Infallible {
    for fd in &descriptors {
        if let Err(err) = set_inheritable(fd, true) {
            tracing::error!(%err, "upgrade: a descriptor cannot cross exec");
        }
    }
    // The state is whole and sealed before the standby process can read it.
    let prepared = sealed_state(&state).and_then(|memfd| Ok((memfd, confirm_pipe()?)));
    let (memfd, (confirm_read, confirm_write)) = match prepared {
        Ok(prepared) => prepared,
        Err(err) => fail(&format!("cannot prepare the handoff: {err}")),
    };
    let keeper = spawn_standby(&memfd, &confirm_read);
    drop(confirm_read);
    let err = takeover_command(binary, &memfd, &confirm_write, keeper).exec();
    tracing::error!(%err, binary = %binary.display(), "upgrade: cannot start the new binary; this one takes over again");
    // Only the standby process keeps the first state; this binary gets one saying why.
    let _ = set_inheritable(&memfd, false);
    if let Some(note) = &mut state.upgrade {
        note.failure = Some(format!("cannot start {}: {err}", binary.display()));
    }
    if let Ok(memfd) = sealed_state(&state) {
        let err = takeover_command(Path::new(SELF_EXE), &memfd, &confirm_write, keeper).exec();
        tracing::error!(%err, "upgrade: this binary cannot take over again either");
    }
    fail("no binary could take over")
}

/// Gives up, leaving the standby process (if any) to take over when this process ends.
fn fail(why: &str) -> ! {
    tracing::error!("upgrade: {why}");
    std::process::exit(1)
}

/// `binary --takeover FD --confirm FD [--keeper PID]`, its descriptors made inheritable.
fn takeover_command(
    binary: &Path,
    memfd: &OwnedFd,
    confirm: &OwnedFd,
    keeper: Option<u32>,
) -> Command {
    let mut command = Command::new(binary);
    command.arg0("fugue-server");
    let _ = set_inheritable(memfd, true);
    let _ = set_inheritable(confirm, true);
    command
        .arg("--takeover")
        .arg(memfd.as_raw_fd().to_string())
        .arg("--confirm")
        .arg(confirm.as_raw_fd().to_string());
    if let Some(pid) = keeper {
        command.arg("--keeper").arg(pid.to_string());
    }
    command
}

/// Starts this binary as the standby process; its pid, or `None` if it could not start
/// (the upgrade goes on without a safety net).
fn spawn_standby(memfd: &OwnedFd, confirm_read: &OwnedFd) -> Option<u32> {
    let _ = set_inheritable(memfd, true);
    let _ = set_inheritable(confirm_read, true);
    let started = Command::new(SELF_EXE)
        .arg0("fugue-server")
        .arg("--standby")
        .arg(memfd.as_raw_fd().to_string())
        .arg("--confirm")
        .arg(confirm_read.as_raw_fd().to_string())
        .stdin(Stdio::null())
        .spawn();
    match started {
        // Dropping the `Child` neither waits nor kills: the new server reaps it.
        Ok(child) => Some(child.id()),
        Err(err) => {
            tracing::warn!(%err, "upgrade: no standby process");
            None
        }
    }
}

/// A new memfd holding `state`, sealed.
fn sealed_state(state: &HandoffState) -> io::Result<OwnedFd> {
    let memfd = new_memfd()?;
    write_sealed(&memfd, state)?;
    Ok(memfd)
}

fn new_memfd() -> io::Result<OwnedFd> {
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    Ok(rustix::fs::memfd_create("fugue-handoff", flags)?)
}

fn confirm_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?)
}

/// Writes the state into `memfd` and seals it: nobody can change it afterwards.
fn write_sealed(memfd: &OwnedFd, state: &HandoffState) -> io::Result<()> {
    let bytes = state.encode().map_err(io::Error::other)?;
    File::from(memfd.try_clone()?).write_all(&bytes)?;
    let seals = SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE | SealFlags::SEAL;
    Ok(rustix::fs::fcntl_add_seals(memfd, seals)?)
}

/// Reads a whole state from its memfd, whatever the file offset.
pub(crate) fn read_state(memfd: &impl AsFd) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let file = File::from(memfd.as_fd().try_clone_to_owned()?);
    let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
    let mut bytes = vec![0; len];
    file.read_exact_at(&mut bytes, 0)?;
    Ok(bytes)
}

/// The standby process: waits for the new server's word, or takes over when it dies (or
/// hangs for [`STANDBY_TIMEOUT`]) without one. Never returns.
///
/// # Safety
///
/// `confirm` must be the pipe the old server left open for this process, which nothing in
/// it owns yet.
pub(crate) unsafe fn standby(memfd: RawFd, confirm: RawFd) -> ! {
    // The process it stands by for: its parent, which `exec`ed the new binary.
    let server = rustix::process::getppid();
    // SAFETY: the caller's guarantee.
    let word = unsafe { adopt(confirm) }.and_then(wait_for_word);
    match word {
        Ok(Word::Confirmed) => std::process::exit(0),
        Ok(Word::Silence) => {
            eprintln!("fugue-server: the new server did not take over in time; stopping it");
            if let Some(server) = server.filter(|_| rustix::process::getppid() == server) {
                let _ = rustix::process::kill_process(server, Signal::KILL);
            }
        }
        Ok(Word::Closed) | Err(_) => {}
    }
    eprintln!("fugue-server: the new server stopped before it took over; taking over again");
    let err = Command::new(SELF_EXE)
        .arg0("fugue-server")
        .arg("--takeover")
        .arg(memfd.to_string())
        .arg("--recovered")
        .exec();
    eprintln!("fugue-server: cannot take over again: {err}");
    std::process::exit(1)
}

/// What the standby process heard.
enum Word {
    Confirmed,
    /// The pipe closed without the word: the new server died.
    Closed,
    /// Nothing within [`STANDBY_TIMEOUT`].
    Silence,
}

fn wait_for_word(confirm: OwnedFd) -> io::Result<Word> {
    let deadline = Instant::now() + STANDBY_TIMEOUT;
    let mut said = Vec::new();
    let mut pipe = File::from(confirm);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = Timespec::try_from(left).map_err(io::Error::other)?;
        let mut fds = [PollFd::new(&pipe, PollFlags::IN)];
        if rustix::event::poll(&mut fds, Some(&timeout))? == 0 {
            return Ok(Word::Silence);
        }
        let mut buf = [0; 16];
        match pipe.read(&mut buf) {
            Ok(0) if said == CONFIRMED => return Ok(Word::Confirmed),
            Ok(0) => return Ok(Word::Closed),
            Ok(n) => said.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
