//! `ServerProcess`: the process behind a socket, pinned so that it can be signalled
//! safely. Used to stop a server of another version, which cannot be asked to stop.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::process::{Pid, PidfdFlags};
use tokio::net::UnixStream;

/// The process that listens on a socket, held by a pidfd opened while a connection to it
/// was open: the process was alive then, so the pidfd cannot name another process that
/// reused its id.
#[derive(Debug)]
pub struct ServerProcess {
    pid: u32,
    pidfd: OwnedFd,
}

impl ServerProcess {
    /// The process that serves the other end of `stream`, if it runs as this user and can
    /// be identified (`None` when its pid is hidden in another pid namespace, or pidfds
    /// are not supported).
    pub(crate) fn serving(stream: &UnixStream) -> Option<ServerProcess> {
        let cred = stream.peer_cred().ok()?;
        if cred.uid() != rustix::process::getuid().as_raw() {
            return None;
        }
        // Zero when the server's pid namespace is not visible from this one.
        let raw = cred.pid()?;
        let pid = Pid::from_raw(raw)?;
        let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok()?;
        Some(ServerProcess {
            pid: u32::try_from(raw).ok()?,
            pidfd,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its pidfd: signal it with `pidfd_send_signal`; it turns readable when the process
    /// exits.
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Takes the pidfd, for waiting on it.
    pub fn into_pidfd(self) -> OwnedFd {
        self.pidfd
    }
}
