//! Carrying a screen model to another server (an upgrade): [`ModelState`] is what a model
//! exports, and a fresh model restored from it shows the same screens, cell for cell, with
//! the same scrollback.
//!
//! avt cannot serialise its grid, but it can draw it: the export is the compact history
//! as it is, the terminal's own scrollback rows of the primary screen formatted, and a
//! snapshot (both screens, saved cursors, modes, title, scroll region and the rest) with
//! avt's dump as avt writes it (`Reader::Model`). Restoring feeds the rows to a fresh
//! terminal and pushes them into its scrollback, then feeds the snapshot.

use std::io::Write as _;

use serde::{Deserialize, Serialize};

use super::Model;
use super::snapshot::Reader;
use super::text::write_row;

/// A screen model in transit between two servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ModelState {
    /// Scrollback beyond the terminal's own, oldest first, as text with SGR escapes.
    pub(crate) history: Vec<String>,
    /// The terminal's own scrollback rows, oldest first, formatted.
    pub(crate) rows: Vec<String>,
    /// Bytes that redraw the screen on a fresh terminal of the model's size.
    pub(crate) screen: Vec<u8>,
}

impl Model {
    /// What another server needs to rebuild this model.
    pub(super) fn export(&self) -> ModelState {
        ModelState {
            history: self.keeper.history.lines().map(str::to_owned).collect(),
            rows: scrollback_rows(&self.term),
            screen: self.snapshot(Reader::Model).to_vec(),
        }
    }

    /// Rebuilds a fresh model from `state`.
    pub(super) fn restore(&mut self, state: ModelState) {
        self.keeper.history.restore(state.history);
        let (_, rows) = self.term.size();
        self.interpret(&push_into_scrollback(&state.rows, rows));
        // The mode tracker learns the title and modes from the same bytes, as from
        // program output.
        self.interpret(&state.screen);
    }
}

/// The primary screen's scrollback rows in the terminal, oldest first, formatted (also
/// while the alternate screen is on).
fn scrollback_rows(term: &avt::Terminal) -> Vec<String> {
    let primary = term.primary_screen();
    let in_term = primary.all_lines().count() - primary.visible_lines().len();
    primary
        .all_lines()
        .take(in_term)
        .map(|line| {
            let mut row = String::new();
            write_row(line.cells(), &mut row);
            row
        })
        .collect()
}

/// Bytes that, fed to a fresh terminal with `screen_rows` rows, leave exactly `rows` in its
/// scrollback, oldest first, and a blank screen: each row on a line of its own, then from
/// the bottom line as many line feeds as the screen still holds rows.
fn push_into_scrollback(rows: &[String], screen_rows: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for row in rows {
        bytes.extend_from_slice(row.as_bytes());
        bytes.extend_from_slice(b"\x1b[m\r\n");
    }
    let on_screen = rows.len().min(screen_rows.saturating_sub(1));
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
    use super::*;

    fn model(size: TermSize, scrollback: usize) -> Model {
        Model::new(size, scrollback, Arc::new(AtomicUsize::new(0))).expect("a size")
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
    /// terminal, the rest in the history).
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
            let a = capture(&before.term, &before.keeper.history, format, 1000);
            let b = capture(&after.term, &after.keeper.history, format, 1000);
            assert_eq!(a.text, b.text, "{format:?} capture");
            assert_eq!((a.cursor, a.size), (b.cursor, b.size));
        }
        assert_eq!(
            before.snapshot(Reader::Terminal),
            after.snapshot(Reader::Terminal),
            "the snapshot a re-attaching client gets"
        );
    }

    #[test]
    fn a_restored_model_has_the_same_screen_and_scrollback() {
        let size = TermSize { rows: 6, cols: 40 };
        let mut before = model(size, 200);
        feed(&mut before, &busy_output());
        let state = before.export();
        assert_eq!(state.rows.len(), 100, "the terminal's own scrollback");
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
        assert_eq!(after.term.active_screen_kind(), avt::ScreenKind::Alternate);
        // The shell's screen under vim crossed too, and comes back when vim leaves.
        feed(&mut after, b"\x1b[?1049l");
        let shown = capture(&after.term, &after.keeper.history, CaptureFormat::Plain, 0);
        assert_eq!(shown.text, "one\ntwo");
    }
}
