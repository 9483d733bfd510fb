//! The snapshot: the bytes that re-create the model's screen on a client's terminal.
//!
//! avt's `dump` re-creates a *fresh* terminal's state: both screens (the primary one under
//! an alternate-screen program included), saved cursors, scroll region, origin mode, tab
//! stops, character sets, insert, new-line, auto-wrap and cursor-key modes, the cursor
//! and its pen. A client's terminal is not fresh (it showed this session or anything else
//! before), so the snapshot first puts back what the dump assumes, then adds what avt does
//! not keep (`ModeTracker`: title, mouse, paste, keypad, keyboard protocols).

use std::io::Write as _;

use bytes::Bytes;

use crate::session::modes::ModeTracker;

/// What a snapshot puts back first. Both screens blank (a terminal clears the alternate
/// screen as it leaves it with 1047), no scroll region, origin, insert or new-line mode,
/// auto-wrap on, normal cursor keys and keypad, a visible cursor, the ASCII character sets
/// in G0 and G1 with G0 shifted in, no attributes, no mouse reporting or bracketed paste,
/// and every tab stop cleared (the default ones follow).
const PRELUDE: &[u8] = b"\x1b[?1049l\x1b[?1047h\x1b[H\x1b[2J\x1b[?1047l\x1b[r\x1b[?6l\x1b[4l\
\x1b[20l\x1b[?7h\x1b[?1l\x1b>\x1b[?25h\x1b(B\x1b)B\x0f\x1b[m\x1b[?9l\x1b[?1000l\x1b[?1001l\
\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l\x1b[?1016l\x1b[?2004l\x1b[3g";

/// Bytes that, written to a terminal of the model's size whatever it showed before,
/// re-create the screen the terminal `term` models and the modes `modes` tracked.
pub(super) fn snapshot(term: &avt::Terminal, modes: &ModeTracker) -> Bytes {
    let mut out = Vec::with_capacity(8 * 1024);
    out.extend_from_slice(PRELUDE);
    // The default tab stops, every 8 columns, which avt's dump assumes.
    let (cols, _) = term.size();
    for col in (9..=cols).step_by(8) {
        let _ = write!(out, "\x1b[{col}G\x1bH");
    }
    out.extend_from_slice(b"\x1b[H\x1b[J");
    out.extend_from_slice(portable(term.dump()).as_bytes());
    // Last, as none of it moves the cursor or prints.
    out.extend_from_slice(&modes.restore());
    Bytes::from(out)
}

/// avt's dump with the sequences some terminals do not know replaced by those every
/// terminal knows: the screen switches `?1047` (ignored by alacritty and by the vt100
/// crate) by `?1049`, whose saving of the cursor the dump's own cursor setting then
/// overrides; the tab stops' CTC (`CSI 5 W` clears them all, `CSI 0 W` sets one; tmux
/// 3.3a and GNU screen 4.09 ignore both) by TBC and HTS; and REP (`CSI n b`, which GNU
/// screen 4.09 ignores: `ab`, REP 3, `Y` shows `abY` there) by the character it repeats.
/// Cell text holds no ESC, so only sequences are replaced.
fn portable(dump: String) -> String {
    const SWAPS: [(&str, &str); 4] = [
        ("\x1b[?1047h", "\x1b[?1049h"),
        ("\x1b[?1047l", "\x1b[?1049l"),
        ("\x1b[5W", "\x1b[3g"),
        ("\x1b[0W", "\x1bH"),
    ];
    let swapped = SWAPS
        .iter()
        .fold(dump, |dump, (from, to)| dump.replace(from, to));
    expand_repeats(&swapped)
}

/// `dump` with each REP written out: avt's dump puts one right after the character it
/// repeats.
fn expand_repeats(dump: &str) -> String {
    let mut out = String::with_capacity(dump.len() * 2);
    let mut rest = dump;
    while let Some(at) = rest.find("\x1b[") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let count = after[..digits].parse::<usize>().ok();
        match (count, after.as_bytes().get(digits), out.chars().last()) {
            (Some(count), Some(b'b'), Some(repeated)) => {
                out.extend(std::iter::repeat_n(repeated, count));
                rest = &after[digits + 1..];
            }
            _ => {
                out.push_str("\x1b[");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_written_out_and_other_sequences_kept() {
        let dump = "a\x1b[5b\x1b[1m中\x1b[2b\x1b[12;3H \x1b[3bx\x1b[b".to_owned();
        assert_eq!(portable(dump), "aaaaaa\x1b[1m中中中\x1b[12;3H    x\x1b[b");
        assert_eq!(
            portable("\x1b[?1047h\x1b[5W\x1b[0W".to_owned()),
            "\x1b[?1049h\x1b[3g\x1bH"
        );
    }
}
