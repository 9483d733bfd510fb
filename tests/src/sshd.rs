//! A real OpenSSH server for the remote-session tests: `sshd` on 127.0.0.1 and a free port,
//! with a throwaway host key and a throwaway user key authorized for the current user.
//!
//! Logins through it run with `PATH` starting at the built binaries and with the
//! [`Fugue`] world's socket and configuration (`environment=` options on the authorized
//! key), so `fugue proxy` on the "remote" side reaches the test's own server. The bench
//! (`cargo xtask bench`) uses it too, passing each session's socket with `SetEnv`. The
//! client side runs `ssh -F <dir>/ssh_config` ([`Sshd::ssh_command`], for
//! `FUGUE_SSH_COMMAND`), which uses the user key, trusts the host key without asking, and
//! never prompts. Dropping it kills the listener and every connection's process.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

use crate::tmux::{Fugue, binaries, poll_until, processes};

/// The OpenSSH server program.
const SSHD: &str = "/usr/sbin/sshd";

/// A running `sshd` for one test.
#[derive(Debug)]
pub struct Sshd {
    dir: TempDir,
    child: Child,
    port: u16,
    /// Connection processes left running when the listener was stopped (its pid is then
    /// reaped, and may name another process: it is not looked at again).
    orphans: Option<Vec<u32>>,
}

impl Sshd {
    /// Starts sshd for logins into `fugue`'s world.
    pub fn start(fugue: &Fugue) -> Sshd {
        Sshd::start_with_path(fugue, &binaries().dir)
    }

    /// Starts sshd whose logins find programs only in `bin_dir` and the system's
    /// directories (a directory without `fugue` makes a remote without fugue).
    pub fn start_with_path(fugue: &Fugue, bin_dir: &Path) -> Sshd {
        let env = [
            ("FUGUE_SOCKET", fugue.socket().display().to_string()),
            (
                "FUGUE_CONFIG",
                fugue.dir().join("config.toml").display().to_string(),
            ),
        ];
        Sshd::start_for(bin_dir, &env)
    }

    /// Starts sshd whose logins have `PATH` = `bin_dir`, then the system's directories, and
    /// the variables `env`; a client may also pass `FUGUE_SOCKET` (`ssh -o SetEnv=…`).
    pub fn start_for(bin_dir: &Path, env: &[(&str, String)]) -> Sshd {
        let dir = tempfile::Builder::new()
            .prefix("fugue-sshd-")
            .tempdir()
            .expect("tempdir");
        keygen(&dir.path().join("host_key"));
        keygen(&dir.path().join("user_key"));
        keygen(&dir.path().join("stranger_key"));
        let public = fs::read_to_string(dir.path().join("user_key.pub")).expect("user key");
        let mut options = format!("environment=\"PATH={}:/usr/bin:/bin\"", bin_dir.display());
        for (name, value) in env {
            options.push_str(&format!(",environment=\"{name}={value}\""));
        }
        write(
            &dir.path().join("authorized_keys"),
            &format!("{options} {public}"),
        );
        // As root, sshd wants its privilege-separation directory.
        let _ = fs::create_dir_all("/run/sshd");
        let port = free_port();
        write_configs(dir.path(), port);
        let child = spawn_sshd(dir.path());
        let sshd = Sshd {
            dir,
            child,
            port,
            orphans: None,
        };
        sshd.wait_listening();
        sshd
    }

