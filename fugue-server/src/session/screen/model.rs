//! The model thread's side: an avt terminal, the compact history of the lines it drops,
//! the mode tracker, and the scanners that find where the output erases the scrollback or
//! needs a repair; and what the thread does with each command.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use fugue_protocol::TermSize;
use tokio::sync::mpsc;

use super::repairs::{Repair, RepairScan};
use super::snapshot::{Reader, snapshot};
use super::text::{self, Utf8Stream};
use super::{ModelCmd, capture};
use crate::session::history::{Erase, EraseScan, History, PARSER_SCROLLBACK};
use crate::session::modes::ModeTracker;

/// Keeps the lines the terminal drops from its own scrollback, compactly.
#[derive(Default)]
pub(super) struct Keeper {
    pub(super) history: History,
    /// Where a line is written before the history copies it.
    scratch: String,
}

impl avt::Observer for Keeper {
    type Output = ();

    /// A line left the terminal's scrollback (lines of the primary screen only: the
    /// alternate screen keeps none).
    fn evicted(&mut self, _: &mut avt::Observation<'_>, line: &avt::Line) {
        self.scratch.clear();
        text::write_row(line.cells(), &mut self.scratch);
        self.history.push(&self.scratch);
    }

    fn end(&mut self, _: &mut avt::Observation<'_>) {}
}

/// A point in the output where the model does more than parse.
enum Cut {
    Erase(Erase),
    Repair(Repair),
}

/// What the model thread owns.
pub(super) struct Model {
    pub(super) term: avt::Terminal,
    /// Lines of scrollback the terminal keeps itself.
    in_term: usize,
    pub(super) keeper: Keeper,
    pub(super) utf8: Utf8Stream,
    pub(super) modes: ModeTracker,
    erase: EraseScan,
    pub(super) repairs: RepairScan,
    pub(super) backlog: Arc<AtomicUsize>,
}

impl Model {
    /// A blank model of `size` keeping `scrollback` lines: the last few in the terminal,
    /// the rest in its [`History`]. avt refuses a zero size (which the server refuses
    /// before it gets here).
    pub(super) fn new(
        size: TermSize,
        scrollback: usize,
        backlog: Arc<AtomicUsize>,
    ) -> Result<Model, avt::InvalidSize> {
        let in_term = scrollback.min(PARSER_SCROLLBACK);
        let (cols, rows) = (usize::from(size.cols), usize::from(size.rows));
        let term = avt::Terminal::with_scrollback(cols, rows, Some(in_term))?;
        Ok(Model {
            term,
            in_term,
            keeper: Keeper {
                history: History::new(scrollback - in_term),
                scratch: String::new(),
            },
            utf8: Utf8Stream::default(),
            modes: ModeTracker::default(),
            erase: EraseScan::default(),
            repairs: RepairScan::default(),
            backlog,
        })
    }

    pub(super) fn run(mut self, mut rx: mpsc::UnboundedReceiver<ModelCmd>) {
        while let Some(cmd) = rx.blocking_recv() {
            self.apply(cmd);
        }
    }

    fn apply(&mut self, cmd: ModelCmd) {
        match cmd {
            ModelCmd::Feed(data) => self.parse(&data),
            ModelCmd::CatchUp(chunks) => {
                for chunk in chunks {
                    self.parse(&chunk);
                }
            }
            ModelCmd::Resize(size) => {
                let (cols, rows) = (usize::from(size.cols), usize::from(size.rows));
                self.term.resize_with(cols, rows, &mut self.keeper);
            }
            ModelCmd::Snapshot { history, reply } => {
                let mut out = history.map_or_else(Vec::new, |history| {
                    let Model { term, keeper, .. } = &*self;
                    capture::history_replay(term, &keeper.history, history.lines, history.rows)
                });
                out.extend_from_slice(&self.snapshot(Reader::Terminal));
                let _ = reply.send(Bytes::from(out));
            }
            ModelCmd::Capture {
                format,
                scrollback_lines,
                seq,
                reply,
            } => {
                let history = &self.keeper.history;
                let mut capture = capture::capture(&self.term, history, format, scrollback_lines);
                capture.seq = seq;
                let _ = reply.send(capture);
            }
            ModelCmd::Export(reply) => {
                let _ = reply.send(self.export());
            }
        }
    }

