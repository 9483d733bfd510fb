//! The snapshot: the bytes that re-create the model's screen on a client's terminal.
//!
//! avt's `dump` re-creates a *fresh* terminal's state: both screens (the primary one under
//! an alternate-screen program included), saved cursors, scroll region, origin mode, tab
//! stops, character sets, insert, new-line, auto-wrap and cursor-key modes, the cursor
//! and its pen. A client's terminal is not fresh (it showed this session or anything else
//! before), so the snapshot first puts back what the dump assumes, then adds what avt does
//! not keep: the character sets of saved cursors (`repairs.rs`) and the title and input
//! modes (`ModeTracker`). It ends in the escape sequence and the UTF-8 character the
//! output was in the middle of, so that the output after it goes on as on a terminal
//! that watched.

use std::io::Write as _;

use bytes::Bytes;

use super::model::Model;
use super::repairs::RepairScan;

/// What a snapshot puts back first, around the saved cursors it sets up (`prelude`):
/// both screens blank (a terminal clears the alternate screen as it leaves it with 1047),
/// no scroll region, origin, insert or new-line mode, auto-wrap on, normal cursor keys
/// and keypad, a visible cursor, the ASCII character sets in G0 and G1 with G0 shifted
/// in, no attributes, no mouse reporting or bracketed paste, and every tab stop cleared
/// (the default ones follow).
const PRELUDE: [&[u8]; 3] = [
    b"\x1b[?1049l\x1b[?1047h\x1b[H\x1b[2J\x1b[m",
    b"\x1b[?1047l\x1b[r\x1b[?6l\x1b[4l\x1b[20l\x1b[?7h\x1b[?1l\x1b>\x1b[?25h\x1b[m\x1b[H",
    b"\x1b(B\x1b)B\x0f\x1b[?9l\x1b[?1000l\x1b[?1001l\x1b[?1002l\x1b[?1003l\x1b[?1005l\
\x1b[?1006l\x1b[?1015l\x1b[?1016l\x1b[?2004l\x1b[3g",
];

/// The prelude, with each screen's saved cursor set at home, with no attributes and the
/// character sets the model's saved cursor of that screen holds: avt's dump sets up only
/// saved cursors that differ from home and default attributes, and never their character
/// sets.
fn prelude(out: &mut Vec<u8>, repairs: &RepairScan) {
    // The first part ends on the alternate screen, the second on the primary one.
    for (part, screen) in PRELUDE.iter().zip([Some(1), Some(0), None]) {
        out.extend_from_slice(part);
        if let Some(screen) = screen {
            out.extend_from_slice(repairs.saved(screen).sequence().as_bytes());
            out.extend_from_slice(b"\x1b7");
        }
    }
}

/// Who reads a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reader {
    /// A client's terminal, whatever it is: the dump is made [`portable`].
    Terminal,
    /// Another server's avt (an upgrade), which reads the dump as it is.
    Model,
}

/// Bytes that, written to a terminal of the model's size whatever it showed before,
/// re-create the screen `model` holds and the modes it tracked, then leave it in the
/// middle of the escape sequence (and the UTF-8 character) the output so far ends in, so
/// that the output that follows completes it.
pub(super) fn snapshot(model: &Model, reader: Reader) -> Bytes {
    let mut out = Vec::with_capacity(8 * 1024);
    prelude(&mut out, &model.repairs);
    // The default tab stops, every 8 columns, which avt's dump assumes.
    let (cols, _) = model.term.size();
    for col in (9..=cols).step_by(8) {
        let _ = write!(out, "\x1b[{col}G\x1bH");
    }
    out.extend_from_slice(b"\x1b[H\x1b[J");
    let dump = model.term.dump();
    let (screen, unfinished) = split_unfinished(&dump);
    let screen = with_saved_charsets(screen, &model.repairs);
    match reader {
        Reader::Terminal => out.extend_from_slice(portable(screen).as_bytes()),
        Reader::Model => out.extend_from_slice(screen.as_bytes()),
    }
    // None of it moves the cursor or prints.
    out.extend_from_slice(model.repairs.now().sequence().as_bytes());
    out.extend_from_slice(&model.modes.restore());
    out.extend_from_slice(seven_bit(unfinished).as_bytes());
    out.extend_from_slice(model.utf8.pending());
    Bytes::from(out)
}