    fn wait_listening(&self) {
        poll_until("sshd to listen", || {
            TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
    }

    /// `ssh://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ssh://127.0.0.1:{}", self.port)
    }

    /// The ssh command line for `FUGUE_SSH_COMMAND`.
    pub fn ssh_command(&self) -> String {
        format!("ssh -F {}", self.dir.path().join("ssh_config").display())
    }

    /// The port sshd listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The ssh program and its arguments, as [`Sshd::ssh_command`] has them.
    pub fn ssh_args(&self) -> Vec<String> {
        let config = self.dir.path().join("ssh_config").display().to_string();
        vec!["ssh".to_owned(), "-F".to_owned(), config]
    }

    /// An ssh command line that offers a key sshd does not know: a refused login.
    pub fn stranger_command(&self) -> String {
        format!(
            "ssh -F {} -o IdentityFile={}",
            self.dir.path().join("stranger_config").display(),
            self.dir.path().join("stranger_key").display()
        )
    }

    /// The end of sshd's log, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Stops accepting connections (kills the listener); open connections go on.
    pub fn stop_listening(&mut self) {
        if self.orphans.is_some() {
            return;
        }
        self.orphans = Some(self.descendants());
        crate::tmux::signal(self.child.id(), rustix::process::Signal::KILL);
        let _ = self.child.wait();
    }

    /// Listens again, on the same port, after [`Sshd::stop_listening`].
    pub fn listen_again(&mut self) {
        let Some(orphans) = self.orphans.take() else {
            return;
        };
        self.child = spawn_sshd(self.dir.path());
        self.wait_listening();
        // The connections from before are not the new listener's: end them now.
        for pid in orphans {
            crate::tmux::signal(pid, rustix::process::Signal::KILL);
        }
    }

    /// Lets only `stranger_key` in from now on: the user key is refused.
    pub fn refuse_user_key(&self) {
        let stranger =
            fs::read_to_string(self.dir.path().join("stranger_key.pub")).expect("stranger key");
        write(&self.dir.path().join("authorized_keys"), &stranger);
    }

    /// sshd's processes for the connections now open (the listener's children).
    pub fn connection_pids(&self) -> Vec<u32> {
        processes()
            .filter(|process| process.parent == self.child.id())
            .map(|process| process.pid)
            .collect()
    }
}

impl Sshd {
    /// The listener and its sshd descendants.
    fn descendants(&self) -> Vec<u32> {
        let mut found = vec![self.child.id()];
        let mut next = 0;
        while next < found.len() {
            let parent = found[next];
            found.extend(
                processes()
                    .filter(|process| process.parent == parent && process.name.contains("sshd"))
                    .map(|process| process.pid),
            );
            next += 1;
        }
        found
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let doomed = match self.orphans.take() {
            Some(orphans) => orphans,
            None => self.descendants(),
        };
        for pid in doomed {
            crate::tmux::signal(pid, rustix::process::Signal::KILL);
        }
        let _ = self.child.wait();
    }
}

/// Runs sshd with the configuration in `dir`.
fn spawn_sshd(dir: &Path) -> Child {
    Command::new(SSHD)
        .arg("-D")
        .arg("-f")
        .arg(dir.join("sshd_config"))
        .arg("-E")
        .arg(dir.join("sshd.log"))
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {SSHD} (openssh-server): {err}"))
}

/// The `ssh` processes `parent` runs.
pub fn ssh_children(parent: u32) -> Vec<u32> {
    processes()
        .filter(|process| process.parent == parent && process.name == "ssh")
        .map(|process| process.pid)
        .collect()
}

/// Writes sshd's and ssh's configurations into `dir`.
fn write_configs(dir: &Path, port: u16) {
    let path = |name: &str| dir.join(name).display().to_string();
    let sshd_config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
         PermitUserEnvironment yes\nAcceptEnv FUGUE_SOCKET\nPasswordAuthentication no\nKbdInteractiveAuthentication \
         no\nUsePAM no\nStrictModes no\nPidFile none\nPermitRootLogin prohibit-password\n\
         LogLevel ERROR\n",
        path("host_key"),
        path("authorized_keys"),
    );
    write(&dir.join("sshd_config"), &sshd_config);
    let client = |key: &str| {
        format!(
            "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile /dev/null\n  \
             StrictHostKeyChecking no\n  BatchMode yes\n  LogLevel ERROR\n",
            path(key)
        )
    };
    write(&dir.join("ssh_config"), &client("user_key"));
    write(&dir.join("stranger_config"), &client("stranger_key"));
}

fn write(path: &PathBuf, text: &str) {
    fs::write(path, text).unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
}

/// A fresh ed25519 key pair at `path` and `path.pub`, without a passphrase.
fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}
