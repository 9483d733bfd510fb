//! The primary screen under an alternate-screen program (vim, less, htop).
//!
//! vt100 keeps that screen while the program runs but does not show it, so the model takes
//! a copy of it as the program switches (`CSI ? 1049 h` or `CSI ? 47 h`): output is parsed
//! up to the switch, the primary screen is drawn into a shadow parser, then the rest is
//! parsed. The shadow is resized with the model (its few rows of scrollback let a shrink
//! and a grow give back what vt100's hidden screen gives back). A snapshot taken on the
//! alternate screen draws the shadow first, then switches, so the client's terminal keeps
//! it under the program and shows it again when the program leaves, as a terminal that
//! watched all along would. The copy goes as soon as the parser is back on the primary
//! screen, however it got there (a switch back, a reset). A switch the model did not see
//! as such (one a flood made it skip, one split between two chunks, or one combined with
//! other modes in a single sequence) leaves no copy: that primary screen comes back blank.

use std::num::NonZeroU16;

use super::Callbacks;

/// What follows ESC in the sequences that switch to the alternate screen (vt100 does not
/// handle 1047).
const ENTER: [&[u8]; 2] = [b"[?1049h", b"[?47h"];
/// What follows ESC in the sequences that may switch back: the two, and a reset (RIS).
const LEAVE: [&[u8]; 3] = [b"[?1049l", b"[?47l", b"c"];

/// The first of `kinds` (each after an ESC) in `bytes`: where its ESC is, and its length.
/// One pass over the escapes, whatever the number of kinds.
fn find(bytes: &[u8], kinds: &[&[u8]]) -> Option<(usize, usize)> {
    memchr::memchr_iter(0x1b, bytes).find_map(|at| {
        let rest = &bytes[at + 1..];
        let kind = kinds.iter().find(|kind| rest.starts_with(kind))?;
        Some((at, 1 + kind.len()))
    })
}

/// The primary screen as it was when the program switched away from it.
pub(super) struct Shadow(vt100::Parser);

impl Shadow {
    /// A copy of what `screen` shows, cursor and pen included.
    fn of(screen: &vt100::Screen) -> Shadow {
        let (rows, cols) = screen.size();
        let mut parser = vt100::Parser::new(rows, cols, usize::from(rows.get()));
        parser.process(screen.state_formatted().as_bytes());
        Shadow(parser)
    }

    /// Resizes it as vt100 resizes its hidden screen.
    pub(super) fn resize(&mut self, rows: NonZeroU16, cols: NonZeroU16) {
        self.0.set_size(rows, cols);
    }

    /// Bytes that draw it (contents, cursor, pen) on a terminal of its size.
    pub(super) fn drawing(&self) -> Vec<u8> {
        self.0.screen().state_formatted().into_bytes()
    }
}

/// Parses `bytes` into `parser`, keeping in `primary` a shadow of the primary screen for
/// as long as the alternate screen is on.
pub(super) fn process(
    parser: &mut vt100::Parser<Callbacks>,
    primary: &mut Option<Shadow>,
    mut bytes: &[u8],
) {
    loop {
        if parser.screen().alternate_screen() {
            // Parse up to where it may switch back, then look again.
            let Some(end) = find(bytes, &LEAVE).map(|(at, len)| at + len) else {
                break;
            };
            parser.process(&bytes[..end]);
            bytes = &bytes[end..];
        } else {
            // On the primary screen, however it got there, no copy is kept.
            *primary = None;
            let Some((at, len)) = find(bytes, &ENTER) else {
                break;
            };
            parser.process(&bytes[..at]);
            *primary = Some(Shadow::of(parser.screen()));
            parser.process(&bytes[at..at + len]);
            bytes = &bytes[at + len..];
        }
    }
    parser.process(bytes);
    if !parser.screen().alternate_screen() {
        *primary = None;
    }
}

#[cfg(test)]
mod tests {
    use fugue_protocol::TermSize;

    use super::super::new_parser;
    use super::*;

    fn parser() -> vt100::Parser<Callbacks> {
        new_parser(TermSize { rows: 4, cols: 20 }, 10)
    }

    fn shown(shadow: &Shadow) -> String {
        let mut fresh =
            vt100::Parser::new(shadow.0.screen().size().0, shadow.0.screen().size().1, 0);
        fresh.process(&shadow.drawing());
        fresh.screen().contents()
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
        assert_eq!(
            shown(primary.as_ref().expect("a copy")),
            "$ ls\nfile\n$ vim"
        );
        assert!(parser.screen().alternate_screen());
        // Leaving and entering again in one chunk takes a fresh copy.
        process(&mut parser, &mut primary, b"\x1b[?1049lagain\x1b[?47h");
        assert!(shown(primary.as_ref().expect("a new copy")).contains("again"));
        process(&mut parser, &mut primary, b"\x1b[?47l");
        assert!(primary.is_none());
    }

    #[test]
    fn a_reset_or_an_unseen_switch_back_leaves_no_stale_copy() {
        let (mut parser, mut primary) = (parser(), None);
        process(&mut parser, &mut primary, b"old\x1b[?1049hvim");
        assert!(primary.is_some());
        // RIS puts the parser back on the primary screen: the copy goes with it.
        process(&mut parser, &mut primary, b"\x1bc");
        assert!(primary.is_none());
        process(&mut parser, &mut primary, b"\x1b[?1049hvim");
        // A combined switch back, which the search does not see as such.
        process(&mut parser, &mut primary, b"\x1b[?1049;1l");
        assert!(!parser.screen().alternate_screen());
        assert!(primary.is_none());
    }

    #[test]
    fn a_shrink_and_a_grow_give_the_copy_back() {
        let (mut parser, mut primary) = (parser(), None);
        process(&mut parser, &mut primary, b"1\r\n2\r\n3\r\n4\x1b[?1049h");
        let shadow = primary.as_mut().expect("a copy");
        let (two, four, cols) = (
            NonZeroU16::MIN.saturating_add(1),
            NonZeroU16::MIN.saturating_add(3),
            NonZeroU16::MIN.saturating_add(19),
        );
        shadow.resize(two, cols);
        shadow.resize(four, cols);
        assert_eq!(shown(shadow), "1\n2\n3\n4");
    }
}
