//! File descriptors the server inherited from whoever started it must not leak into the
//! programs of its sessions (a shell's `exec 7>file` would otherwise stay open in every
//! session for as long as it runs). Rust opens everything of its own close-on-exec, so
//! marking the inherited ones the same way at start-up is enough.

use std::os::fd::{BorrowedFd, RawFd};

use rustix::io::FdFlags;

/// Marks every descriptor above stderr close-on-exec. Call first thing in `main`, before
/// any other thread exists.
pub(crate) fn keep_inherited_fds_from_children() {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: nothing else runs yet, so no other code can close `fd` while it is
        // borrowed for this one call; the directory handle listed above is closed by now,
        // and a descriptor that is gone only makes the call fail with EBADF, ignored.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        if let Ok(flags) = rustix::io::fcntl_getfd(borrowed) {
            let _ = rustix::io::fcntl_setfd(borrowed, flags | FdFlags::CLOEXEC);
        }
    }
}
