//! The session task: the one owner of a PTY master.
//!
//! It reads the program's output (no faster than the fastest client takes it: see
//! `pacing`), records it in the numbered [`Stream`] and broadcasts it (encoded once) to the
//! attached clients; it writes clients' input to the program without ever letting a full
//! PTY stall the reads; and it answers requests ([`SessionCmd`]) in order with the output,
//! which is what keeps each client's stream free of gaps and duplicates. Who is attached
//! is this task's to change (`members.rs`); the program's lifecycle is [`Lifecycle`].

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use fugue_protocol::{EventKind, TermSize};
use fugue_registry::ClientId;
use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Sessions;
use super::handle::{InitialAttach, Input, SessionCmd, SessionMeta};
use super::handoff::CarriedSession;
use super::input::{self, PendingInput};
use super::lifecycle::Lifecycle;
use super::members::Resyncs;
use super::pacing::Pacing;
use super::pty::{Master, Program};
use super::queries;
use super::scan::OutputScan;
use super::size::SizePolicy;
use super::stream::Stream;
use crate::refusal::Refusal;

/// Bytes asked of the PTY per read.
const READ_CHUNK: usize = 64 * 1024;

/// What the task listens to besides the PTY.
pub(super) struct Channels {
    /// The program, unless it had exited (and was reaped) before a handoff.
    pub(super) program: Option<Program>,
    pub(super) commands: mpsc::Receiver<SessionCmd>,
    pub(super) input: mpsc::Receiver<Input>,
}

pub(super) struct SessionTask {
    pub(super) sessions: Arc<Sessions>,
    pub(super) meta: Arc<SessionMeta>,
    pub(super) master: Master,
    /// Input taken from a client and not yet accepted by the PTY.
    pub(super) pending_input: PendingInput,
    /// What the output holds besides text (bell, title, shell marks).
    pub(super) scan: OutputScan,
    /// Output came since the session was last idle (for activity events).
    pub(super) active: bool,
    /// The client whose terminal answers the program's queries: the latest interactive
    /// client when the last query went out.
    pub(super) answerer: Option<ClientId>,
    /// When the answerer left (see `queries.rs`).
    pub(super) answerer_left: Option<Instant>,
    /// The program was started with fugue's shell integration: its command-end marks are
    /// trusted (`fugue run` types bare commands once it has seen one). Marks from any
    /// other program (a log with marks in it, a remote shell's) are not: they would make
    /// `run` wait for marks that never come.
    pub(super) integrated: bool,
    pub(super) stream: Stream,
    /// The PTY's size, and the policy that picks it from the clients' sizes.
    pub(super) size: TermSize,
    pub(super) sizes: SizePolicy,
    pub(super) life: Lifecycle,
    pub(super) pacing: Pacing,
    pub(super) resyncs: Resyncs,
    /// An upgrade asked the task to stop and give its state here.
    pub(super) handoff: Option<oneshot::Sender<CarriedSession>>,
}

impl SessionTask {
    pub(super) fn new(
        sessions: Arc<Sessions>,
        meta: Arc<SessionMeta>,
        master: Master,
        size: TermSize,
        integrated: bool,
    ) -> Self {
        let stream = Stream::new(meta.id, &meta.name(), size, &sessions.config);
        let pacing = Pacing::new(sessions.config.pacing_stall);
        SessionTask {
            sessions,
            meta,
            master,
            pending_input: PendingInput::default(),
            scan: OutputScan::default(),
            active: false,
            answerer: None,
            answerer_left: None,
            integrated,
            stream,
            size,
            sizes: SizePolicy::default(),
            life: Lifecycle::default(),
            pacing,
            resyncs: Resyncs::default(),
            handoff: None,
        }
    }

    /// Runs the session until its program has exited and its output is drained, then says
    /// goodbye to its clients.
    pub(super) async fn run(mut self, mut channels: Channels, first: Option<InitialAttach>) {
        if let Some(first) = first {
            self.attach_creator(first).await;
        }
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        // Owned copies, so that waiting on them does not borrow `self`.
        let hang_up = self.sessions.hang_up.clone();
        let meta = self.meta.clone();
        while !self.life.is_over() && self.handoff.is_none() {
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            self.send_resyncs_if_current().await;
            self.turn(&mut channels, &mut buf, &hang_up, &meta).await;
        }
        match self.handoff.take() {
            Some(reply) => self.hand_over(reply, &mut channels.input).await,
            None => {
                self.refuse_input(&mut channels.input);
                self.finish().await;
            }
        }
    }

