//! Sessions on another machine, through OpenSSH: `ssh://[USER@]HOST[:PORT]`.
//!
//! The client runs `ssh -T HOST fugue proxy` (the program and its options from
//! [`SSH_COMMAND_ENV`] if set) and speaks its usual frames over the child's standard input
//! and output; `fugue proxy` on the remote host relays them to the remote user's own server.
//! ssh does the transport and the authentication, with everything the user's ssh
//! configuration says. Its standard error is kept (the last few KiB, never shown on the
//! terminal) to explain a failure: a refused login is final, a lost network is
//! [`ClientError::is_transient`], and a remote without `fugue` says so.

use std::io;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;

use crate::error::ClientError;

/// The environment variable holding the ssh command line, split like a shell would.
pub const SSH_COMMAND_ENV: &str = "FUGUE_SSH_COMMAND";

/// How much of ssh's standard error is kept to explain a failure.
const STDERR_KEPT: usize = 4096;
/// How long a failed ssh may take to exit once its output has ended.
const EXIT_WAIT: Duration = Duration::from_secs(3);

/// A host reached through ssh. Parse one with [`Remote::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    user: Option<String>,
    host: String,
    port: Option<u16>,
    ssh: Vec<String>,
    batch: bool,
}

impl Remote {
    /// Parses `ssh://[USER@]HOST[:PORT]` (an IPv6 address in brackets).
    ///
    /// # Errors
    ///
    /// A sentence saying what is wrong with `url`.
    pub fn parse(url: &str) -> Result<Remote, String> {
        let rest = url
            .strip_prefix("ssh://")
            .ok_or_else(|| format!("{url:?} is not an ssh://[USER@]HOST[:PORT] address"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, hostport)) => (Some(user), hostport),
            None => (None, rest),
        };
        let (host, port) = split_port(hostport).map_err(|why| format!("{url:?}: {why}"))?;
        for (what, word) in [("user", user.unwrap_or("x")), ("host", host)] {
            let bad = word.is_empty()
                || word.starts_with('-')
                || word.contains(|c: char| c.is_whitespace() || c.is_control() || c == '/');
            if bad {
                return Err(format!("{url:?}: not a valid {what}"));
            }
        }
        Ok(Remote {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port,
            ssh: vec!["ssh".to_owned()],
            batch: false,
        })
    }

    /// Runs `command` (a program and its first arguments) instead of `ssh`.
    pub fn with_ssh_command(mut self, command: Vec<String>) -> Self {
        if !command.is_empty() {
            self.ssh = command;
        }
        self
    }

    /// Never prompts for a password or passphrase (ssh's `BatchMode`): for reconnecting
    /// while the terminal is in raw mode, where a prompt could not be answered.
    pub fn non_interactive(mut self) -> Self {
        self.batch = true;
        self
    }

    /// The host, as given.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Splits an ssh command line (`$FUGUE_SSH_COMMAND`) into words as a shell would.
    ///
    /// # Errors
    ///
    /// Unbalanced quotes, or no program at all.
    pub fn split_command(line: &str) -> Result<Vec<String>, String> {
        match shlex::split(line) {
            Some(words) if !words.is_empty() => Ok(words),
            Some(_) => Err(format!("{SSH_COMMAND_ENV} names no program")),
            None => Err(format!("{SSH_COMMAND_ENV} has unbalanced quotes: {line}")),
        }
    }

    /// Starts ssh running `fugue proxy` (with `--start` to start the remote server).
    pub(crate) fn spawn(&self, auto_start: bool) -> Result<SshLink, ClientError> {
        let mut command = Command::new(&self.ssh[0]);
        command.args(&self.ssh[1..]);
        if self.batch {
            command.args(["-o", "BatchMode=yes"]);
        }
        command.arg("-T");
        if let Some(port) = self.port {
            command.arg("-p").arg(port.to_string());
        }
        if let Some(user) = &self.user {
            command.arg("-l").arg(user);
        }
        command.arg("--").arg(&self.host).args(["fugue", "proxy"]);
        if auto_start {
            command.arg("--start");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| ClientError::Ssh {
                host: self.host.clone(),
                message: format!("cannot run {}: {err}", self.ssh[0]),
                transient: false,
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ClientError::Handshake("ssh has no pipes".to_owned()));
        };
        let kept = Arc::new(Mutex::new(Vec::new()));
        let collector = tokio::spawn(keep_tail(stderr, Arc::clone(&kept)));
        Ok(SshLink {
            host: self.host.clone(),
            stdin,
            stdout,
            child,
            stderr: kept,
            collector,
        })
    }
}

