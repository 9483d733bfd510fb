//! `Stream`: a session's numbered output, as the session task records it.
//!
//! Each chunk read from the PTY gets the next sequence number, goes into the replay ring
//! (for clients that resume after a gap) and to the screen model (for snapshots and
//! captures), and is encoded once into the frame that every attached client is sent. The
//! screen model is optional: if its thread stops, the session goes on without screen
//! restore, and [`Stream::stop_model`] is the one place that says so.

use std::time::Duration;

use bytes::Bytes;
use fugue_protocol::{CaptureFormat, ServerCodec, ServerMessage, TermSize};
use tokio::sync::oneshot;
use tokio::time::Instant;
use uuid::Uuid;

use super::ring::ReplayRing;
use super::screen::{Capture, HistoryReplay, ModelGone, ModelState, ScreenModel};
use crate::clients::Outbound;
use crate::config::Config;

/// How long an upgrade waits for the screen model's export.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// Largest piece of replayed output per `Output` frame when a client resumes.
const REPLAY_PIECE: usize = 256 * 1024;
/// A screen model that skipped output in a flood catches up once the output has paused
/// this long.
const QUIET: Duration = Duration::from_millis(50);

/// The numbered output of one session.
pub(super) struct Stream {
    session: Uuid,
    /// Sequence number of the last chunk read (0 before any output).
    seq: u64,
    ring: ReplayRing,
    model: Option<ScreenModel>,
    codec: ServerCodec,
    /// When the program last printed anything.
    last_output: Instant,
}

impl Stream {
    /// An empty stream for a screen of `size`, with its screen model started.
    pub(super) fn new(session: Uuid, name: &str, size: TermSize, config: &Config) -> Self {
        let ring = ReplayRing::new(config.replay_ring_bytes);
        Self::with(session, name, size, config, ring, None)
    }

    /// The stream of a session carried over from another server: its output up to `seq`,
    /// the ring's chunks, and the screen model as it exported it.
    pub(super) fn restored(
        session: Uuid,
        name: &str,
        size: TermSize,
        config: &Config,
        (seq, chunks, model): (u64, Vec<(u64, Bytes)>, Option<ModelState>),
    ) -> Self {
        let ring = ReplayRing::restored(config.replay_ring_bytes, chunks, seq);
        let mut stream = Self::with(session, name, size, config, ring, model);
        stream.seq = seq;
        stream
    }

    fn with(
        session: Uuid,
        name: &str,
        size: TermSize,
        config: &Config,
        ring: ReplayRing,
        model: Option<ModelState>,
    ) -> Self {
        let restored = model.is_some();
        let model = match ScreenModel::start(name, size, config.scrollback_lines, model) {
            Ok(model) => Some(model),
            Err(err) => {
                tracing::error!(%session, %err, "no screen model: screen restore is off");
                None
            }
        }
        .map(|mut model| {
            if restored {
                // The model stands for everything up to the ring's newest chunk.
                model.mark_current(ring.newest_seq());
            } else if ring.newest_seq() > 0 {
                model.mark_behind();
            }
            model
        });
        Stream {
            session,
            seq: 0,
            ring,
            model,
            codec: ServerCodec::with_max_frame_len(config.max_frame_len),
            last_output: Instant::now(),
        }
    }

    /// Everything another server needs to go on with this stream: the position, the
    /// ring's chunks, and the screen model brought up to date and exported.
    pub(super) async fn export(&mut self) -> (u64, Vec<(u64, Bytes)>, Option<ModelState>) {
        self.catch_up();
        let model = match &self.model {
            Some(model) => match tokio::time::timeout(EXPORT_TIMEOUT, model.export()).await {
                Ok(Ok(state)) => Some(state),
                // The next server rebuilds the screen from the ring instead.
                Ok(Err(ModelGone)) | Err(_) => {
                    self.stop_model();
                    None
                }
            },
            None => None,
        };
        let chunks = self.ring.chunks().cloned().collect();
        (self.seq, chunks, model)
    }

    /// The position of the last chunk.
    pub(super) fn seq(&self) -> u64 {
        self.seq
    }

    /// When the last chunk came (or the stream started).
    pub(super) fn last_output(&self) -> Instant {
        self.last_output
    }

