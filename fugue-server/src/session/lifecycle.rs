//! `Lifecycle`: where a session's program is between start and the session's end.
//!
//! A session ends once both hold: the program has exited (its status is known) and the PTY
//! has nothing more to read (end of file, or the drain deadline after the exit passed: a
//! background process may hold the PTY open forever). A hang-up (kill request or server
//! shutdown) sends SIGHUP to the program's group and SIGKILL after the grace period.

use std::time::Duration;

use fugue_protocol::ExitStatus;
use rustix::process::Signal;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::pty::signal_group;

/// After the program exits, how long output still in the PTY is read before the session
/// ends.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(250);

/// The program's lifecycle, and the deadlines that move it on.
#[derive(Default)]
pub(super) struct Lifecycle {
    /// How the program ended, once it has.
    exit: Option<ExitStatus>,
    /// The PTY has nothing more to read.
    pty_closed: bool,
    /// After the exit: when reading stops regardless.
    drain_deadline: Option<Instant>,
    /// The program was sent SIGHUP (once is enough).
    hung_up: bool,
    /// After a hang-up: when the program gets SIGKILL.
    kill_deadline: Option<Instant>,
    /// Kill requests to answer once the session is gone.
    kill_replies: Vec<oneshot::Sender<()>>,
}

impl Lifecycle {
    /// Whether the session is over: the program exited and its output is drained.
    pub(super) fn is_over(&self) -> bool {
        self.exit.is_some() && self.pty_closed
    }

    /// Whether the PTY may still have output (and take input).
    pub(super) fn reading(&self) -> bool {
        !self.pty_closed
    }

    /// Whether the program still runs.
    pub(super) fn running(&self) -> bool {
        self.exit.is_none()
    }

    /// Whether a hang-up would do anything: the program runs and was not hung up yet. Once
    /// it has exited its pid may belong to another process, so it is never signalled again.
    pub(super) fn may_hang_up(&self) -> bool {
        self.running() && !self.hung_up
    }

    /// SIGHUP to the program's group now, SIGKILL after `grace`; nothing if a hang-up
    /// would do nothing.
    pub(super) fn hang_up(&mut self, pid: u32, grace: Duration) {
        if !self.may_hang_up() {
            return;
        }
        signal_group(pid, Signal::HUP);
        self.hung_up = true;
        self.kill_deadline = Some(Instant::now() + grace);
    }

    /// A kill request: hang up unless that happened already; `reply` fires at the end.
    pub(super) fn kill(&mut self, reply: oneshot::Sender<()>, pid: u32, grace: Duration) {
        self.kill_replies.push(reply);
        self.hang_up(pid, grace);
    }

    /// When the program is due its SIGKILL, if it was hung up and still runs.
    pub(super) fn kill_due(&self) -> Option<Instant> {
        self.kill_deadline.filter(|_| self.running())
    }

    /// The grace period is over: SIGKILL.
    pub(super) fn kill_now(&mut self, pid: u32) {
        signal_group(pid, Signal::KILL);
        self.kill_deadline = None;
    }

    /// The program exited: read what it left in the PTY until the drain deadline.
    pub(super) fn exited(&mut self, status: std::io::Result<Option<ExitStatus>>) {
        self.exit = Some(exit_status(status));
        self.drain_deadline = Some(Instant::now() + DRAIN_AFTER_EXIT);
    }

    /// When reading stops regardless, once the program has exited.
    pub(super) fn drain_due(&self) -> Option<Instant> {
        self.drain_deadline.filter(|_| self.reading())
    }

    /// The PTY reached its end (or the drain deadline passed).
    pub(super) fn pty_closed(&mut self) {
        self.pty_closed = true;
    }

    /// How the program ended, if it has.
    pub(super) fn exit(&self) -> Option<ExitStatus> {
        self.exit
    }

    /// Whether the program was hung up.
    pub(super) fn hung_up(&self) -> bool {
        self.hung_up
    }

    /// The lifecycle of a session carried over from another server: the program ended
    /// (`exit`), or was hung up and is due its SIGKILL after `grace`.
    pub(super) fn restored(exit: Option<ExitStatus>, hung_up: bool, grace: Duration) -> Self {
        let mut life = Lifecycle {
            hung_up,
            kill_deadline: hung_up.then(|| Instant::now() + grace),
            ..Lifecycle::default()
        };
        if exit.is_some() {
            life.exited(Ok(exit));
        }
        life
    }

    /// How the program ended, and the kill requests to answer once the session is gone.
    pub(super) fn end(self) -> (ExitStatus, Vec<oneshot::Sender<()>>) {
        let status = self.exit.unwrap_or(ExitStatus::Code { code: 0 });
        (status, self.kill_replies)
    }
}

/// The status to report. A program that is not this process's child (one that outlived a
/// failed upgrade) exits with a status nobody can read: it is reported as 255, as is a
/// wait that failed.
fn exit_status(status: std::io::Result<Option<ExitStatus>>) -> ExitStatus {
    match status {
        Ok(Some(status)) => status,
        Ok(None) => {
            tracing::warn!("the session's program is not this server's child: exit status unknown");
            ExitStatus::Code { code: 255 }
        }
        Err(err) => {
            tracing::error!(%err, "cannot wait for the session's program");
            ExitStatus::Code { code: 255 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE_3: ExitStatus = ExitStatus::Code { code: 3 };

    #[test]
    fn the_session_is_over_once_the_program_exited_and_the_pty_closed() {
        let mut life = Lifecycle::default();
        assert!(life.running() && life.reading() && !life.is_over());
        assert_eq!(life.drain_due(), None);
        life.exited(Ok(Some(CODE_3)));
        assert!(!life.running() && !life.is_over());
        assert!(
            life.drain_due().is_some(),
            "the rest of the output is drained"
        );
        life.pty_closed();
        assert!(life.is_over());
        assert_eq!(life.drain_due(), None);
        let (status, replies) = life.end();
        assert_eq!(status, ExitStatus::Code { code: 3 });
        assert!(replies.is_empty());
    }

    #[test]
    fn an_unknown_status_and_a_failed_wait_are_reported_as_255() {
        assert_eq!(exit_status(Ok(Some(CODE_3))), CODE_3);
        assert_eq!(exit_status(Ok(None)), ExitStatus::Code { code: 255 });
        assert_eq!(
            exit_status(Err(std::io::Error::other("gone"))),
            ExitStatus::Code { code: 255 }
        );
    }

    #[test]
    fn no_kill_is_due_once_the_program_exited() {
        let mut life = Lifecycle {
            hung_up: true,
            kill_deadline: Some(Instant::now()),
            ..Lifecycle::default()
        };
        assert!(life.kill_due().is_some() && !life.may_hang_up());
        life.exited(Ok(Some(CODE_3)));
        assert_eq!(life.kill_due(), None);
        assert!(!life.may_hang_up());
    }

    #[test]
    fn a_program_is_hung_up_once_and_never_after_it_exited() {
        let mut life = Lifecycle {
            hung_up: true,
            ..Lifecycle::default()
        };
        life.kill_now(0);
        assert!(!life.may_hang_up(), "SIGKILL sent: no second SIGHUP");
        let mut exited = Lifecycle::default();
        exited.exited(Ok(Some(CODE_3)));
        let (reply, _answer) = oneshot::channel();
        // pid 0 is never signalled (`Pid::from_raw` refuses it); the state is what counts.
        exited.kill(reply, 0, Duration::from_secs(1));
        assert_eq!(exited.kill_due(), None);
        assert_eq!(exited.end().1.len(), 1, "the kill is still answered");
    }
}