    /// Waits for the first thing to happen (a command, output, room for input, the
    /// program's exit, a deadline) and handles it.
    async fn turn(
        &mut self,
        channels: &mut Channels,
        buf: &mut BytesMut,
        hang_up: &CancellationToken,
        meta: &SessionMeta,
    ) {
        let Channels {
            program,
            commands,
            input,
        } = channels;
        // Armed before the queues are looked at, so a client draining in between still
        // wakes this loop.
        let drained = meta.drained.notified();
        tokio::pin!(drained);
        drained.as_mut().enable();
        let may_read = self.may_read();
        let reading = self.life.reading();
        let waiting_for_room = reading && !may_read;
        tokio::select! {
            biased;
            () = hang_up.cancelled(), if self.life.may_hang_up() => self.hang_up(),
            Some(cmd) = commands.recv() => self.handle(cmd).await,
            read = self.master.read_buf(buf), if reading && may_read => {
                self.on_read(read, buf);
            }
            written = self.master.write(self.pending_input.bytes()), if !self.pending_input.is_empty() => {
                self.wrote(written);
            }
            Some(chunk) = input.recv(), if self.pending_input.is_empty() => {
                self.on_input(chunk);
            }
            status = wait_for(program.as_ref()), if self.life.running() => self.life.exited(status),
            () = sleep_until(self.life.kill_due()) => self.life.kill_now(self.meta.pid),
            () = sleep_until(self.life.drain_due()) => self.life.pty_closed(),
            // Only a pause of the program counts, not one of ours while pacing waits.
            () = sleep_until(self.stream.catch_up_due().filter(|_| may_read)) => {
                if self.stream.catch_up_if_idle() {
                    self.send_resyncs().await;
                }
            }
            () = sleep_until(self.resyncs.due()) => self.send_resyncs().await,
            () = sleep_until(self.idle_due()) => self.went_idle(),
            () = &mut drained, if waiting_for_room => {}
            () = sleep_until(self.pacing.stall_deadline().filter(|_| waiting_for_room)) => {
                self.pacing.deadline_fired();
            }
        }
    }

    /// Whether output may be read now: always once the program has exited (the rest of its
    /// output is read unpaced until the drain deadline, so that pacing never makes the
    /// deadline cut off its last words), else as `pacing` says.
    fn may_read(&mut self) -> bool {
        let sessions = &self.sessions;
        !self.life.running()
            || self
                .pacing
                .may_read(&sessions.registry, &self.meta.id, &sessions.pacing)
    }

    fn on_read(&mut self, read: std::io::Result<usize>, buf: &mut BytesMut) {
        match read {
            // Linux reports EIO on the master once the last slave fd closes.
            Ok(0) | Err(_) => self.life.pty_closed(),
            Ok(_) => {
                self.read_more(buf);
                let data = buf.split().freeze();
                let found = self.scan_if_needed(&data);
                let frame = self.stream.push(data);
                self.meta.set_seq(self.stream.seq());
                let report = self
                    .sessions
                    .registry
                    .broadcast_to_session(&self.meta.id, frame);
                if !report.disconnected.is_empty() {
                    tracing::debug!(session = %self.meta.id, gone = report.disconnected.len(), "clients left during output");
                }
                self.noticed(found);
            }
        }
    }

    /// A PTY read returns at most 4 KiB; under heavy output, more is already waiting.
    /// Taking what is ready now (without waiting) makes one larger chunk, so each hop to
    /// the clients (frame, queue, socket write, wake-up) is paid once per 64 KiB, not per
    /// 4 KiB. Interactive output, with nothing more ready, goes out at once.
    fn read_more(&mut self, buf: &mut BytesMut) {
        while buf.len() < READ_CHUNK {
            match self.master.read_buf(buf).now_or_never() {
                Some(Ok(n)) if n > 0 => {}
                // Not ready, or EOF/EIO, which the next awaited read reports.
                _ => break,
            }
        }
    }

