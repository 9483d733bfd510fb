//! A session across an upgrade: the task stops where it is and gives its state and PTY
//! master ([`CarriedSession`]); the next server restores a task from them. The program
//! never notices: it keeps its PTY, its pid and (the server `exec`s in place) its parent.
//!
//! The task stops between two events of its loop, so everything it read from the PTY is
//! numbered and in the ring, and everything it did not read is still in the PTY for the
//! next server. Input the program has not taken yet (the chunk being written, and what
//! waits in the task's queue) goes along and is written first.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use fugue_registry::ClientId;
use tokio::sync::{mpsc, oneshot};

use super::Sessions;
use super::handle::{Input, SessionCmd, SessionHandle, SessionMeta};
use super::input::PendingInput;
use super::lifecycle::Lifecycle;
use super::members::Resyncs;
use super::pacing::Pacing;
use super::pty::{Master, Program};
use super::scan::OutputScan;
use super::size::SizePolicy;
use super::stream::Stream;
use super::task::{Channels, SessionTask};
use crate::handoff::state::SessionState;

/// How long sessions get to hand their states over (a screen model's export, the longest
/// step, gives up sooner).
const HANDOFF_TIMEOUT: Duration = Duration::from_secs(10);

/// A session on its way to the next server: its PTY master, and its state naming it.
pub(crate) struct CarriedSession {
    pub(crate) master: OwnedFd,
    pub(crate) state: SessionState,
}

impl SessionTask {
    /// Gives everything to the next server instead of ending (see the module doc).
    pub(super) async fn hand_over(
        mut self,
        reply: oneshot::Sender<CarriedSession>,
        input: &mut mpsc::Receiver<Input>,
    ) {
        // Closed first: input sent from now on is refused, not lost with this task.
        input.close();
        let queued = std::iter::from_fn(|| input.try_recv().ok());
        let pending = std::mem::take(&mut self.pending_input);
        let (pending_input, replies) = pending.export(queued);
        let input_replies = replies.into_iter();
        let input_replies = input_replies.map(|(client, id, at)| (client.get(), id, at));
        let (seq, ring, model) = self.stream.export().await;
        let meta = &self.meta;
        let sizes = self.sizes.entries().iter();
        let state = SessionState {
            id: meta.id,
            name: meta.name(),
            command: meta.command.clone(),
            pid: meta.pid,
            master: self.master.as_raw_fd(),
            created_unix_ms: meta.created_unix_ms,
            last_attached_unix_ms: meta.last_attached_unix_ms(),
            size: self.size,
            sizes: sizes.map(|(client, size)| (client.get(), *size)).collect(),
            seq,
            ring,
            model,
            pending_input,
            input_replies: input_replies.collect(),
            claimed_by: meta.claim.holder().map(ClientId::get),
            shell_marks: meta.shell_marks(),
            integrated: self.integrated,
            exit: self.life.exit(),
            hung_up: self.life.hung_up(),
        };
        tracing::info!(session = %meta.id, "session handed over");
        let master = self.master.into_fd();
        let _ = reply.send(CarriedSession { master, state });
    }
}

impl Sessions {
    /// Stops every session and gathers their states; a session that ends meanwhile (its
    /// program exited) is not among them.
    pub(crate) async fn hand_over_all(&self) -> Vec<CarriedSession> {
        let mut answers = Vec::new();
        for handle in self.all() {
            let (reply, answer) = oneshot::channel();
            if handle
                .commands
                .send(SessionCmd::Handoff { reply })
                .await
                .is_ok()
            {
                answers.push(answer);
            }
        }
        let deadline = tokio::time::Instant::now() + HANDOFF_TIMEOUT;
        let answers = answers
            .into_iter()
            .map(|answer| tokio::time::timeout_at(deadline, answer));
        futures_util::future::join_all(answers)
            .await
            .into_iter()
            .filter_map(|answer| answer.ok()?.ok())
            .collect()
    }

    /// Restores a session carried over from another server and starts its task.
    ///
    /// # Errors
    ///
    /// When its PTY master or program cannot be adopted.
    pub(crate) fn restore(
        self: &Arc<Self>,
        state: SessionState,
        master: OwnedFd,
    ) -> std::io::Result<SessionHandle> {
        let master = Master::new(master)?;
        // A program that had exited was reaped already: its pid may be another's now.
        let program = match state.exit {
            Some(_) => None,
            None => Some(Program::adopt(state.pid)?),
        };
        let times = [state.created_unix_ms, state.last_attached_unix_ms];
        let meta = Arc::new(SessionMeta::with(
            state.id,
            state.name.clone(),
            state.command,
            state.pid,
            state.size,
            times,
        ));
        if let Some(client) = state.claimed_by {
            meta.claim.try_take(ClientId::new(client));
        }
        state.shell_marks.then(|| meta.set_shell_marks());
        meta.set_seq(state.seq);
        let replies = state.input_replies.into_iter();
        let replies = replies.map(|(client, id, at)| (ClientId::new(client), id, at));
        let sizes = state.sizes.into_iter();
        let sizes = sizes
            .map(|(client, size)| (ClientId::new(client), size))
            .collect();
        let stream = Stream::restored(
            meta.id,
            &state.name,
            state.size,
            &self.config,
            (state.seq, state.ring, state.model),
        );
        let task = SessionTask {
            sessions: self.clone(),
            meta: meta.clone(),
            master,
            pending_input: PendingInput::restored(state.pending_input, replies.collect()),
            scan: OutputScan::default(),
            active: false,
            answerer: None,
            answerer_left: None,
            integrated: state.integrated,
            stream,
            size: state.size,
            sizes: SizePolicy::from_entries(sizes),
            life: Lifecycle::restored(state.exit, state.hung_up, self.config.kill_grace),
            pacing: Pacing::new(self.config.pacing_stall),
            resyncs: Resyncs::default(),
            handoff: None,
        };
        tracing::info!(session = %meta.id, name = %state.name, pid = meta.pid, "session carried over");
        Ok(self.launch(&state.name, task, program, None))
    }

    /// Publishes a session under `name` and starts its task.
    pub(super) fn launch(
        self: &Arc<Self>,
        name: &str,
        task: SessionTask,
        program: Option<Program>,
        attach: Option<super::InitialAttach>,
    ) -> SessionHandle {
        let (commands, command_rx) = mpsc::channel(super::COMMAND_QUEUE_LEN);
        let (input, input_rx) = mpsc::channel(super::INPUT_QUEUE_LEN);
        let handle = SessionHandle {
            id: task.meta.id,
            meta: task.meta.clone(),
            commands,
            input,
        };
        self.table.insert(name, handle.clone());
        let channels = Channels {
            program,
            commands: command_rx,
            input: input_rx,
        };
        self.tracker.spawn(task.run(channels, attach));
        handle
    }
}