    /// Records the next chunk and returns it as an `Output` message, encoded once for
    /// every client (as a plain message in the unlikely case it cannot be encoded).
    pub(super) fn push(&mut self, data: Bytes) -> Outbound {
        self.seq += 1;
        self.ring.push(self.seq, data.clone());
        self.last_output = Instant::now();
        if let Some(model) = &mut self.model
            && model.feed(self.seq, data.clone()).is_err()
        {
            self.stop_model();
        }
        self.encode(ServerMessage::Output {
            session: self.session,
            seq: self.seq,
            data,
        })
    }

    /// Encodes a message once, for several clients.
    pub(super) fn encode(&self, msg: ServerMessage) -> Outbound {
        match self.codec.encode_frame(&msg) {
            Ok(frame) => Outbound::Frame(frame),
            Err(err) => {
                tracing::error!(session = %self.session, %err, "cannot encode a frame");
                Outbound::Message(msg)
            }
        }
    }

    /// The output after `after`, as `(seq, bytes)` pieces, if the ring still holds all of
    /// it (`None` also for a position in the future).
    pub(super) fn replay_since(&self, after: u64) -> Option<Vec<(u64, Bytes)>> {
        self.ring.since(after, self.seq, REPLAY_PIECE)
    }

    /// Whether the model skipped output in a flood and has not caught up yet.
    pub(super) fn model_behind(&self) -> bool {
        self.model.as_ref().is_some_and(ScreenModel::is_behind)
    }

    /// When a model that is behind should catch up by itself: once the program has been
    /// quiet for a moment, and the model has parsed what it was given before (while it is
    /// busy, this looks again a moment later).
    pub(super) fn catch_up_due(&self) -> Option<Instant> {
        let model = self.model.as_ref().filter(|model| model.is_behind())?;
        if model.is_busy() {
            Some(Instant::now() + QUIET)
        } else {
            Some(self.last_output + QUIET)
        }
    }

    /// The catch-up nobody waits for: done only if the model is not busy, so that its queue
    /// stays bounded however slow it is. Returns whether the model is current now.
    pub(super) fn catch_up_if_idle(&mut self) -> bool {
        if self.model.as_ref().is_some_and(ScreenModel::is_busy) {
            return false;
        }
        self.catch_up();
        true
    }

    /// Brings a model that skipped output up to date (from the ring), for a request that
    /// needs the screen as of now.
    pub(super) fn catch_up(&mut self) {
        self.with_model(|model, ring| model.catch_up(ring));
    }

    /// Resizes the model, after the output so far.
    pub(super) fn resize(&mut self, size: TermSize) {
        self.with_model(|model, ring| model.resize(size, ring));
    }

    /// Asks the model for a capture, which it sends on `reply`; with no model, `reply` is
    /// dropped and the caller learns that from the closed channel.
    pub(super) fn capture(
        &mut self,
        format: CaptureFormat,
        scrollback_lines: usize,
        reply: oneshot::Sender<Capture>,
    ) {
        let seq = self.seq;
        self.with_model(|model, ring| {
            model.catch_up(ring)?;
            model.capture(format, scrollback_lines, seq, reply)
        });
    }

    /// Bytes that redraw the screen as of the last chunk (empty without a model), after
    /// replaying `history` into the client terminal's scrollback if asked.
    pub(super) async fn snapshot(&mut self, history: Option<HistoryReplay>) -> Bytes {
        self.catch_up();
        let Some(model) = &self.model else {
            return Bytes::new();
        };
        match model.snapshot(history).await {
            Ok(snapshot) => snapshot,
            Err(ModelGone) => {
                self.stop_model();
                Bytes::new()
            }
        }
    }

    /// Runs `f` on the model, if there is one; a model that turns out gone is dropped.
    fn with_model(
        &mut self,
        f: impl FnOnce(&mut ScreenModel, &ReplayRing) -> Result<(), ModelGone>,
    ) {
        if let Some(model) = &mut self.model
            && f(model, &self.ring).is_err()
        {
            self.stop_model();
        }
    }

    /// The model's thread is gone: the session goes on without screen restore.
    fn stop_model(&mut self) {
        tracing::error!(session = %self.session, "screen model stopped: screen restore is off");
        self.model = None;
    }
}
