//! The session task: the one owner of a PTY master.
//!
//! It reads the program's output (no faster than the fastest client takes it: see
//! `pacing`), numbers each chunk, keeps it in the replay ring, queues it to the screen
//! model and broadcasts it (encoded once) to the attached clients; it writes clients' input
//! to the program without ever letting a full PTY stall the reads; and it answers attach,
//! resize, resync, capture and kill requests in order with the
//! output, which is what keeps each client's stream free of gaps and duplicates.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use fugue_protocol::{DetachReason, ErrorCode, ExitStatus, ServerCodec, ServerMessage, TermSize};
use fugue_registry::ClientId;
use futures_util::FutureExt;
use pty_process::{OwnedReadPty, OwnedWritePty};
use rustix::process::Signal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};

use super::pacing::{Decision, MAX_QUEUED, Pacing};
use super::pty::{signal_group, to_pty_size};
use super::ring::ReplayRing;
use super::screen::ScreenModel;
use super::size::SizePolicy;
use super::{InitialAttach, Input, SessionCmd, SessionMeta};
use crate::outbound::Outbound;
use crate::sessions::Refusal;
use crate::state::Shared;

/// Bytes asked of the PTY per read.
const READ_CHUNK: usize = 64 * 1024;
/// Largest piece of replayed output per `Output` frame when a client resumes.
const REPLAY_PIECE: usize = 256 * 1024;
/// After the program exits, how long output still in the PTY is read before the session
/// ends (a background process may keep the PTY open forever).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(250);
/// How long the final messages may wait for a slow client's queue.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(1);
/// A screen model that skipped output in a flood catches up once the output has paused
/// this long.
const QUIET: Duration = Duration::from_millis(50);
/// A resync asked for while the model is behind (a flood) waits for the output to pause, at
/// most this long: one catch-up of the model and one snapshot then serve every client that
/// asked, instead of one per client.
const RESYNC_WAIT: Duration = Duration::from_millis(500);

pub(crate) struct SessionTask {
    shared: Arc<Shared>,
    meta: Arc<SessionMeta>,
    reader: OwnedReadPty,
    writer: OwnedWritePty,
    model: Option<ScreenModel>,
    ring: ReplayRing,
    codec: ServerCodec,
    /// Sequence number of the last chunk read.
    seq: u64,
    size: TermSize,
    sizes: SizePolicy,
    /// Pending input not yet accepted by the PTY.
    pending_input: Bytes,
    kill_replies: Vec<oneshot::Sender<()>>,
    kill_deadline: Option<Instant>,
    /// When the program last printed anything.
    last_output: Instant,
    /// Whether output may be read now, given how full the clients' queues are.
    pacing: Pacing,
    /// Lagging clients waiting for their resync, and when it is due at the latest.
    resyncs: BTreeSet<ClientId>,
    resync_due: Option<Instant>,
}

impl SessionTask {
    pub(crate) fn new(
        shared: Arc<Shared>,
        meta: Arc<SessionMeta>,
        pty: pty_process::Pty,
        size: TermSize,
    ) -> Self {
        let name = meta.name();
        let model = match ScreenModel::start(&name, size, shared.config.scrollback_lines) {
            Ok(model) => Some(model),
            Err(err) => {
                tracing::error!(session = %meta.id, %err, "no screen model: screen restore is off");
                None
            }
        };
        let (reader, writer) = pty.into_split();
        SessionTask {
            ring: ReplayRing::new(shared.config.replay_ring_bytes),
            codec: ServerCodec::with_max_frame_len(shared.config.max_frame_len),
            shared,
            meta,
            reader,
            writer,
            model,
            seq: 0,
            size,
            sizes: SizePolicy::default(),
            pending_input: Bytes::new(),
            kill_replies: Vec::new(),
            kill_deadline: None,
            last_output: Instant::now(),
            pacing: Pacing::default(),
            resyncs: BTreeSet::new(),
            resync_due: None,
        }
    }

