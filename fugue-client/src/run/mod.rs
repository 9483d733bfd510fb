//! [`Client::run`]: type a command into a session's shell, collect what it prints, and
//! return its exit status.
//!
//! How the end (and the start) of the command's output is found:
//!
//! - A shell that marks its commands (`SessionInfo::shell_marks`: fugue's shell integration,
//!   on by default for bash, zsh, fish and sh, or the shell's own OSC 133 marks) is sent
//!   the command as typed. Its output starts after the line feed that ends the echo of the
//!   command line, or after the command-start mark (`C`) where the shell gives one, and
//!   ends at the command-finished mark with the status (`D;N`).
//! - Any other shell gets the command followed by `; printf` of such a mark carrying a
//!   random token, so a prompt or an output that happens to hold a mark cannot end it
//!   early. Its output starts after the echo of that line.
//!
//! Positions keep stale output out: only output after the position at which the command
//! reached the shell counts. A claim on the session serialises concurrent runs.

mod cut;

use std::time::Duration;

use bytes::Bytes;
use fugue_protocol::{MAX_INPUT_CHUNK, SessionInfo};
use serde::Serialize;

use crate::client::Client;
use crate::error::ClientError;
use crate::watch::{Seen, Watcher};
use cut::{Cutter, Framing};

/// How long the session's output must pause before the command is typed.
const SETTLE_QUIET: Duration = Duration::from_millis(50);
/// The longest wait for that pause (a program that prints all the time never pauses).
const SETTLE_LIMIT: Duration = Duration::from_secs(1);

/// How a command run by [`Client::run`] ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunOutcome {
    /// The command's exit status, as its shell reported it (`$?`).
    pub status: i32,
    /// What it printed, as plain text; empty for [`Client::run_with`], which hands it on.
    pub output: String,
    /// The output position at which the command reached the shell.
    pub seq_start: u64,
    /// The output position of the chunk that ended it.
    pub seq_end: u64,
}

impl Client {
    /// Runs `command` in the session's shell and returns its exit status and what it
    /// printed (plain text, without the prompt or the echo of the command line). See the
    /// module docs for how the output is found.
    ///
    /// Waits for other runs on the session to finish first. Bound it with
    /// `tokio::time::timeout`; on a timeout the command goes on running in the session
    /// (send `"\x03"` with [`Client::send_to_session`] to interrupt it).
    ///
    /// # Errors
    ///
    /// [`ClientError::CannotRun`] for a command that is empty, too long or holds control
    /// characters (nothing is typed), or when the session's terminal belongs to another
    /// program (an editor, a running command); [`ClientError::SessionEnded`] when the
    /// session ends first; [`ClientError::OutputGone`] if the output could not be followed
    /// (another, slower attached client cannot cause that, a flood the server had to drop
    /// can); [`ClientError::Server`] with `UnknownSession`.
    pub async fn run(&self, session: &str, command: &str) -> Result<RunOutcome, ClientError> {
        let mut output = String::new();
        let mut outcome = self
            .run_with(session, command, |text| output.push_str(text))
            .await?;
        outcome.output = output;
        Ok(outcome)
    }

    /// [`Client::run`], handing the command's output to `on_output` as it arrives (whole
    /// lines with their `\n`, and a last line without one) instead of collecting it.
    ///
    /// # Errors
    ///
    /// As for [`Client::run`].
    pub async fn run_with(
        &self,
        session: &str,
        command: &str,
        on_output: impl FnMut(&str),
    ) -> Result<RunOutcome, ClientError> {
        check_command(session, command)?;
        self.claim(session).await?;
        let result = self.run_claimed(session, command, on_output).await;
        // Best effort: closing the connection releases the claim too.
        let _ = self.release(session).await;
        result
    }

    async fn run_claimed(
        &self,
        session: &str,
        command: &str,
        on_output: impl FnMut(&str),
    ) -> Result<RunOutcome, ClientError> {
        let id = self.find_session(session).await?.id.to_string();
        let (mut watcher, now) = Watcher::start(self, &id, None).await?;
        // A shell that is still printing its prompt (a run right after another, a shell
        // just started) has not started reading its line yet: typing now would show the
        // command twice, or miss that the shell marks its commands.
        watcher.settle(SETTLE_QUIET, SETTLE_LIMIT, now).await?;
        let info = self.find_session(&id).await?;
        if let Some(foreground) = &info.foreground {
            return Err(ClientError::CannotRun {
                session: info.name,
                reason: format!(
                    "`{}` (pid {}) has its terminal, not its shell",
                    foreground.command, foreground.pid
                ),
            });
        }
        let (typed, framing) = typed_line(&info, command)?;
        let seq_start = self.send_to_session(&id, Bytes::from(typed)).await?;
        follow(&mut watcher, &framing, seq_start, on_output).await
    }

