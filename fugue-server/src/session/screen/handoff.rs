//! Carrying a screen model to another server (an upgrade): [`ModelState`] is what a model
//! exports, and a fresh model restored from it shows the same screen, cell for cell, with
//! the same scrollback.
//!
//! vt100 cannot serialise its grid, but it can draw it: the export is the compact history
//! as it is, the parser's own scrollback rows formatted, and the snapshot a re-attaching
//! client gets (which redraws the screen, its modes, title, scroll region and auto-wrap).
//! Restoring feeds the rows to a fresh parser and pushes them into its scrollback, then
//! feeds the snapshot. The snapshot carries the primary screen under an alternate-screen
//! program (the model's copy of it), which the restoring model copies again as it parses
//! the switch; the parser's scrollback rows are not carried then (vt100 does not expose
//! them while the alternate screen is on).

use std::io::Write as _;

use serde::{Deserialize, Serialize};

use super::{Model, snapshot};

/// A screen model in transit between two servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ModelState {
    /// Scrollback beyond the parser's own, oldest first, as text with SGR escapes.
    pub(crate) history: Vec<String>,
    /// The parser's scrollback rows, oldest first, formatted.
    pub(crate) rows: Vec<String>,
    /// Bytes that redraw the screen on a fresh terminal of the model's size.
    pub(crate) screen: Vec<u8>,
}

impl Model {
    /// The drawing of the primary screen under the alternate one, if kept.
    pub(super) fn under(&self) -> Option<Vec<u8>> {
        self.primary.as_ref().map(super::primary::Shadow::drawing)
    }

    /// What another server needs to rebuild this model.
    pub(super) fn export(&mut self) -> ModelState {
        ModelState {
            history: self
                .parser
                .callbacks()
                .history
                .lines()
                .map(str::to_owned)
                .collect(),
            rows: scrollback_rows(self.parser.screen_mut()),
            screen: snapshot(&self.parser, &self.modes, self.under().as_deref()).to_vec(),
        }
    }

    /// Rebuilds a fresh model from `state`.
    pub(super) fn restore(&mut self, state: ModelState) {
        self.parser.callbacks_mut().history.restore(state.history);
        let (rows, _) = self.parser.screen().size();
        self.parser
            .process(&push_into_scrollback(&state.rows, rows.get()));
        // The snapshot sets the scroll region and auto-wrap last; the mode tracker learns
        // them from the same bytes, as from program output.
        super::primary::process(&mut self.parser, &mut self.primary, &state.screen);
        self.modes.feed(&state.screen);
    }
}

/// The parser's scrollback rows, oldest first, formatted (none on the alternate screen,
/// whose parser scrollback is the hidden primary screen's).
fn scrollback_rows(screen: &mut vt100::Screen) -> Vec<String> {
    if screen.alternate_screen() {
        return Vec::new();
    }
    let (rows, cols) = screen.size();
    let (rows, cols) = (usize::from(rows.get()), cols.get());
    let mut out = Vec::with_capacity(screen.scrollback_len());
    let mut remaining = screen.scrollback_len();
    while remaining > 0 {
        let take = remaining.min(rows);
        screen.set_scrollback(remaining);
        out.extend(screen.rows_formatted(0, cols).take(take));
        remaining -= take;
    }
    screen.set_scrollback(0);
    out
}

/// Bytes that, fed to a fresh parser with `screen_rows` rows, leave exactly `rows` in its
/// scrollback, oldest first, and a blank screen: each row on a line of its own, then from
/// the bottom line as many line feeds as the screen still holds rows.
fn push_into_scrollback(rows: &[String], screen_rows: u16) -> Vec<u8> {
    let mut bytes = Vec::new();
    for row in rows {
        bytes.extend_from_slice(row.as_bytes());
        bytes.extend_from_slice(b"\x1b[m\r\n");
    }
    let on_screen = rows.len().min(usize::from(screen_rows).saturating_sub(1));
    let _ = write!(bytes, "\x1b[{screen_rows};1H");
    bytes.extend(std::iter::repeat_n(b'\n', on_screen));
    bytes
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use fugue_protocol::{CaptureFormat, TermSize};

    use super::super::capture::capture;
    use super::super::new_parser;
    use super::*;
    use crate::session::history::EraseScan;
    use crate::session::modes::ModeTracker;

    fn model(size: TermSize, scrollback: usize) -> Model {
        Model {
            parser: new_parser(size, scrollback),
            primary: None,
            modes: ModeTracker::default(),
            erase: EraseScan::default(),
            backlog: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Feeds `bytes` as program output (accounted in the backlog first, as queued output
    /// is).
    fn feed(model: &mut Model, bytes: &[u8]) {
        model
            .backlog
            .fetch_add(bytes.len(), std::sync::atomic::Ordering::AcqRel);
        model.parse(bytes);
    }

    /// Output with colours, a title, wide characters, a scroll region and auto-wrap off:
    /// 300 lines into a screen of 6 rows keeping 200 lines of scrollback (100 in the
    /// parser, the rest in the history).
    fn busy_output() -> Vec<u8> {
        let mut out = b"\x1b]2;the title\x07".to_vec();
        for n in 0..300 {
            let _ = write!(
                out,
                "\x1b[3{}mline {n} \x1b[1m\u{4e2d}\x1b[m tail\r\n",
                n % 8
            );
        }
        out.extend_from_slice(b"\x1b[2;5r\x1b[?7l\x1b[3;7Hcursor here\x1b[4;2H");
        out
    }

    fn assert_same(before: &mut Model, after: &mut Model) {
        for format in [CaptureFormat::Plain, CaptureFormat::Ansi] {
            let a = capture(&mut before.parser, format, 1000);
            let b = capture(&mut after.parser, format, 1000);
            assert_eq!(a.text, b.text, "{format:?} capture");
            assert_eq!((a.cursor, a.size), (b.cursor, b.size));
        }
        assert_eq!(
            snapshot(&before.parser, &before.modes, before.under().as_deref()),
            snapshot(&after.parser, &after.modes, after.under().as_deref()),
            "the snapshot a re-attaching client gets"
        );
    }

    #[test]
    fn a_restored_model_has_the_same_screen_and_scrollback() {
        let size = TermSize { rows: 6, cols: 40 };
        let mut before = model(size, 200);
        feed(&mut before, &busy_output());
        let state = before.export();
        assert_eq!(state.rows.len(), 100, "the parser's own scrollback");
        assert!(!state.history.is_empty());
        let mut after = model(size, 200);
        after.restore(state);
        assert_same(&mut before, &mut after);
        // And it goes on the same: the scroll region and auto-wrap carried over.
        let more = b"\x1b[5;1Hmore text that runs past the right margin and on\r\nnext\r\n";
        feed(&mut before, more);
        feed(&mut after, more);
        assert_same(&mut before, &mut after);
    }

    #[test]
    fn a_short_scrollback_and_an_alternate_screen_carry_over() {
        let size = TermSize { rows: 5, cols: 30 };
        let mut before = model(size, 300);
        feed(&mut before, b"one\r\ntwo\r\n");
        feed(
            &mut before,
            b"\x1b[?1049h\x1b[H\x1b[2Jin vim\x1b[?1h\x1b[?2004h",
        );
        let mut after = model(size, 300);
        after.restore(before.export());
        assert_same(&mut before, &mut after);
        assert!(after.parser.screen().alternate_screen());
        // The shell's screen under vim crossed too, and comes back when vim leaves.
        feed(&mut after, b"\x1b[?1049l");
        assert_eq!(after.parser.screen().contents(), "one\ntwo");
    }
}