    /// Runs the session until its program has exited and its output is drained.
    pub(crate) async fn run(
        mut self,
        mut child: tokio::process::Child,
        mut commands: mpsc::Receiver<SessionCmd>,
        mut input: mpsc::Receiver<Input>,
        attach: Option<InitialAttach>,
    ) {
        if let Some(first) = attach
            && let Err((_, reason)) = self
                .attach(first.client, first.request_id, first.size, None)
                .await
        {
            tracing::warn!(session = %self.meta.id, client = %first.client, %reason, "cannot attach the creating client");
        }
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let mut pty_eof = false;
        let mut exit: Option<ExitStatus> = None;
        let mut drain_deadline: Option<Instant> = None;
        // The pacing wait's deadline woke the loop (not a client making room).
        let mut stall_fired = false;
        let sessions_token = self.shared.sessions_token.clone();
        let meta = self.meta.clone();
        loop {
            if exit.is_some() && pty_eof {
                break;
            }
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            // Resyncs put off while the model was behind go out as soon as it is current
            // again (an attach or capture may have caught it up).
            if !self.resyncs.is_empty() && !self.model.as_ref().is_some_and(ScreenModel::is_behind)
            {
                self.resync_pending().await;
            }
            // Registered before the queues are looked at, so a client draining in between
            // still wakes this loop.
            let drained = meta.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            // Once the program has exited, the rest of its output is read unpaced until the
            // PTY closes or the drain deadline passes, so that pacing never makes the
            // deadline cut off the program's last words.
            let may_read = exit.is_some() || self.may_read(std::mem::take(&mut stall_fired));
            tokio::select! {
                biased;
                () = sessions_token.cancelled(), if self.kill_deadline.is_none() && exit.is_none() => {
                    self.hang_up();
                }
                Some(cmd) = commands.recv() => self.handle(cmd).await,
                read = self.reader.read_buf(&mut buf), if !pty_eof && may_read => match read {
                    // Linux reports EIO on the master once the last slave fd closes.
                    Ok(0) | Err(_) => pty_eof = true,
                    Ok(_) => {
                        self.read_more(&mut buf);
                        self.on_output(buf.split().freeze()).await;
                    }
                },
                written = self.writer.write(&self.pending_input), if !self.pending_input.is_empty() => {
                    match written {
                        Ok(n) => self.pending_input.advance(n),
                        Err(_) => self.pending_input.clear(),
                    }
                }
                Some(chunk) = input.recv(), if self.pending_input.is_empty() && !pty_eof => {
                    if let Some(client) = chunk.client {
                        self.sizes.touch(client);
                        self.apply_size().await;
                    }
                    self.pending_input = chunk.data;
                }
                status = child.wait(), if exit.is_none() => {
                    exit = Some(exit_status(status));
                    drain_deadline = Some(Instant::now() + DRAIN_AFTER_EXIT);
                }
                () = sleep_until(self.kill_deadline.unwrap_or_else(Instant::now)), if self.kill_deadline.is_some() && exit.is_none() => {
                    signal_group(self.meta.pid, Signal::KILL);
                    self.kill_deadline = None;
                }
                () = sleep_until(drain_deadline.unwrap_or_else(Instant::now)), if drain_deadline.is_some() => {
                    pty_eof = true;
                }
                // Only a pause of the program counts, not one of ours while pacing waits.
                () = sleep_until(self.last_output + QUIET), if may_read && self.model.as_ref().is_some_and(ScreenModel::is_behind) => {
                    self.catch_up_model();
                    self.resync_pending().await;
                }
                () = sleep_until(self.resync_due.unwrap_or_else(Instant::now)), if self.resync_due.is_some() => {
                    self.resync_pending().await;
                }
                // Waiting for room: a client drained, or the wait hit its limit; look again.
                () = &mut drained, if !pty_eof && !may_read => {}
                () = sleep_until(self.pacing.stall_deadline().unwrap_or_else(Instant::now)), if !pty_eof && !may_read => {
                    stall_fired = true;
                }
            }
        }
        let status = exit.unwrap_or(ExitStatus::Code { code: 0 });
        self.finish(status).await;
    }

    /// Whether output may be read now (see `pacing`): the fastest client that keeps up has
    /// room, or nobody keeps up, or the wait for room has lasted too long, in which case
    /// the clients waited for are marked lagging first. `stall_fired`: the wait's deadline
    /// is what woke the session; only then is a late resume a missed wake-up (the session
    /// may also have been busy, answering an attach, say).
    fn may_read(&mut self, stall_fired: bool) -> bool {
        let registry = &self.shared.registry;
        let shortest = registry.shortest_queue(&self.meta.id);
        let decision = self.pacing.decide(shortest, Instant::now());
        let missed_wake_up = decision == Decision::Late && stall_fired;
        if missed_wake_up || decision == Decision::GiveUp {
            self.shared.pacing_timeouts.fetch_add(1, Ordering::Relaxed);
        }
        match decision {
            Decision::Read => true,
            Decision::Wait => false,
            Decision::Late => {
                if missed_wake_up {
                    tracing::debug!(session = %self.meta.id, "a client made room without waking the session");
                }
                true
            }
            Decision::GiveUp => {
                let stalled = registry.lag_members_with_queue(&self.meta.id, MAX_QUEUED);
                tracing::debug!(session = %self.meta.id, clients = stalled.len(), "no client made room: reading on without them");
                true
            }
        }
    }