    /// Input is taken one chunk at a time, and only once the PTY has accepted the last:
    /// a program that does not read its input holds up its writers, never its output.
    /// Once the PTY has closed, input has nowhere to go and is dropped (and a `SendInput`
    /// refused), so that its writers are never held up for good.
    fn on_input(&mut self, mut chunk: Input) {
        if let Some(client) = chunk.client {
            // Replies to queries are no typing: they neither make their client the latest
            // nor reach the program unless that client is the one answering.
            let typed = match queries::strip_replies(&chunk.data) {
                None => true,
                Some(rest) => {
                    let typed = !rest.is_empty();
                    if self.answering_client() != Some(client) {
                        chunk.data = Bytes::from(rest);
                    }
                    typed
                }
            };
            if typed {
                self.sizes.touch(client);
                self.apply_size();
            }
            if chunk.data.is_empty() {
                return;
            }
        }
        if !self.life.reading() {
            if let Some((client, request_id)) = chunk.reply {
                let refused = Refusal::InputNotTaken.reply(Some(request_id));
                let _ = self
                    .sessions
                    .registry
                    .try_send_to_client(client, refused.into());
            }
            return;
        }
        if let Some(due) = self.pending_input.take(chunk) {
            input::answer(&self.sessions.registry, due, Some(self.stream.seq()));
        }
    }

    fn wrote(&mut self, written: std::io::Result<usize>) {
        let (done, seq) = match written {
            Ok(n) => (self.pending_input.wrote(n), Some(self.stream.seq())),
            Err(_) => (self.pending_input.drop_all(), None),
        };
        for due in done {
            input::answer(&self.sessions.registry, due, seq);
        }
    }

    /// The session ends: input it never wrote is refused.
    fn refuse_input(&mut self, queue: &mut mpsc::Receiver<Input>) {
        queue.close();
        let mut dues = self.pending_input.drop_all();
        while let Ok(chunk) = queue.try_recv() {
            dues.extend(self.pending_input.take(chunk));
            dues.extend(self.pending_input.drop_all());
        }
        for due in dues {
            input::answer(&self.sessions.registry, due, None);
        }
    }

    async fn handle(&mut self, cmd: SessionCmd) {
        match cmd {
            SessionCmd::Attach {
                client,
                request_id,
                size,
                start,
                reply,
            } => {
                let result = self.attach(client, request_id, size, start).await;
                let _ = reply.send(result);
            }
            SessionCmd::Detach { client, done } => self.detach(client, done),
            SessionCmd::Left { client } => self.left(client),
            // From a member only: a resize that crossed a switch or a detach is stale.
            SessionCmd::Resize { client, size } if self.is_member(client) => {
                self.sizes.set(client, size);
                self.apply_size();
            }
            SessionCmd::Resize { .. } => {}
            SessionCmd::Resync { client } => self.resync_requested(client).await,
            SessionCmd::Capture {
                format,
                scrollback_lines,
                reply,
            } => self.stream.capture(format, scrollback_lines, reply),
            SessionCmd::Kill { reply } => {
                let grace = self.sessions.config.kill_grace;
                self.life.kill(reply, self.meta.pid, grace);
            }
            SessionCmd::Handoff { reply } => self.handoff = Some(reply),
            SessionCmd::Latest { reply } => {
                let members = self.sizes.entries().iter().rev();
                let latest = members.copied().find(|(client, _)| self.is_member(*client));
                let _ = reply.send(latest);
            }
        }
    }

    /// SIGHUP to the program's group now, SIGKILL after the grace period.
    fn hang_up(&mut self) {
        let grace = self.sessions.config.kill_grace;
        self.life.hang_up(self.meta.pid, grace);
    }

    /// Gives the PTY (and the screen model) the size the policy picks, if it changed.
    pub(super) fn apply_size(&mut self) {
        let Some(size) = self.sizes.current() else {
            return;
        };
        if size == self.size {
            return;
        }
        if let Err(err) = self.master.resize(size) {
            tracing::warn!(session = %self.meta.id, %err, "cannot resize the pty");
            return;
        }
        self.size = size;
        self.meta.set_size(size);
        self.stream.resize(size);
        self.publish(EventKind::Resized { size });
    }

    /// Says goodbye to the clients, forgets the session and answers kill requests.
    async fn finish(self) {
        let (status, kill_replies) = self.life.end();
        let exited = EventKind::Exited { status };
        let seq = Some(self.stream.seq());
        let sessions = &self.sessions;
        sessions
            .events
            .publish(&sessions.registry, &self.meta, seq, exited);
        self.sessions.remove(self.meta.id);
        super::members::farewell(&self.sessions.registry, &self.meta, status).await;
        for reply in kill_replies {
            let _ = reply.send(());
        }
    }
}

/// Waits for the program to exit; forever if there is none to wait for.
async fn wait_for(
    program: Option<&Program>,
) -> std::io::Result<Option<fugue_protocol::ExitStatus>> {
    match program {
        Some(program) => program.wait().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `deadline`, or forever without one (a `select!` branch that never fires).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
