//! `capture`: the screen, and the scrollback above it, as text (plain or with SGR escapes).
//!
//! The oldest lines asked for come from the compact history, then the parser's own
//! scrollback, then the screen.

use fugue_protocol::{CaptureFormat, TermSize};

use super::{Callbacks, Capture};

pub(super) fn capture(
    parser: &mut vt100::Parser<Callbacks>,
    format: CaptureFormat,
    lines: usize,
) -> Capture {
    let mut out = scrollback(parser, format, lines);
    let screen = parser.screen();
    let (rows, cols) = screen.size();
    let (rows, cols) = (rows.get(), cols.get());
    let cursor = screen.cursor_position();
    out.extend(render_rows(screen, format, cols));
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
    Capture {
        text,
        cursor,
        size: TermSize { rows, cols },
        seq: 0,
    }
}

/// Up to `lines` lines of scrollback, oldest first: from the compact history, then the
/// parser's own (none on the alternate screen).
fn scrollback(
    parser: &mut vt100::Parser<Callbacks>,
    format: CaptureFormat,
    lines: usize,
) -> Vec<String> {
    let (screen, callbacks) = parser.screen_and_callbacks_mut();
    let (rows, cols) = screen.size();
    let (rows, cols) = (rows.get(), cols.get());
    // The oldest lines asked for are in the history; the alternate screen has none.
    let in_parser = screen.scrollback_len();
    let from_history = if screen.alternate_screen() {
        0
    } else {
        lines.saturating_sub(in_parser)
    };
    let mut out: Vec<String> = callbacks
        .history
        .last(from_history)
        .map(|line| match format {
            CaptureFormat::Plain => {
                let text: String = vt100::capture::basic_formatted_to_plain(line).collect();
                text.trim_end().to_owned()
            }
            CaptureFormat::Ansi => line.to_owned(),
        })
        .collect();
    // The parser's scrollback is read by scrolling the view up a page at a time; the view
    // is put back at the bottom afterwards so snapshots are unaffected.
    let mut remaining = lines.min(in_parser);
    while remaining > 0 {
        let take = remaining.min(usize::from(rows));
        screen.set_scrollback(remaining);
        out.extend(render_rows(screen, format, cols).take(take));
        remaining -= take;
    }
    screen.set_scrollback(0);
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
    parser: &mut vt100::Parser<Callbacks>,
    lines: usize,
    rows: u16,
) -> Vec<u8> {
    if lines == 0 || parser.screen().alternate_screen() {
        return Vec::new();
    }
    let mut history = scrollback(parser, CaptureFormat::Ansi, lines);
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

fn render_rows(
    screen: &vt100::Screen,
    format: CaptureFormat,
    cols: u16,
) -> Box<dyn Iterator<Item = String> + '_> {
    match format {
        CaptureFormat::Plain => Box::new(screen.rows(0, cols).map(|row| row.trim_end().to_owned())),
        CaptureFormat::Ansi => Box::new(screen.rows_formatted(0, cols)),
    }
}
