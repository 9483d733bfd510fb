//! The last steps of a handoff, and the standby process that guards them.
//!
//! [`execute`], in the old server: every descriptor the state names is made inheritable,
//! the state goes into a sealed memfd, a standby process is started from this binary, and
//! the server `exec`s the new binary with `--takeover FD --confirm FD`. If that `exec`
//! fails, this binary takes over again the same way, and the upgrade request is answered
//! with the reason.
//!
//! [`standby`], in the standby process: it holds every descriptor the state names (so the
//! programs keep their PTYs and the clients their sockets whatever happens) and waits on
//! the confirm pipe. The new server writes to it once it serves: the standby process exits.
//! If the pipe closes without a word, the new server died: the standby process execs its
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

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::pipe::PipeFlags;

use super::fds::{adopt, set_inheritable};
use super::state::HandoffState;

/// The binary running now, whatever became of its file.
const SELF_EXE: &str = "/proc/self/exe";
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
    let (memfd, confirm) = match new_memfd().and_then(|memfd| Ok((memfd, confirm_pipe()?))) {
        Ok(opened) => opened,
        Err(err) => fail(&format!("cannot prepare the handoff: {err}")),
    };
    let (confirm_read, confirm_write) = confirm;
    state.keeper = spawn_standby(&memfd, &confirm_read);
    drop(confirm_read);
    if let Err(err) = write_sealed(&memfd, &state) {
        fail(&format!("cannot write the handoff state: {err}"));
    }
    let err = takeover_command(binary, &memfd, Some(&confirm_write)).exec();
    tracing::error!(%err, binary = %binary.display(), "upgrade: cannot start the new binary; this one takes over again");
    if let Some(note) = &mut state.upgrade {
        note.failure = Some(format!("cannot start {}: {err}", binary.display()));
    }
    let again = new_memfd().and_then(|memfd| write_sealed(&memfd, &state).map(|()| memfd));
    if let Ok(memfd) = again {
        let err = takeover_command(Path::new(SELF_EXE), &memfd, Some(&confirm_write)).exec();
        tracing::error!(%err, "upgrade: this binary cannot take over again either");
    }
    fail("no binary could take over")
}

/// Gives up, leaving the standby process (if any) to take over when this process ends.
fn fail(why: &str) -> ! {
    tracing::error!("upgrade: {why}");
    std::process::exit(1)
}

/// `binary --takeover FD [--confirm FD]`, with the state's memfd made inheritable.
fn takeover_command(binary: &Path, memfd: &OwnedFd, confirm: Option<&OwnedFd>) -> Command {
    let mut command = Command::new(binary);
    command.arg0("fugue-server");
    let _ = set_inheritable(memfd, true);
    command.arg("--takeover").arg(memfd.as_raw_fd().to_string());
    if let Some(confirm) = confirm {
        let _ = set_inheritable(confirm, true);
        command
            .arg("--confirm")
            .arg(confirm.as_raw_fd().to_string());
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

/// The standby process: waits for the new server's word, or takes over when it dies
/// without one. Never returns.
pub(crate) fn standby(memfd: RawFd, confirm: RawFd) -> ! {
    let confirmed = adopt(confirm).and_then(|confirm| {
        let mut said = Vec::new();
        File::from(confirm).read_to_end(&mut said)?;
        Ok(said == CONFIRMED)
    });
    if matches!(confirmed, Ok(true)) {
        std::process::exit(0);
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
