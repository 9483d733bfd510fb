//! The running `ssh HOST fugue proxy` behind a remote connection, and what its exit says
//! when the connection broke before the handshake: ssh's status and the end of its
//! standard error sort a failure into final (a refused login, no `fugue` there) and
//! transient (the network).

use std::io;
use std::pin::Pin;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};
use tokio::task::JoinHandle;

use crate::error::ClientError;

/// How much of ssh's standard error is kept to explain a failure.
const STDERR_KEPT: usize = 4096;
/// How long a failed ssh may take to exit once its output has ended.
const EXIT_WAIT: Duration = Duration::from_secs(3);

/// Reads ssh's standard error to its end, keeping the last [`STDERR_KEPT`] bytes.
pub(super) async fn keep_tail(mut stderr: ChildStderr, kept: Arc<Mutex<Vec<u8>>>) {
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
    pub(super) host: String,
    pub(super) stdin: ChildStdin,
    pub(super) stdout: ChildStdout,
    pub(super) child: Child,
    pub(super) stderr: Arc<Mutex<Vec<u8>>>,
    pub(super) collector: JoinHandle<()>,
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
