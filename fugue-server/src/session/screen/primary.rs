//! The primary screen under an alternate-screen program (vim, less, htop).
//!
//! vt100 keeps that screen while the program runs but does not show it, so the model takes
//! a copy of it as the program switches (`CSI ? 1049 h`, `? 1047 h`, `? 47 h`): output is
//! parsed up to the switch, the primary screen is drawn into bytes, then the rest is
//! parsed. A snapshot taken on the alternate screen draws the copy first, then switches, so
//! the client's terminal keeps it under the program and shows it again when the program
//! leaves, as a terminal that watched all along would. The copy goes when the program
//! switches back. A resize redraws the copy at the new size, as vt100 resizes its own.
//! A switch that a flood made the model skip (or one split between two chunks) leaves no
//! copy: that primary screen comes back blank.

use memchr::memmem;

use super::{Callbacks, new_parser};
use fugue_protocol::TermSize;

/// The sequences that switch to the alternate screen.
const ENTER: [&[u8]; 3] = [b"\x1b[?1049h", b"\x1b[?1047h", b"\x1b[?47h"];
/// The sequences that switch back.
const LEAVE: [&[u8]; 3] = [b"\x1b[?1049l", b"\x1b[?1047l", b"\x1b[?47l"];

/// The first of `needles` in `haystack`: where, and how long.
fn find(haystack: &[u8], needles: &[&[u8]]) -> Option<(usize, usize)> {
    needles
        .iter()
        .filter_map(|needle| memmem::find(haystack, needle).map(|at| (at, needle.len())))
        .min()
}

/// Parses `bytes` into `parser`, keeping in `primary` a drawing of the primary screen for
/// as long as the alternate screen is on.
pub(super) fn process(
    parser: &mut vt100::Parser<Callbacks>,
    primary: &mut Option<Vec<u8>>,
    mut bytes: &[u8],
) {
    loop {
        let alternate = parser.screen().alternate_screen();
        let needles = if alternate { &LEAVE } else { &ENTER };
        let Some((at, len)) = find(bytes, needles) else {
            break;
        };
        parser.process(&bytes[..at]);
        if !alternate {
            *primary = Some(parser.screen().state_formatted().into_bytes());
        }
        parser.process(&bytes[at..at + len]);
        if !parser.screen().alternate_screen() {
            *primary = None;
        }
        bytes = &bytes[at + len..];
    }
    parser.process(bytes);
}

/// The copy redrawn at `size`, as vt100 resizes the hidden screen (no reflow).
pub(super) fn resized(drawing: &[u8], from: TermSize, size: TermSize) -> Vec<u8> {
    let mut parser = new_parser(from, 0);
    parser.process(drawing);
    parser.set_size(super::non_zero(size.rows), super::non_zero(size.cols));
    parser.screen().state_formatted().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> vt100::Parser<Callbacks> {
        new_parser(TermSize { rows: 4, cols: 20 }, 10)
    }

    #[test]
    fn keeps_the_primary_screen_while_the_alternate_is_on() {
        let (mut parser, mut primary) = (parser(), None);
        process(&mut parser, &mut primary, b"$ ls\r\nfile\r\n$ vi");
        assert!(primary.is_none());
        process(
            &mut parser,
            &mut primary,
            b"m\r\x1b[?1049h\x1b[H\x1b[2Jin vim",
        );
        let drawing = primary.clone().expect("a copy");
        let mut fresh = new_parser(TermSize { rows: 4, cols: 20 }, 0);
        fresh.process(&drawing);
        assert_eq!(fresh.screen().contents(), "$ ls\nfile\n$ vim");
        assert!(parser.screen().alternate_screen());
        // Leaving and entering again in one chunk takes a fresh copy.
        process(&mut parser, &mut primary, b"\x1b[?1049lagain\x1b[?47h");
        let mut fresh = new_parser(TermSize { rows: 4, cols: 20 }, 0);
        fresh.process(&primary.clone().expect("a new copy"));
        assert!(fresh.screen().contents().contains("again"));
        process(&mut parser, &mut primary, b"\x1b[?47l");
        assert!(primary.is_none());
    }

    #[test]
    fn a_resized_copy_is_cut_like_the_hidden_screen() {
        let from = TermSize { rows: 4, cols: 20 };
        let mut source = new_parser(from, 0);
        source.process(b"0123456789abcdef\r\nsecond");
        let drawing = source.screen().state_formatted().into_bytes();
        let to = TermSize { rows: 3, cols: 10 };
        let mut fresh = new_parser(to, 0);
        fresh.process(&resized(&drawing, from, to));
        assert_eq!(fresh.screen().contents(), "0123456789\nsecond");
    }
}