    /// The session `session` names (a name or an id).
    async fn find_session(&self, session: &str) -> Result<SessionInfo, ClientError> {
        let id = uuid::Uuid::parse_str(session).ok();
        let sessions = self.list_sessions().await?;
        sessions
            .into_iter()
            .find(|info| info.name == session || Some(info.id) == id)
            .ok_or_else(|| ClientError::Server {
                code: fugue_protocol::ErrorCode::UnknownSession,
                message: format!("no session named {session:?}"),
            })
    }
}

/// Refuses what cannot be typed as one line in one piece.
fn check_command(session: &str, command: &str) -> Result<(), ClientError> {
    let refuse = |reason: &str| {
        Err(ClientError::CannotRun {
            session: session.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if command.trim().is_empty() {
        return refuse("the command is empty");
    }
    if command.chars().any(char::is_control) {
        return refuse("the command holds a newline or another control character");
    }
    // Room for the typed mark, so that the whole line goes in one write.
    if command.len() > MAX_INPUT_CHUNK - 128 {
        return refuse("the command is too long");
    }
    Ok(())
}

/// Shells that take `CMD; printf …` as one command line (fish's status is `$status`).
const KNOWN_SHELLS: &[&str] = &[
    "bash", "zsh", "fish", "sh", "dash", "ash", "ksh", "mksh", "yash", "busybox",
];

/// The line to type for `command`, and how its end will show.
///
/// # Errors
///
/// [`ClientError::CannotRun`] when the program marks no commands and is not a shell this
/// knows how to type a mark into (typing into `cat` would never end).
fn typed_line(info: &SessionInfo, command: &str) -> Result<(String, Framing), ClientError> {
    if info.shell_marks {
        return Ok((format!("{command}\r"), Framing { token: None }));
    }
    let program = program_name(info.command.first().map_or("", String::as_str));
    if !KNOWN_SHELLS.contains(&program) {
        return Err(ClientError::CannotRun {
            session: info.name.clone(),
            reason: format!(
                "its program, `{program}`, is not a shell that marks its commands' ends \
                 (OSC 133) nor one of {}",
                KNOWN_SHELLS.join(", ")
            ),
        });
    }
    let token = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let status = if program == "fish" { "$status" } else { "$?" };
    let line = format!("{command}; printf '\\033]133;D;%s;fugue={token}\\007' \"{status}\"\r");
    Ok((line, Framing { token: Some(token) }))
}

/// The file name of a session's program.
fn program_name(program: &str) -> &str {
    let name = program.rsplit('/').next().unwrap_or(program);
    name.trim_start_matches('-')
}

/// Follows the output from `seq_start` until the command's end mark.
async fn follow(
    watcher: &mut Watcher,
    framing: &Framing,
    seq_start: u64,
    mut on_output: impl FnMut(&str),
) -> Result<RunOutcome, ClientError> {
    let mut cutter = Cutter::new(framing);
    let mut last = seq_start;
    loop {
        let Seen::Output { seq, pieces } = watcher.next(last).await?;
        last = seq;
        if seq <= seq_start {
            // Before the command reached the shell: not its echo, not its output.
            continue;
        }
        for piece in pieces {
            if let Some(status) = cutter.piece(piece, &mut on_output) {
                return Ok(RunOutcome {
                    status,
                    output: String::new(),
                    seq_start,
                    seq_end: seq,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_that_cannot_be_typed_in_one_line_are_refused() {
        assert!(check_command("s", "echo hi").is_ok());
        for bad in ["", "  ", "echo a\necho b", "echo \x1b[A", "a\tb", "a\rb"] {
            assert!(
                matches!(check_command("s", bad), Err(ClientError::CannotRun { .. })),
                "{bad:?}"
            );
        }
        assert!(check_command("s", &"x".repeat(MAX_INPUT_CHUNK)).is_err());
    }

    #[test]
    fn a_typed_mark_ends_only_with_its_token() {
        let framing = Framing {
            token: Some("abc".into()),
        };
        assert_eq!(framing.finished("3;fugue=abc"), Some(3));
        assert_eq!(framing.finished("0"), None);
        assert_eq!(framing.finished("0;fugue=abd"), None);
        assert!(framing.echo_done("$ ls; printf '...fugue=abc\\007' \"$?\""));
        assert!(!framing.echo_done("$ ls"));
        let shell = Framing { token: None };
        assert_eq!(shell.finished("130"), Some(130));
        assert_eq!(shell.finished(""), None);
    }

    #[test]
    fn program_names_ignore_paths_and_login_dashes() {
        assert_eq!(program_name("/usr/bin/fish"), "fish");
        assert_eq!(program_name("-bash"), "bash");
        assert_eq!(program_name(""), "");
    }
}