    /// A PTY read returns at most 4 KiB; under heavy output, more is already waiting.
    /// Taking what is ready now (without waiting) makes one larger chunk, so each hop to
    /// the clients (frame, queue, socket write, wake-up) is paid once per 64 KiB, not per
    /// 4 KiB. Interactive output, with nothing more ready, goes out at once.
    fn read_more(&mut self, buf: &mut BytesMut) {
        while buf.len() < READ_CHUNK {
            match self.reader.read_buf(buf).now_or_never() {
                Some(Ok(n)) if n > 0 => {}
                // Not ready, or EOF/EIO, which the next awaited read reports.
                _ => break,
            }
        }
    }

    async fn handle(&mut self, cmd: SessionCmd) {
        match cmd {
            SessionCmd::Attach {
                client,
                request_id,
                size,
                resume_from,
                reply,
            } => {
                let result = self.attach(client, request_id, size, resume_from).await;
                let _ = reply.send(result);
            }
            SessionCmd::Detach { client } => {
                self.sizes.remove(client);
                self.apply_size().await;
            }
            SessionCmd::Resize { client, size } => {
                self.sizes.set(client, size);
                self.apply_size().await;
            }
            SessionCmd::Resync { client } => {
                self.resyncs.insert(client);
                if self.model.as_ref().is_some_and(ScreenModel::is_behind) {
                    self.resync_due
                        .get_or_insert_with(|| Instant::now() + RESYNC_WAIT);
                } else {
                    self.resync_pending().await;
                }
            }
            SessionCmd::Capture {
                format,
                scrollback_lines,
                reply,
            } => {
                if let Some(model) = &mut self.model {
                    // The model answers `reply` itself; if it is gone the caller sees the
                    // dropped sender.
                    let _ = model
                        .catch_up(&self.ring)
                        .and_then(|()| model.capture(format, scrollback_lines, reply));
                }
            }
            SessionCmd::Kill { reply } => {
                self.kill_replies.push(reply);
                if self.kill_deadline.is_none() {
                    self.hang_up();
                }
            }
        }
    }

    /// SIGHUP to the program's group now, SIGKILL after the grace period.
    fn hang_up(&mut self) {
        signal_group(self.meta.pid, Signal::HUP);
        self.kill_deadline = Some(Instant::now() + self.shared.config.kill_grace);
    }

    async fn on_output(&mut self, data: Bytes) {
        self.seq += 1;
        self.ring.push(self.seq, data.clone());
        self.last_output = Instant::now();
        if let Some(model) = &mut self.model
            && model.feed(self.seq, data.clone()).is_err()
        {
            tracing::error!(session = %self.meta.id, "screen model stopped: screen restore is off");
            self.model = None;
        }
        let msg = ServerMessage::Output {
            session: self.meta.id,
            seq: self.seq,
            data,
        };
        match self.codec.encode_frame(&msg) {
            Ok(frame) => {
                let report = self
                    .shared
                    .registry
                    .broadcast_to_session(&self.meta.id, Outbound::Frame(frame));
                if !report.disconnected.is_empty() {
                    tracing::debug!(session = %self.meta.id, gone = report.disconnected.len(), "clients left during output");
                }
            }
            Err(err) => tracing::error!(session = %self.meta.id, %err, "cannot encode output"),
        }
    }

    /// Brings a model that skipped output during a flood up to date.
    fn catch_up_model(&mut self) {
        if let Some(model) = &mut self.model
            && model.catch_up(&self.ring).is_err()
        {
            tracing::error!(session = %self.meta.id, "screen model stopped: screen restore is off");
            self.model = None;
        }
    }

    async fn snapshot(&mut self) -> Bytes {
        let Some(model) = &mut self.model else {
            return Bytes::new();
        };
        let snapshot = match model.catch_up(&self.ring) {
            Ok(()) => model.snapshot().await,
            Err(gone) => Err(gone),
        };
        match snapshot {
            Ok(snapshot) => snapshot,
            Err(_) => {
                tracing::error!(session = %self.meta.id, "screen model stopped: screen restore is off");
                self.model = None;
                Bytes::new()
            }
        }
    }

