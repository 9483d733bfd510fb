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
mod typing;

use std::time::Duration;

use bytes::Bytes;
use fugue_protocol::{MAX_INPUT_CHUNK, SessionInfo};
use serde::Serialize;

use crate::client::Client;
use crate::error::ClientError;
use crate::watch::{Seen, Watcher};
use cut::{Cutter, Framing, Step};
use typing::{check_fish_syntax, typed_line};

/// How long the session's output must pause before the command is typed.
const SETTLE_QUIET: Duration = Duration::from_millis(50);
/// The longest wait for that pause (a program that prints all the time never pauses).
const SETTLE_LIMIT: Duration = Duration::from_secs(1);

/// What [`Client::run_with`] reports as a run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunProgress<'a> {
    /// The command is about to be typed.
    Typing,
    /// Output of the command.
    Output(&'a str),
}

/// Holds a session's claim; gives it back when dropped (a run cancelled midway), as
/// `release` does on the way out.
struct ClaimGuard<'a> {
    client: &'a Client,
    id: String,
    held: bool,
}

impl<'a> ClaimGuard<'a> {
    fn new(client: &'a Client, id: &str) -> Self {
        ClaimGuard {
            client,
            id: id.to_owned(),
            held: true,
        }
    }

    async fn release(&mut self) {
        self.held = false;
        // Best effort: closing the connection releases the claim too.
        let _ = self.client.release(&self.id).await;
    }
}

impl Drop for ClaimGuard<'_> {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, id) = (self.client.clone(), std::mem::take(&mut self.id));
            runtime.spawn(async move { client.release(&id).await });
        }
    }
}

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
        let collect = |progress: RunProgress<'_>| {
            if let RunProgress::Output(text) = progress {
                output.push_str(text);
            }
        };
        let mut outcome = self.run_with(session, command, collect).await?;
        outcome.output = output;
        Ok(outcome)
    }

    /// [`Client::run`], reporting as it goes instead of collecting: `Typing` just before
    /// the command is typed (interrupt it from then on by sending Ctrl-C, before by
    /// dropping the future), then the output as it arrives (whole lines with their `\n`,
    /// and a last line without one).
    ///
    /// # Errors
    ///
    /// As for [`Client::run`].
    pub async fn run_with(
        &self,
        session: &str,
        command: &str,
        on_progress: impl FnMut(RunProgress<'_>),
    ) -> Result<RunOutcome, ClientError> {
        check_command(session, command)?;
        let id = self.find_session(session).await?.id.to_string();
        // Runs on this connection take turns (the server's claim is per connection), then
        // with other connections' (the claim).
        let turn = self.run_turn(&id);
        let _turn = turn.lock().await;
        self.claim(&id).await?;
        let mut claim = ClaimGuard::new(self, &id);
        let result = self.run_claimed(&id, command, on_progress).await;
        claim.release().await;
        result
    }

    async fn run_claimed(
        &self,
        id: &str,
        command: &str,
        mut on_progress: impl FnMut(RunProgress<'_>),
    ) -> Result<RunOutcome, ClientError> {
        let (mut watcher, now) = Watcher::start(self, id, None).await?;
        // A shell that is still printing its prompt (a run right after another, a shell
        // just started) has not started reading its line yet: typing now would show the
        // command twice, or miss that the shell marks its commands.
        watcher.settle(SETTLE_QUIET, SETTLE_LIMIT, now).await?;
        // Where the prompt left the cursor, so that the typed line wraps in the same place
        // as on the terminal (a shell may redraw it by rows).
        let screen = self
            .capture(id, fugue_protocol::CaptureFormat::Plain, 0)
            .await?;
        watcher.at_column(screen.cursor_col);
        let info = self.find_session(id).await?;
        if let Some(foreground) = &info.foreground {
            return Err(ClientError::CannotRun {
                session: info.name,
                reason: format!(
                    "`{}` (pid {}) has its terminal, not its shell",
                    foreground.command, foreground.pid
                ),
            });
        }
        check_fish_syntax(&info, command).await?;
        let (typed, framing) = typed_line(&info, command)?;
        on_progress(RunProgress::Typing);
        let seq_start = self.send_to_session(id, Bytes::from(typed)).await?;
        let on_output = |text: &str| on_progress(RunProgress::Output(text));
        match follow(&mut watcher, &framing, seq_start, on_output).await? {
            Ended::Finished(outcome) => Ok(outcome),
            Ended::Incomplete => {
                // Out of the shell's continuation prompt, so the session is left as found.
                let _ = self.send_to_session(id, Bytes::from_static(b"\x03")).await;
                Err(ClientError::CannotRun {
                    session: info.name,
                    reason: "the command is incomplete: the shell asked for more (an open \
                             quote or bracket, a trailing \\, | or &&); it was cancelled"
                        .to_owned(),
                })
            }
        }
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
    if command.trim_start().starts_with('#') {
        return refuse("the command is only a comment");
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

/// How following a command ended.
enum Ended {
    Finished(RunOutcome),
    /// The shell showed its continuation prompt: the line was not a whole command.
    Incomplete,
}

/// Follows the output from `seq_start` until the command's end mark.
async fn follow(
    watcher: &mut Watcher,
    framing: &Framing,
    seq_start: u64,
    mut on_output: impl FnMut(&str),
) -> Result<Ended, ClientError> {
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
            match cutter.piece(piece, &mut on_output) {
                Some(Step::Finished(status)) => {
                    return Ok(Ended::Finished(RunOutcome {
                        status,
                        output: String::new(),
                        seq_start,
                        seq_end: seq,
                    }));
                }
                Some(Step::Incomplete) => return Ok(Ended::Incomplete),
                None => {}
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
        assert!(check_command("s", "  # a note").is_err());
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
}
