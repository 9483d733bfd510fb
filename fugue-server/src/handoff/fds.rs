//! Descriptors crossing `exec`: the old server makes them inheritable, the new one adopts
//! them by number. This module holds the handoff's only `unsafe` code.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use rustix::io::FdFlags;

/// Lets `fd` survive `exec` (`inheritable`) or closes it there, as every descriptor this
/// server opens is by default.
///
/// # Errors
///
/// When the flags cannot be read or set.
pub(crate) fn set_inheritable(fd: impl AsFd, inheritable: bool) -> io::Result<()> {
    let flags = rustix::io::fcntl_getfd(&fd)?;
    let flags = if inheritable {
        flags - FdFlags::CLOEXEC
    } else {
        flags | FdFlags::CLOEXEC
    };
    Ok(rustix::io::fcntl_setfd(&fd, flags)?)
}

/// Takes ownership of descriptor `raw`, inherited from the server this one replaces, and
/// marks it close-on-exec again, so that no program a session starts inherits it.
///
/// # Safety
///
/// Nothing else in this process may own `raw`: it must be a number the previous server
/// left open for this one (named in its state or on the command line), adopted once.
///
/// # Errors
///
/// When `raw` is a standard stream's or not an open descriptor.
pub(crate) unsafe fn adopt(raw: RawFd) -> io::Result<OwnedFd> {
    if raw <= 2 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("descriptor {raw} is a standard stream"),
        ));
    }
    // SAFETY: borrowed for this one call only; an fd that is not open makes it fail with
    // EBADF, and nothing in this process closes descriptors it did not open itself.
    let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
    rustix::io::fcntl_getfd(borrowed)?;
    // SAFETY: `raw` is open (checked above), and the caller guarantees that nothing else
    // owns it, so this `OwnedFd` is its only owner.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_inheritable(&fd, false)?;
    Ok(fd)
}

/// Adopts every descriptor in `raws`, each exactly once, in order.
///
/// # Safety
///
/// As for [`adopt`], for every number in `raws`.
///
/// # Errors
///
/// When a number repeats or cannot be adopted (those adopted before it are closed).
pub(crate) unsafe fn adopt_all(raws: &[RawFd]) -> io::Result<Vec<OwnedFd>> {
    let mut sorted = raws.to_vec();
    sorted.sort_unstable();
    if sorted.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the handoff state names a descriptor twice",
        ));
    }
    // SAFETY: the numbers are distinct (checked above), and the caller guarantees that
    // nothing else in this process owns them.
    raws.iter().map(|&raw| unsafe { adopt(raw) }).collect()
}
