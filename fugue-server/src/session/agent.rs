//! `AgentLinks`: each session's `SSH_AUTH_SOCK` is a stable path, a symlink in the server's
//! private directory (`<socket dir>/agents/<session id>`), that points at the ssh agent of
//! the client that most recently created the session or attached to it interactively. So a
//! session re-attached from a new ssh login uses that login's agent. A client without an
//! agent leaves the link as it was. Off with `--no-agent-link` (`agent_link = false`).

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use uuid::Uuid;

/// Where the links live; `None` when the feature is off.
#[derive(Debug, Clone)]
pub(crate) struct AgentLinks {
    dir: Option<PathBuf>,
}

impl AgentLinks {
    /// Links in `<socket dir>/agents`, if `on`.
    pub(crate) fn new(socket_path: &Path, on: bool) -> Self {
        let dir = socket_path.parent().map(|dir| dir.join("agents"));
        AgentLinks {
            dir: dir.filter(|_| on),
        }
    }

    /// The link of session `id`: its programs' `SSH_AUTH_SOCK`.
    pub(crate) fn path(&self, id: Uuid) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.join(id.simple().to_string()))
    }

    /// Points session `id`'s link at `agent`, replacing it atomically.
    ///
    /// # Errors
    ///
    /// When the directory or the link cannot be made.
    pub(crate) fn point(&self, id: Uuid, agent: &Path) -> io::Result<()> {
        let (Some(dir), Some(link)) = (&self.dir, self.path(id)) else {
            return Ok(());
        };
        // Inside the server's own private directory; private itself, as it names the
        // clients' agents.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        // A client inside a session has that session's link as its agent: follow it to
        // the agent itself, so that this link outlives that session (and never points
        // at itself).
        let agent = match agent.strip_prefix(dir) {
            Ok(_) => std::fs::read_link(agent)?,
            Err(_) => agent.to_path_buf(),
        };
        // Unique, so that two attaches at once each make their own before one wins.
        let fresh = dir.join(format!(".{}.{}", id.simple(), Uuid::new_v4().simple()));
        std::os::unix::fs::symlink(&agent, &fresh)?;
        std::fs::rename(&fresh, &link).inspect_err(|_| {
            let _ = std::fs::remove_file(&fresh);
        })
    }

    /// Removes session `id`'s link (its session ended).
    pub(crate) fn remove(&self, id: Uuid) {
        if let Some(link) = self.path(id) {
            let _ = std::fs::remove_file(link);
        }
    }
}

/// Checks an agent path a client sent: absolute, without NUL, of a sane length.
pub(crate) fn valid_agent_path(path: &str) -> bool {
    path.starts_with('/') && !path.contains('\0') && path.len() <= 4096
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_pointed_again_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let links = AgentLinks::new(&dir.path().join("fugue.sock"), true);
        let id = Uuid::new_v4();
        let link = links.path(id).unwrap();
        links.point(id, Path::new("/run/a.sock")).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/run/a.sock"));
        links.point(id, Path::new("/run/b.sock")).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/run/b.sock"));
        // A client inside another session passes that session's link: it is followed.
        let other = Uuid::new_v4();
        links.point(other, &link).unwrap();
        let other_link = links.path(other).unwrap();
        assert_eq!(
            std::fs::read_link(&other_link).unwrap(),
            Path::new("/run/b.sock")
        );
        links.remove(id);
        assert!(std::fs::symlink_metadata(&link).is_err());
        let off = AgentLinks::new(&dir.path().join("fugue.sock"), false);
        assert_eq!(off.path(id), None);
        off.point(id, Path::new("/x")).unwrap();
    }

    #[test]
    fn agent_paths_are_checked() {
        assert!(valid_agent_path("/tmp/ssh-x/agent.1"));
        assert!(!valid_agent_path("relative"));
        assert!(!valid_agent_path("/a\0b"));
        assert!(!valid_agent_path(&format!("/{}", "x".repeat(5000))));
    }
}
