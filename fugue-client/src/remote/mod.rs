//! Sessions on another machine, through OpenSSH: `ssh://[USER@]HOST[:PORT]`.
//!
//! The client runs `ssh -T HOST fugue proxy` (the program and its options from
//! [`SSH_COMMAND_ENV`] if set) and speaks its usual frames over the child's standard input
//! and output; `fugue proxy` on the remote host relays them to the remote user's own server.
//! ssh does the transport and the authentication, with everything the user's ssh
//! configuration says. Its standard error is kept (the last few KiB, never shown on the
//! terminal) to explain a failure: a refused login is final, a lost network is
//! [`ClientError::is_transient`], and a remote without `fugue` says so.

mod child;

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::process::Command;

use crate::error::ClientError;
pub(crate) use child::SshLink;
use child::keep_tail;

/// The environment variable holding the ssh command line, split like a shell would.
pub const SSH_COMMAND_ENV: &str = "FUGUE_SSH_COMMAND";

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
        // Never become a connection master: this ssh is killed on every reconnect, which
        // would take the user's other sessions through it along (an existing master is
        // used, as configured; a ControlMaster given in FUGUE_SSH_COMMAND comes first).
        command.args(["-o", "ControlMaster=no", "-T"]);
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

impl std::fmt::Display for Remote {
    /// The address as `ssh://[USER@]HOST[:PORT]`, followed by the ssh command when it is
    /// not plain `ssh`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ssh://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        if self.ssh != ["ssh"] {
            write!(f, " (through `{}`)", self.ssh.join(" "))?;
        }
        Ok(())
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
        assert_eq!(remote.to_string(), "ssh://[::1]:22");
        let remote = Remote::parse("ssh://a@b:2").unwrap();
        let remote = remote.with_ssh_command(vec!["ssh".into(), "-q".into()]);
        assert_eq!(remote.to_string(), "ssh://a@b:2 (through `ssh -q`)");
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
}