/// Splits `HOST[:PORT]` or `[V6]:PORT`.
fn split_port(hostport: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed [")?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    let port = port
        .map(|port| {
            port.parse::<u16>()
                .map_err(|_| format!("bad port {port:?}"))
        })
        .transpose()?;
    Ok((host, port))
}

/// Reads ssh's standard error to its end, keeping the last [`STDERR_KEPT`] bytes.
async fn keep_tail(mut stderr: ChildStderr, kept: Arc<Mutex<Vec<u8>>>) {
    let mut chunk = [0u8; 1024];
    while let Ok(n @ 1..) = stderr.read(&mut chunk).await {
        let mut kept = kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.extend_from_slice(&chunk[..n]);
        let excess = kept.len().saturating_sub(STDERR_KEPT);
        kept.drain(..excess);
    }
}

/// A running `ssh HOST fugue proxy`: its output is the server's frames, its input ours.
/// Dropping it kills ssh.
#[derive(Debug)]
pub(crate) struct SshLink {
    host: String,
    stdin: ChildStdin,
    stdout: ChildStdout,
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    collector: JoinHandle<()>,
}

impl SshLink {
    /// Explains why the link ended before the handshake completed (`err`, as the handshake
    /// saw it), from ssh's exit status and standard error.
    pub(crate) async fn failure(mut self, err: ClientError) -> ClientError {
        let status = match tokio::time::timeout(EXIT_WAIT, self.child.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => None,
        };
        if status.is_none() {
            // Still running: the handshake timed out over a live but silent link.
            return err;
        }
        let _ = tokio::time::timeout(EXIT_WAIT, &mut self.collector).await;
        let text = self
            .stderr
            .lock()
            .map(|kept| String::from_utf8_lossy(&kept).into_owned())
            .unwrap_or_default();
        classify(&self.host, status, &text, err)
    }
}

/// The error for an ssh that exited with `status` after printing `stderr`.
fn classify(host: &str, status: Option<ExitStatus>, stderr: &str, err: ClientError) -> ClientError {
    let message = last_lines(stderr);
    let host = host.to_owned();
    match status.and_then(|status| status.code()) {
        Some(255) => ClientError::Ssh {
            transient: !is_final(stderr),
            message: if message.is_empty() {
                "ssh exited with status 255".to_owned()
            } else {
                message
            },
            host,
        },
        Some(127) => ClientError::Remote {
            host,
            message: "`fugue` was not found on its PATH (install fugue there)".to_owned(),
        },
        Some(2) if stderr.contains("unrecognized subcommand") => ClientError::Remote {
            host,
            message: "its `fugue` has no `proxy` command: it is older than this one (update \
                      it)"
            .to_owned(),
        },
        Some(_) if !message.is_empty() => ClientError::Remote {
            message: message
                .strip_prefix("fugue: ")
                .unwrap_or(&message)
                .to_owned(),
            host,
        },
        _ => err,
    }
}

/// Failures that trying again cannot fix: authentication, host keys, configuration.
fn is_final(stderr: &str) -> bool {
    [
        "Permission denied",
        "Host key verification failed",
        "IDENTIFICATION HAS CHANGED",
        "Too many authentication failures",
        "Bad configuration option",
        "no argument after keyword",
        "Bad owner or permissions",
    ]
    .iter()
    .any(|needle| stderr.contains(needle))
}

/// The last three non-empty lines of `text`, joined with "; ".
fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    lines[lines.len().saturating_sub(3)..].join("; ")
}

impl AsyncRead for SshLink {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for SshLink {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stdin).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses() {
        let remote = Remote::parse("ssh://alice@build:2222").unwrap();
        assert_eq!(remote.user.as_deref(), Some("alice"));
        assert_eq!((remote.host(), remote.port), ("build", Some(2222)));
        let remote = Remote::parse("ssh://build/").unwrap();
        assert_eq!(
            (remote.host(), remote.port, remote.user.as_deref()),
            ("build", None, None)
        );
        let remote = Remote::parse("ssh://[::1]:22").unwrap();
        assert_eq!((remote.host(), remote.port), ("::1", Some(22)));
    }

    #[test]
    fn refuses_bad_addresses() {
        for bad in [
            "build",
            "http://build",
            "ssh://",
            "ssh://-oProxyCommand=x",
            "ssh://a b",
            "ssh://build:99999",
            "ssh://build:x",
            "ssh://-l@build",
            "ssh://build/path",
            "ssh://[::1",
        ] {
            assert!(Remote::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn splits_commands_like_a_shell() {
        assert_eq!(
            Remote::split_command("ssh -F '/my dir/config' -q").unwrap(),
            ["ssh", "-F", "/my dir/config", "-q"]
        );
        assert!(Remote::split_command("ssh 'open").is_err());
        assert!(Remote::split_command("  ").is_err());
    }

    #[test]
    fn classifies_failures() {
        use std::os::unix::process::ExitStatusExt;
        let exit = |code: i32| Some(ExitStatus::from_raw(code << 8));
        let closed = || ClientError::Closed;
        let auth = classify(
            "h",
            exit(255),
            "root@h: Permission denied (publickey).\n",
            closed(),
        );
        assert!(!auth.is_transient(), "{auth}");
        let net = classify(
            "h",
            exit(255),
            "ssh: connect to host h port 22: Connection refused\n",
            closed(),
        );
        assert!(net.is_transient(), "{net}");
        let missing = classify("h", exit(127), "bash: fugue: command not found\n", closed());
        assert!(
            missing.to_string().contains("not found on its PATH"),
            "{missing}"
        );
        assert!(!missing.is_transient());
        let proxy = classify(
            "h",
            exit(1),
            "fugue: no fugue-server running on /s\n",
            closed(),
        );
        assert_eq!(
            proxy.to_string(),
            "cannot run fugue on h: no fugue-server running on /s"
        );
    }
}
