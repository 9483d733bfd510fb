//! `capture`: the screen, and the scrollback above it, as text (plain or with SGR escapes).
//!
//! The oldest lines asked for come from the compact history, then the terminal's own
//! scrollback, then the screen.

use fugue_protocol::{CaptureFormat, TermSize};

use super::Capture;
use super::text::{strip_sgr, write_row};
use crate::session::history::History;

pub(super) fn capture(
    term: &avt::Terminal,
    history: &History,
    format: CaptureFormat,
    lines: usize,
) -> Capture {
    let mut out = scrollback(term, history, format, lines);
    let (cols, rows) = term.size();
    let cursor = term.cursor();
    out.extend(
        term.screen()
            .visible_lines()
            .map(|line| render(line, format)),
    );
    if format == CaptureFormat::Plain {
        while out.last().is_some_and(String::is_empty) {
            out.pop();
        }
    }
    // Lines do not end with a reset of their attributes; in colour, each gets one, so that
    // none bleeds into the next.
    let mut text = match format {
        CaptureFormat::Plain => out.join("\n"),
        CaptureFormat::Ansi => out.join("\x1b[m\n"),
    };
    if format == CaptureFormat::Ansi {
        text.push_str("\x1b[m");
    }
    // A cursor past the last column (a wrap pending) is shown on it.
    let cursor_col = cursor.col.min(cols.saturating_sub(1));
    Capture {
        text,
        cursor: (clamp(cursor.row), clamp(cursor_col)),
        size: TermSize {
            rows: clamp(rows),
            cols: clamp(cols),
        },
        seq: 0,
    }
}

fn clamp(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Up to `lines` lines of scrollback, oldest first: from the compact history, then the
/// terminal's own (none on the alternate screen).
fn scrollback(
    term: &avt::Terminal,
    history: &History,
    format: CaptureFormat,
    lines: usize,
) -> Vec<String> {
    let screen = term.screen();
    let in_term = screen.all_lines().count() - screen.visible_lines().len();
    // The oldest lines asked for are in the history; the alternate screen has none.
    let from_history = if term.active_screen_kind() == avt::ScreenKind::Alternate {
        0
    } else {
        lines.saturating_sub(in_term)
    };
    let mut out: Vec<String> = history
        .last(from_history)
        .map(|line| match format {
            CaptureFormat::Plain => strip_sgr(line).trim_end().to_owned(),
            CaptureFormat::Ansi => line.to_owned(),
        })
        .collect();
    let take = lines.min(in_term);
    let lines = screen.all_lines().skip(in_term - take).take(take);
    out.extend(lines.map(|line| render(line, format)));
    out
}

/// The most bytes of history a snapshot replays: with the screen after it, the snapshot
/// must fit a frame (1 MiB), whatever `--history` asked for.
pub(super) const HISTORY_REPLAY_BUDGET: usize = 384 * 1024;

/// What a client's terminal is sent before a fresh screen so that its own scrollback holds
/// the session's last `lines` lines (with their colours): the lines, at the bottom of a
/// terminal of `rows` rows, then as many line feeds, which push them all off the screen
/// the snapshot then redraws. Nothing on the alternate screen, whose program has no
/// scrollback of its own. At most [`HISTORY_REPLAY_BUDGET`] bytes of lines: the newest.
pub(super) fn history_replay(
    term: &avt::Terminal,
    history: &History,
    lines: usize,
    rows: u16,
) -> Vec<u8> {
    if lines == 0 || term.active_screen_kind() == avt::ScreenKind::Alternate {
        return Vec::new();
    }
    let mut history = scrollback(term, history, CaptureFormat::Ansi, lines);
    // The newest lines that fit the budget: the snapshot must fit one frame.
    let mut total = 0;
    let fitting = history
        .iter()
        .rev()
        .take_while(|line| {
            total += line.len() + 8;
            total <= HISTORY_REPLAY_BUDGET
        })
        .count();
    history.drain(..history.len() - fitting);
    if history.is_empty() {
        return Vec::new();
    }
    // The whole screen scrolls (no region, no origin mode), from its bottom row.
    let mut out = b"\x1b[?1049l\x1b[r\x1b[?6l\x1b[?7h\x1b[m\x1b[9999;1H".to_vec();
    for line in history {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\x1b[m");
    }
    out.extend(std::iter::repeat_n(b"\r\n", usize::from(rows.max(1))).flatten());
    out
}

/// One row as text: plain (without trailing blanks) or with SGR escapes.
fn render(line: &avt::Line, format: CaptureFormat) -> String {
    match format {
        CaptureFormat::Plain => line.text().trim_end().to_owned(),
        CaptureFormat::Ansi => {
            let mut out = String::new();
            write_row(line.cells(), &mut out);
            out
        }
    }
}
