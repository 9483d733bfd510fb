//! Where the server's socket lives: the one rule both the server and the client follow.
//!
//! Order: an explicit path (`--socket`), else `$FUGUE_SOCKET`, else
//! `$XDG_RUNTIME_DIR/fugue/fugue.sock`, else `/tmp/fugue-$UID/fugue.sock`. This module only
//! computes the path; creating and checking the directory is the server's job.

use std::ffi::OsString;
use std::path::PathBuf;

/// The environment variable that names the socket.
pub const SOCKET_ENV: &str = "FUGUE_SOCKET";

/// The socket file's name inside its directory.
pub const SOCKET_FILE_NAME: &str = "fugue.sock";

/// Resolves the socket path from an explicit choice, an environment lookup and the user id.
///
/// `env` is called with a variable name and returns its value; empty values count as unset.
/// Taking the lookup as a function keeps this pure and testable.
pub fn resolve_socket_path(
    explicit: Option<PathBuf>,
    env: impl Fn(&str) -> Option<OsString>,
    uid: u32,
) -> PathBuf {
    let non_empty = |name: &str| env(name).filter(|value| !value.is_empty());
    if let Some(path) = explicit {
        return path;
    }
    if let Some(path) = non_empty(SOCKET_ENV) {
        return PathBuf::from(path);
    }
    if let Some(dir) = non_empty("XDG_RUNTIME_DIR") {
        return PathBuf::from(dir).join("fugue").join(SOCKET_FILE_NAME);
    }
    PathBuf::from(format!("/tmp/fugue-{uid}")).join(SOCKET_FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn explicit_path_wins() {
        let env = env_of(&[
            ("FUGUE_SOCKET", "/a.sock"),
            ("XDG_RUNTIME_DIR", "/run/user/1"),
        ]);
        let path = resolve_socket_path(Some("/x.sock".into()), env, 1);
        assert_eq!(path, PathBuf::from("/x.sock"));
    }

    #[test]
    fn fugue_socket_beats_xdg_runtime_dir() {
        let env = env_of(&[
            ("FUGUE_SOCKET", "/a.sock"),
            ("XDG_RUNTIME_DIR", "/run/user/1"),
        ]);
        assert_eq!(resolve_socket_path(None, env, 1), PathBuf::from("/a.sock"));
    }

    #[test]
    fn xdg_runtime_dir_gets_a_fugue_subdirectory() {
        let env = env_of(&[("XDG_RUNTIME_DIR", "/run/user/1000")]);
        let path = resolve_socket_path(None, env, 1000);
        assert_eq!(path, PathBuf::from("/run/user/1000/fugue/fugue.sock"));
    }

    #[test]
    fn falls_back_to_tmp_with_uid() {
        let env = env_of(&[("FUGUE_SOCKET", ""), ("XDG_RUNTIME_DIR", "")]);
        let path = resolve_socket_path(None, env, 1000);
        assert_eq!(path, PathBuf::from("/tmp/fugue-1000/fugue.sock"));
    }
}