    async fn attach(
        &mut self,
        client: ClientId,
        request_id: u32,
        size: Option<TermSize>,
        resume_from: Option<u64>,
    ) -> Result<(), Refusal> {
        if let Some(size) = size {
            self.sizes.set(client, size);
            self.apply_size().await;
        }
        let replay = resume_from.and_then(|after| self.ring.since(after, self.seq, REPLAY_PIECE));
        let snapshot = match replay {
            Some(_) => None,
            None => Some(self.snapshot().await),
        };
        self.meta.touch_attached();
        let registry = &self.shared.registry;
        let mut session = self.meta.info(&self.shared);
        session.attached_clients += 1;
        let attached = ServerMessage::Attached {
            request_id,
            session,
            seq: self.seq,
            snapshot,
        };
        let queued = registry.try_send_to_client(client, attached.into()).is_ok()
            && replay.into_iter().flatten().all(|(seq, data)| {
                let output = ServerMessage::Output {
                    session: self.meta.id,
                    seq,
                    data,
                };
                registry.try_send_to_client(client, output.into()).is_ok()
            });
        let attached = queued && registry.attach_to_session(client, self.meta.id).is_ok();
        if !attached {
            self.sizes.remove(client);
            self.apply_size().await;
            return Err((
                ErrorCode::Internal,
                "the client's queue is full or closed".to_owned(),
            ));
        }
        registry.clear_lagging(client);
        Ok(())
    }

    /// Sends one snapshot to every client waiting for a resync that still lags and is still
    /// attached here, and clears their marks so live output reaches them again.
    async fn resync_pending(&mut self) {
        self.resync_due = None;
        let asked = std::mem::take(&mut self.resyncs);
        let registry = &self.shared.registry;
        let due: Vec<ClientId> = asked
            .into_iter()
            .filter(|&client| {
                registry.is_lagging(client)
                    && registry.get_attached_session(client) == Some(self.meta.id)
            })
            .collect();
        if due.is_empty() {
            return;
        }
        let resync = ServerMessage::Resync {
            seq: self.seq,
            snapshot: self.snapshot().await,
        };
        // Encoded once for every client that waits for it, like output.
        let resync = match self.codec.encode_frame(&resync) {
            Ok(frame) => Outbound::Frame(frame),
            Err(err) => {
                tracing::error!(session = %self.meta.id, %err, "cannot encode a resync");
                Outbound::Message(resync)
            }
        };
        // Only once its snapshot is queued may live output flow to a client again; nothing
        // is broadcast in between because this task is the only broadcaster.
        let registry = &self.shared.registry;
        for client in due {
            if registry.try_send_to_client(client, resync.clone()).is_ok() {
                registry.clear_lagging(client);
            }
        }
    }

    async fn apply_size(&mut self) {
        let Some(size) = self.sizes.current() else {
            return;
        };
        if size == self.size {
            return;
        }
        if let Err(err) = self.writer.resize(to_pty_size(size)) {
            tracing::warn!(session = %self.meta.id, %err, "cannot resize the pty");
            return;
        }
        self.size = size;
        self.meta.set_size(size);
        if let Some(model) = &mut self.model
            && model.resize(size, &self.ring).is_err()
        {
            self.model = None;
        }
    }

    /// Tells attached clients how the program ended, detaches them and forgets the session.
    async fn finish(self, status: ExitStatus) {
        let shared = &self.shared;
        let id = self.meta.id;
        shared.sessions.remove(id);
        let name = self.meta.name();
        tracing::info!(session = %id, %name, ?status, "session ended");
        let exited = ServerMessage::SessionExited {
            session: name,
            status,
        };
        let detached = ServerMessage::Detached {
            reason: DetachReason::SessionEnded,
        };
        for client in shared.registry.get_session_clients(&id) {
            // These two must not be skipped like output to a lagging client: they end the
            // client's attachment. A client that cannot take them within the timeout is
            // stalled and will be dropped by its idle timeout.
            for msg in [exited.clone(), detached.clone()] {
                let send = shared.registry.send_to_client(client, msg.into());
                let _ = tokio::time::timeout(FAREWELL_TIMEOUT, send).await;
            }
            shared.registry.detach_from_session(client);
        }
        for reply in self.kill_replies {
            let _ = reply.send(());
        }
    }
}

fn exit_status(status: std::io::Result<std::process::ExitStatus>) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatus::Code { code },
            (None, Some(signal)) => ExitStatus::Signal { signal },
            (None, None) => ExitStatus::Code { code: 0 },
        },
        Err(err) => {
            tracing::error!(%err, "cannot wait for the session's program");
            ExitStatus::Code { code: 255 }
        }
    }
}
