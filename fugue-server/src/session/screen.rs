//! The session's screen model: an `avt` virtual terminal on a thread of its own.
//!
//! Parsing costs about 30 MiB/s per core, several times slower than forwarding bytes, so it
//! never sits on the forwarding path: output is queued to the model thread, and the PTY
//! reader never waits for it. The queue is bounded in bytes (`MAX_BACKLOG`). When a flood
//! outruns the parser past that bound, the session stops queueing and the model is
//! *behind*; once the output goes quiet (or a client needs the screen, or the size changes)
//! it catches up from the replay ring: it parses the output it skipped, on top of its own
//! state, but no more than its last rows + scrollback lines. Older output would only
//! scroll out of the scrollback. So a skipped stretch of fewer lines than that, if the
//! ring still holds all of it, is parsed whole and the model is exact; a longer one costs
//! one scrollback's worth of parsing, whatever its length. What the model had before the
//! flood stays (the alternate screen, modes, a header above a scroll region). The price of
//! a long flood: what it changed in the part cut off and never repeated (say, a colour
//! left on, or a mode) is not in the model.
//! Requests (snapshot, capture) travel on the same queue, so each answer reflects exactly
//! the output queued before it; a request made while the model is behind first makes it
//! catch up, so answers are always current.
//!
//! The scrollback beyond the terminal's last few lines is kept compactly by `history`, and
//! `capture` reads the two as one.
//!
//! avt was chosen on measurements made on this project's machine (vttest's screens, fed to
//! each candidate and compared with tmux; the numbers are in the closing note of the issue
//! that made the change). vt100 ignores DECALN, IND, NEL, tab stops and the DEC
//! line-drawing set; alacritty_terminal is about twice as fast but has no snapshot of its
//! own and gets scroll regions wrong; avt writes both screens, saved cursors, tab stops and
//! character sets itself, and what it gets wrong is put right by `repairs.rs`, after which
//! every screen vttest draws as tmux does is restored cell for cell (the end-to-end test
//! `vttest.rs`). It parses somewhat slower than vt100 (48 to 64 against 44 to 85 MiB/s per
//! core here), off the forwarding path; it takes text, so output is decoded as UTF-8 first
//! (`text.rs`). It reflows the primary screen on a resize, as terminals do.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use bytes::Bytes;
use fugue_protocol::{CaptureFormat, TermSize};
use tokio::sync::{mpsc, oneshot};

use model::Model;

/// Cancels an escape sequence the parser may be in the middle of (CAN): put before output
/// that does not follow on from what the model parsed last.
const CANCEL: &[u8] = b"\x18";

/// Bytes of output the model may have queued before the session stops feeding it and lets
/// it catch up later instead (about 8 ms of parsing). A burst that outruns the parser by
/// more is a flood, and parsing all of it would take a core from forwarding it.
const MAX_BACKLOG: usize = 256 << 10;

/// The capture of a screen, as `ServerMessage::Captured` carries it.
#[derive(Debug)]
pub(crate) struct Capture {
    pub(crate) text: String,
    pub(crate) cursor: (u16, u16),
    pub(crate) size: TermSize,
    /// The output position the capture stands for.
    pub(crate) seq: u64,
}

enum ModelCmd {
    Feed(Bytes),
    /// Parse the output skipped while behind (the end of the replay ring).
    CatchUp(Vec<Bytes>),
    Resize(TermSize),
    Snapshot {
        history: Option<HistoryReplay>,
        reply: oneshot::Sender<Bytes>,
    },
    Capture {
        format: CaptureFormat,
        scrollback_lines: usize,
        seq: u64,
        reply: oneshot::Sender<Capture>,
    },
    /// Everything needed to rebuild the model in another server.
    Export(oneshot::Sender<ModelState>),
}

/// Scrollback a snapshot replays first into the client terminal's own scrollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HistoryReplay {
    /// At most this many lines.
    pub(crate) lines: usize,
    /// The client terminal's rows, which the lines are pushed off.
    pub(crate) rows: u16,
}

/// A handle to the model thread; dropping it ends the thread.
pub(crate) struct ScreenModel {
    tx: mpsc::UnboundedSender<ModelCmd>,
    /// Output bytes queued and not yet taken; the thread subtracts what it has taken.
    backlog: Arc<AtomicUsize>,
    /// Lines the model keeps: the screen's rows and the scrollback. Catching up parses no
    /// more of the ring than that many lines.
    lines_kept: usize,
    scrollback: usize,
    /// The sequence number of the last output chunk queued: the model has (or will have)
    /// parsed everything up to it.
    queued_through: u64,
    /// Output after `queued_through` was skipped: the model must catch up from the ring
    /// before it is current.
    behind: bool,
}

/// A stopped model thread: the session goes on without screen restore for the rest of
/// its life, which the caller logs.
#[derive(Debug)]
pub(crate) struct ModelGone;