/// avt's dump with the character sets each saved cursor holds set before the DECSC that
/// saves it, and ASCII after (avt saves none, and sets the current ones only at the
/// end): a DECSC before the switch to the alternate screen is the primary screen's, one
/// after it the alternate screen's.
fn with_saved_charsets(dump: &str, repairs: &RepairScan) -> String {
    let switch = dump.find("\x1b[?1047h").unwrap_or(dump.len());
    let mut out = String::with_capacity(dump.len() + 64);
    let mut rest = 0;
    for (at, _) in dump.match_indices("\x1b7") {
        out.push_str(&dump[rest..at]);
        out.push_str(repairs.saved(usize::from(at > switch)).sequence());
        // Saved; the cells after it are drawn in ASCII.
        out.push_str("\x1b7\x1b(B\x1b)B\x0f");
        rest = at + 2;
    }
    out.push_str(&dump[rest..]);
    out
}

/// avt's dump split into the screen and, at its end, the escape sequence its parser is in
/// the middle of (none: empty). That part starts with an ESC followed only by
/// intermediate bytes, or with a C1 introducer (CSI, DCS, OSC, SOS): the screen part is
/// written in 7-bit sequences and cells never hold C1 controls (`Utf8Stream` drops them).
fn split_unfinished(dump: &str) -> (&str, &str) {
    let escape = dump.rfind('\x1b').filter(|&at| {
        dump[at + 1..]
            .bytes()
            .all(|byte| (0x20..=0x2f).contains(&byte))
    });
    let c1 = || dump.rfind(|c: char| ('\u{80}'..='\u{9f}').contains(&c));
    match escape.or_else(c1) {
        Some(at) => dump.split_at(at),
        None => (dump, ""),
    }
}

/// `sequence` with its C1 introducer written as ESC and its 7-bit form (CSI as `ESC [`).
fn seven_bit(sequence: &str) -> String {
    let mut chars = sequence.chars();
    match chars.next() {
        Some(c @ '\u{80}'..='\u{9f}') => {
            let seven = char::from(u8::try_from(u32::from(c) - 0x40).unwrap_or(b'['));
            format!("\x1b{seven}{}", chars.as_str())
        }
        _ => sequence.to_owned(),
    }
}

/// avt's dump with the sequences some terminals do not know replaced by those every
/// terminal knows: the screen switches `?1047` (ignored by alacritty and by the vt100
/// crate) by `?1049`, which saves the cursor again: so the switch on is preceded by a
/// DECRC of what the dump (or the prelude) has just saved, and saves the same; then the
/// pen, origin mode, auto-wrap and character sets (which a DECRC may have restored) are
/// put back to what the dump expects, and the screen cleared; the tab stops' CTC (`CSI 5 W` clears them all, `CSI 0 W` sets one; tmux
/// 3.3a and GNU screen 4.09 ignore both) by TBC and HTS; and REP (`CSI n b`, which GNU
/// screen 4.09 ignores: `ab`, REP 3, `Y` shows `abY` there) by the character it repeats.
/// Cell text holds no ESC, so only sequences are replaced.
fn portable(dump: String) -> String {
    const SWAPS: [(&str, &str); 4] = [
        (
            "\x1b[?1047h",
            "\x1b8\x1b[?1049h\x1b[m\x1b[?6l\x1b[?7h\x1b(B\x1b)B\x0f\x1b[2J",
        ),
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
            "\x1b8\x1b[?1049h\x1b[m\x1b[?6l\x1b[?7h\x1b(B\x1b)B\x0f\x1b[2J\x1b[3g\x1bH"
        );
    }

    #[test]
    fn the_sequence_the_parser_is_in_is_split_off_in_7_bit() {
        for (dump, screen, unfinished) in [
            ("a\x1b[1mb", "a\x1b[1mb", ""),
            ("a\x1b[1mb\x1b", "a\x1b[1mb", "\x1b"),
            ("ab\x1b(", "ab", "\x1b("),
            ("ab\u{9b}?1;2", "ab", "\x1b[?1;2"),
            ("ab\u{9d}2;tit", "ab", "\x1b]2;tit"),
        ] {
            let (got_screen, got_unfinished) = split_unfinished(dump);
            assert_eq!(
                (got_screen, seven_bit(got_unfinished).as_str()),
                (screen, unfinished)
            );
        }
    }
}