    /// Bytes that re-create the screen on a terminal (or another server's model) of its
    /// size, whatever it showed before (`snapshot.rs`).
    pub(super) fn snapshot(&self, reader: Reader) -> Bytes {
        snapshot(self, reader)
    }

    /// Parses program output queued to the model.
    pub(super) fn parse(&mut self, data: &[u8]) {
        self.interpret(data);
        self.backlog.fetch_sub(data.len(), Ordering::AcqRel);
    }

    /// Feeds `data` to the terminal and the mode tracker, emptying the history where the
    /// output erases the scrollback, and putting right what avt gets wrong
    /// (`repairs.rs`).
    pub(super) fn interpret(&mut self, data: &[u8]) {
        let mut cuts = Vec::new();
        let mut from = 0;
        while let Some((end, erase)) = self.erase.find_end(&data[from..]) {
            from += end;
            cuts.push((from, Cut::Erase(erase)));
        }
        from = 0;
        while let Some((end, repair)) = self.repairs.find(&data[from..]) {
            from += end;
            cuts.push((from, Cut::Repair(repair)));
        }
        cuts.sort_by_key(|(at, _)| *at);
        let mut fed = 0;
        for (at, cut) in cuts {
            if let Cut::Repair(Repair::ReverseIndex) = cut {
                // Fed in its place: `ESC M`, or its `M` if the ESC came in the last chunk.
                let start = if at >= 2 && data[at - 2] == 0x1b {
                    at - 2
                } else {
                    at - 1
                };
                self.feed_terminal(&data[fed.min(start)..start]);
            } else {
                self.feed_terminal(&data[fed..at]);
            }
            fed = at;
            self.apply_cut(cut);
        }
        self.feed_terminal(&data[fed..]);
        self.modes.feed(data);
    }

    fn apply_cut(&mut self, cut: Cut) {
        let Model {
            term, keeper, utf8, ..
        } = self;
        // What follows does not continue a character the output left unfinished.
        utf8.flush(|text| term.feed_with(text, &mut *keeper));
        match cut {
            // A reset has erased the terminal's own scrollback.
            Cut::Erase(Erase::Reset) => keeper.history.clear(),
            // The alternate screen has no scrollback for `CSI 3 J` to erase.
            Cut::Erase(Erase::Scrollback) => {
                if term.active_screen_kind() == avt::ScreenKind::Primary {
                    self.erase_scrollback();
                }
            }
            Cut::Repair(Repair::Restore(sets, wrap_off)) => {
                let wrap = if wrap_off { "\x1b[?7l" } else { "\x1b[?7h" };
                term.feed_with([sets.sequence(), wrap], keeper);
            }
            Cut::Repair(Repair::ColumnMode) => term.feed_with(Repair::COLUMN_MODE, keeper),
            Cut::Repair(Repair::ReverseIndex) => {
                let row = term.cursor().row;
                term.feed_with("\x1b[A", &mut *keeper);
                if term.cursor().row == row {
                    term.feed_with("\x1bM", keeper);
                }
            }
        }
    }

    /// Erases the scrollback (`CSI 3 J`), which avt ignores: a fresh terminal drawn from
    /// the dump (which leaves the scrollback out) takes the old one's place, if there is
    /// any scrollback to erase.
    fn erase_scrollback(&mut self) {
        self.keeper.history.clear();
        let screen = self.term.primary_screen();
        if screen.all_lines().count() == screen.visible_lines().len() {
            return;
        }
        let (cols, rows) = self.term.size();
        let limit = Some(self.in_term);
        if let Ok(mut fresh) = avt::Terminal::with_scrollback(cols, rows, limit) {
            fresh.feed(self.term.dump().as_str());
            self.term = fresh;
        }
    }

    /// Feeds `bytes` to the terminal, without DEL: terminals ignore it, but avt would
    /// print it into a cell.
    fn feed_terminal(&mut self, bytes: &[u8]) {
        let Model {
            term, keeper, utf8, ..
        } = self;
        let mut start = 0;
        for del in memchr::memchr_iter(0x7f, bytes) {
            utf8.decode(&bytes[start..del], |text| {
                term.feed_with(text, &mut *keeper)
            });
            utf8.flush(|text| term.feed_with(text, &mut *keeper));
            start = del + 1;
        }
        utf8.decode(&bytes[start..], |text| term.feed_with(text, &mut *keeper));
    }
}
