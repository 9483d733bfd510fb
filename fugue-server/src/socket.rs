//! The socket file: a safe directory, a stale-socket check, a private bind, and removal.
//!
//! The directory must be ours, not a symlink, and not writable by anyone else (so nobody
//! can swap the socket); we create it 0700. The socket is bound under a temporary name,
//! set to 0600, then renamed into place, so it is never reachable with a wider mode.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use tokio::net::UnixListener;

use crate::error::ServerError;

/// Prepares the socket's directory, clears a stale socket, and binds.
///
/// # Errors
///
/// [`ServerError::AlreadyRunning`] if a server answers on `path`;
/// [`ServerError::UnsafeDirectory`] if the directory is someone else's, a symlink, or
/// writable by others; [`ServerError::Io`] if creating, removing or binding fails.
pub fn bind(path: &Path) -> Result<UnixListener, ServerError> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        prepare_dir(dir)?;
    }
    remove_stale(path)?;
    // Bind under a temporary name, make it private, then rename it into place: the socket
    // is never reachable at `path` with a wider mode, and no process-wide umask (which
    // programs spawned meanwhile would inherit) is touched.
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = Path::new(&tmp_name);
    let _ = fs::remove_file(tmp);
    let listener = UnixListener::bind(tmp)
        .map_err(|err| ServerError::io(format!("cannot bind {}", path.display()), err))?;
    let placed = fs::set_permissions(tmp, fs::Permissions::from_mode(0o600))
        .and_then(|()| fs::rename(tmp, path));
    if let Err(err) = placed {
        let _ = fs::remove_file(tmp);
        return Err(ServerError::io(
            format!("cannot place socket at {}", path.display()),
            err,
        ));
    }
    Ok(listener)
}

/// Creates `dir` (mode 0700) if missing, and checks that it is safe to hold the socket.
///
/// # Errors
///
/// As for [`bind`].
pub fn prepare_dir(dir: &Path) -> Result<(), ServerError> {
    let unsafe_dir = |reason: String| ServerError::UnsafeDirectory {
        path: dir.to_owned(),
        reason,
    };
    match fs::symlink_metadata(dir) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|err| ServerError::io(format!("cannot create {}", dir.display()), err))?;
        }
        Err(err) => {
            return Err(ServerError::io(
                format!("cannot inspect {}", dir.display()),
                err,
            ));
        }
        Ok(_) => {}
    }
    let meta = fs::symlink_metadata(dir)
        .map_err(|err| ServerError::io(format!("cannot inspect {}", dir.display()), err))?;
    if meta.file_type().is_symlink() {
        return Err(unsafe_dir(
            "it is a symlink; remove it or choose another path with --socket".into(),
        ));
    }
    if !meta.is_dir() {
        return Err(unsafe_dir("it is not a directory".into()));
    }
    let uid = rustix::process::geteuid().as_raw();
    if meta.uid() != uid {
        return Err(unsafe_dir(format!(
            "it is owned by uid {}, not by you (uid {uid}); remove it or choose another path with --socket",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "other users can write to it (mode {:o}); run `chmod 700 {}`",
            meta.mode() & 0o7777,
            dir.display()
        )));
    }
    Ok(())
}

/// Removes a socket nobody answers on; refuses if a server answers.
fn remove_stale(path: &Path) -> Result<(), ServerError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => {
            return Err(ServerError::io(
                format!("cannot inspect {}", path.display()),
                err,
            ));
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ServerError::io(
            format!("cannot bind {}", path.display()),
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            ),
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(ServerError::AlreadyRunning {
            path: path.to_owned(),
        }),
        Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "removing stale socket");
            fs::remove_file(path).map_err(|err| {
                ServerError::io(
                    format!("cannot remove stale socket {}", path.display()),
                    err,
                )
            })
        }
        Err(err) => Err(ServerError::io(
            format!("cannot check {}", path.display()),
            err,
        )),
    }
}

/// Which file a path named when the server bound it, so shutdown removes only its own
/// socket and never one a newer server bound at the same path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketIdentity {
    dev: u64,
    ino: u64,
}

impl SocketIdentity {
    /// The identity of the file at `path` now, if there is one.
    pub fn of(path: &Path) -> Option<Self> {
        let meta = fs::symlink_metadata(path).ok()?;
        Some(SocketIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// Removes `path` if it is still this file.
    pub fn remove_if_unchanged(self, path: &Path) {
        if SocketIdentity::of(path) == Some(self)
            && let Err(err) = fs::remove_file(path)
        {
            tracing::warn!(path = %path.display(), %err, "cannot remove socket");
        }
    }
}