impl ScreenModel {
    /// Starts the model thread for a screen of `size` keeping `scrollback` lines: blank, or
    /// as `restored` (exported by another server) describes it.
    /// Fails if the thread cannot be started or the size is zero.
    pub(crate) fn start(
        name: &str,
        size: TermSize,
        scrollback: usize,
        restored: Option<ModelState>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(AtomicUsize::new(0));
        let mut model =
            Model::new(size, scrollback, backlog.clone()).map_err(std::io::Error::other)?;
        if let Some(state) = restored {
            model.restore(state);
        }
        thread::Builder::new()
            .name(format!("screen-{name}"))
            .spawn(move || model.run(rx))?;
        Ok(ScreenModel {
            tx,
            backlog,
            lines_kept: usize::from(size.rows) + scrollback,
            scrollback,
            queued_through: 0,
            behind: false,
        })
    }

    /// Queues output chunk `seq` for parsing, never waiting. Past `MAX_BACKLOG` the output
    /// is skipped and the model marked behind: parsing a flood that outruns the parser would
    /// only take a core from forwarding it. [`ScreenModel::catch_up`] parses what was
    /// skipped, from the ring, when the output goes quiet or a request needs the screen.
    pub(crate) fn feed(&mut self, seq: u64, data: Bytes) -> Result<(), ModelGone> {
        if self.behind {
            return Ok(());
        }
        if self.backlog.load(Ordering::Acquire) + data.len() > MAX_BACKLOG {
            self.behind = true;
            return Ok(());
        }
        self.queued_through = seq;
        self.queue(data.len(), ModelCmd::Feed(data))
    }

    /// The model already shows everything up to chunk `seq` (it was restored from another
    /// server's export).
    pub(crate) fn mark_current(&mut self, seq: u64) {
        self.queued_through = seq;
    }

    /// The model starts behind: the output already in the ring (carried over by an upgrade
    /// whose model could not be exported) is parsed at the first catch-up.
    pub(crate) fn mark_behind(&mut self) {
        self.behind = true;
    }

    /// Whether output was skipped since the model was last current.
    pub(crate) fn is_behind(&self) -> bool {
        self.behind
    }

    /// Whether the model still has more than [`MAX_BACKLOG`] to parse. A catch-up that no
    /// request needs waits until it has not: a parser slower than the output on average
    /// must skip output, not pile catch-ups up in its queue.
    pub(crate) fn is_busy(&self) -> bool {
        self.backlog.load(Ordering::Acquire) > MAX_BACKLOG
    }

    /// Makes sure every output byte so far reaches the model before the next request: the
    /// output skipped while behind, up to the last `lines_kept` lines of it, is queued from
    /// `ring`. If some of it is cut off in front, the escape sequence the last output queued
    /// may have left open is cancelled first: the tail must not complete it.
    pub(crate) fn catch_up(&mut self, ring: &super::ring::ReplayRing) -> Result<(), ModelGone> {
        if !self.behind {
            return Ok(());
        }
        let tail = ring.tail_after(self.queued_through, self.lines_kept);
        let mut chunks = tail.chunks;
        if !tail.whole {
            chunks.insert(0, Bytes::from_static(CANCEL));
        }
        let len = chunks.iter().map(Bytes::len).sum();
        self.behind = false;
        self.queued_through = ring.newest_seq();
        self.queue(len, ModelCmd::CatchUp(chunks))
    }

    fn queue(&self, len: usize, cmd: ModelCmd) -> Result<(), ModelGone> {
        self.backlog.fetch_add(len, Ordering::AcqRel);
        self.tx.send(cmd).map_err(|_| ModelGone)
    }

    /// Resizes the model, after all the output so far: a model that is behind catches up
    /// from `ring` first, at the size that output was written for.
    pub(crate) fn resize(
        &mut self,
        size: TermSize,
        ring: &super::ring::ReplayRing,
    ) -> Result<(), ModelGone> {
        self.catch_up(ring)?;
        self.lines_kept = usize::from(size.rows) + self.scrollback;
        self.tx.send(ModelCmd::Resize(size)).map_err(|_| ModelGone)
    }

    /// Bytes that redraw the screen as of everything queued so far; call
    /// [`ScreenModel::catch_up`] first.
    pub(crate) async fn snapshot(
        &self,
        history: Option<HistoryReplay>,
    ) -> Result<Bytes, ModelGone> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(ModelCmd::Snapshot { history, reply })
            .map_err(|_| ModelGone)?;
        answer.await.map_err(|_| ModelGone)
    }

    /// Everything needed to rebuild the model in another server, as of everything queued
    /// so far; call [`ScreenModel::catch_up`] first.
    pub(crate) async fn export(&self) -> Result<ModelState, ModelGone> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(ModelCmd::Export(reply))
            .map_err(|_| ModelGone)?;
        answer.await.map_err(|_| ModelGone)
    }

    /// Asks for a capture; the model answers on `reply` when it gets there. Call
    /// [`ScreenModel::catch_up`] first.
    pub(crate) fn capture(
        &self,
        format: CaptureFormat,
        scrollback_lines: usize,
        seq: u64,
        reply: oneshot::Sender<Capture>,
    ) -> Result<(), ModelGone> {
        let cmd = ModelCmd::Capture {
            format,
            scrollback_lines,
            seq,
            reply,
        };
        self.tx.send(cmd).map_err(|_| ModelGone)
    }
}

mod capture;
mod handoff;
mod model;
#[cfg(test)]
mod properties;
mod repairs;
mod snapshot;
#[cfg(test)]
mod tests;
mod text;

pub(crate) use handoff::ModelState;
