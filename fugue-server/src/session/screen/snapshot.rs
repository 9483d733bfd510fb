//! The snapshot: the bytes that re-create the model's screen on a client's terminal.

use bytes::Bytes;

use super::Callbacks;
use crate::session::modes::ModeTracker;

/// Modes a snapshot turns off first, because a terminal that showed this session (or
/// anything else) before may still have them on; the parser's state (and the mode
/// tracker) then turn on those the program has set.
const RESET_MODES: &[u8] = b"\x1b[?1l\x1b>\x1b[?2004l\x1b[?1000l\x1b[?1002l\x1b[?1003l\
\x1b[?1005l\x1b[?1006l\x1b[?1015l\x1b[?1016l\x1b[r\x1b[?7h";

/// Bytes that, written to a fresh terminal of the model's size, re-create the screen:
/// which buffer is active, contents, colours, attributes, cursor position and visibility,
/// input modes (keypad, cursor keys, bracketed paste, mouse), the window title, the scroll
/// region and auto-wrap; on the alternate screen, with the `primary` screen under it.
pub(super) fn snapshot(
    parser: &vt100::Parser<Callbacks>,
    modes: &ModeTracker,
    primary: Option<&[u8]>,
) -> Bytes {
    let screen = parser.screen();
    let mut out = Vec::with_capacity(8 * 1024);
    // vt100 does not emit the alternate-screen switch itself; without it a client would
    // draw a full-screen program over its own primary screen. The primary screen goes
    // first, so the terminal keeps it (and its cursor) for when the program leaves.
    out.extend_from_slice(b"\x1b[?1049l");
    if let (true, Some(primary)) = (screen.alternate_screen(), primary) {
        // Drawn whole: no scroll region or origin mode left from before may bend it.
        out.extend_from_slice(RESET_MODES);
        out.extend_from_slice(b"\x1b[?6l\x1b[0m");
        out.extend_from_slice(primary);
    }
    if screen.alternate_screen() {
        out.extend_from_slice(b"\x1b[?1049h");
    }
    out.extend_from_slice(RESET_MODES);
    if let Some(title) = &parser.callbacks().title {
        out.extend_from_slice(b"\x1b]2;");
        out.extend_from_slice(title);
        out.push(0x07);
    }
    out.extend_from_slice(screen.state_formatted().as_bytes());
    // Last: setting a scroll region homes the cursor, so it goes after the contents.
    out.extend_from_slice(&modes.restore(screen.size().0.get(), screen.cursor_position()));
    Bytes::from(out)
}
