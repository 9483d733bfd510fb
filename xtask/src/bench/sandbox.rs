//! The identical conditions every tool runs in: a scratch directory that is `HOME`, a
//! clean environment (`TERM=xterm-256color`, a UTF-8 locale, `/bin/sh`), and no
//! configuration files. The ssh variants attach through a local sshd.

use std::cell::{Cell, OnceCell};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use fugue_tests::sshd::Sshd;

/// The search path given to every tool.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A scratch directory, removed on drop, and the environment commands get.
#[derive(Debug)]
pub struct Sandbox {
    root: PathBuf,
    home: PathBuf,
    release_dir: PathBuf,
    next_dir: Cell<u32>,
    /// The sshd the ssh variants attach through, started when first needed.
    sshd: OnceCell<Option<Sshd>>,
}

impl Sandbox {
    /// Creates the scratch directory under the system's temporary directory (short, as
    /// socket paths must be); `release_dir` holds the fugue binaries.
    ///
    /// # Errors
    ///
    /// When the directories cannot be created.
    pub fn create(release_dir: &Path) -> anyhow::Result<Sandbox> {
        let root = std::env::temp_dir().join(format!("fugue-bench-{}", std::process::id()));
        let home = root.join("home");
        std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
        Ok(Sandbox {
            root,
            home,
            release_dir: release_dir.to_path_buf(),
            next_dir: Cell::new(0),
            sshd: OnceCell::new(),
        })
    }

    /// The scratch directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fugue binary (`fugue` or `fugue-server`).
    pub fn fugue_binary(&self, name: &str) -> PathBuf {
        self.release_dir.join(name)
    }

    /// A local sshd (the tests' throwaway one) whose logins find the fugue binaries first;
    /// `None` if it cannot start (the ssh variants' attaches then fail, and say so).
    pub fn sshd(&self) -> Option<&Sshd> {
        self.sshd
            .get_or_init(|| {
                let release_dir = self.release_dir.clone();
                let started = std::panic::catch_unwind(move || Sshd::start_for(&release_dir, &[]));
                started.ok()
            })
            .as_ref()
    }

    /// A fresh, private directory for one session's sockets and files.
    ///
    /// # Errors
    ///
    /// When it cannot be created.
    pub fn new_dir(&self) -> anyhow::Result<PathBuf> {
        use std::os::unix::fs::DirBuilderExt;
        let index = self.next_dir.get();
        self.next_dir.set(index + 1);
        let dir = self.root.join(format!("s{index}"));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    /// `program` with the clean environment, started in `HOME`.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", PATH)
            .env("HOME", &self.home)
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .env("SHELL", "/bin/sh")
            .env("TMUX_TMPDIR", &self.root)
            .current_dir(&self.home);
        cmd
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Whether `program` is on the sandbox's search path.
pub fn on_path(program: &str) -> bool {
    PATH.split(':')
        .any(|dir| Path::new(dir).join(program).is_file())
}
