//! `ScreenModes`: follows the session's output just enough to know what leaving an attach
//! must undo that is not harmless to undo blindly: whether the terminal is on the
//! alternate screen (leaving it restores a saved cursor position), and the kitty keyboard
//! protocol's flags the program pushed on each screen's stack (`CSI > flags u`, popped
//! with `CSI < n u`, set with `CSI = flags ; mode u`; an unconditional `CSI < u` would be
//! read as "restore cursor" by terminals without the protocol).
//!
//! Other modes (mouse, bracketed paste, focus reporting, modifyOtherKeys, cursor shape,
//! colours) are reset unconditionally on exit (`terminal.rs`), which is harmless when
//! unused.

use std::sync::LazyLock;

use memchr::arch::all::packedpair::HeuristicFrequencyRank;
use memchr::memmem::{Finder, FinderBuilder};

/// Where a private mode sequence starts.
static PRIVATE_CSI: LazyLock<Finder<'static>> =
    LazyLock::new(|| FinderBuilder::new().build_forward_with_ranker(TerminalOutput, b"\x1b[?"));
/// A full reset.
static RESET: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\x1bc"));
/// Where a kitty keyboard sequence may start: push, pop and set.
static KITTY: LazyLock<[Finder<'static>; 3]> = LazyLock::new(|| {
    [b"\x1b[>", b"\x1b[<", b"\x1b[="]
        .map(|needle| FinderBuilder::new().build_forward_with_ranker(TerminalOutput, needle))
});

/// How often bytes occur in coloured terminal output, for the substring search's
/// prefilter, which keys on the needle's rarest bytes. Its default ranking (for prose)
/// takes ESC for rare, but coloured output has an ESC and a `[` every couple of dozen
/// bytes; `?` is what is rare there.
struct TerminalOutput;

impl HeuristicFrequencyRank for TerminalOutput {
    fn rank(&self, byte: u8) -> u8 {
        match byte {
            0x1b | b'[' => 255,
            b'?' | b'>' | b'<' | b'=' => 80,
            _ => 160,
        }
    }
}

/// A tiny escape-sequence scanner for `CSI ? Pn h` / `CSI ? Pn l` and `ESC c`.
///
/// Only those two kinds of sequence matter, so the scan jumps from one to the next with a
/// substring search and steps byte by byte only through them: output is mostly text and
/// colours, which never need a look.
#[derive(Debug, Default)]
pub struct ScreenModes {
    state: State,
    params: Vec<u8>,
    alt_screen: bool,
    /// Per screen (main, alternate): how deep the program pushed onto the kitty keyboard
    /// stack, and whether it set flags without a push.
    kitty: [Kitty; 2],
}

/// One screen's kitty keyboard stack, as far as this client saw it grow.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Kitty {
    /// Entries pushed and not popped.
    pub pushed: u8,
    /// Flags were set in place (`CSI = … u`).
    pub set: bool,
}

/// The deepest kitty stack followed (terminals keep a few dozen entries at most).
const MAX_KITTY_DEPTH: u8 = 64;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Ground,
    Escape,
    /// Just after `ESC [`: a `?` next makes it a private sequence.
    CsiStart,
    /// In `CSI ?`, collecting parameters.
    Private,
    /// In `CSI >`, `CSI <` or `CSI =` (the marker kept), collecting parameters.
    Marked(u8),
}

/// Longest parameter string kept; longer ones cannot be a mode we care about.
const MAX_PARAMS: usize = 32;

/// Private modes that switch to the alternate screen.
const ALT_SCREEN_MODES: [&[u8]; 3] = [b"47", b"1047", b"1049"];

impl ScreenModes {
    /// Whether the terminal is on the alternate screen after everything seen so far.
    pub fn alt_screen(&self) -> bool {
        self.alt_screen
    }

    /// The kitty keyboard stack of the main screen and of the alternate screen.
    pub fn kitty(&self) -> [Kitty; 2] {
        self.kitty
    }

    /// Feeds bytes written to the terminal; sequences may be split across calls.
    ///
    /// This runs on every byte of output. A byte-by-byte scan of a flood was the client's
    /// largest cost, and so was stopping at every ESC (one in 24 bytes of coloured text).
    /// It has the same outcome as [`ScreenModes::step`] on every byte.
    pub fn observe(&mut self, mut bytes: &[u8]) {
        // Where the next of each sequence starts, once searched for.
        let mut private = None;
        let mut reset = None;
        let mut kitty = [None; 3];
        let mut consumed = 0;
        loop {
            // Inside a sequence, or at its start: byte by byte until it ends.
            while self.state != State::Ground {
                let Some((&byte, rest)) = bytes.split_first() else {
                    return;
                };
                self.step(byte);
                bytes = rest;
                consumed += 1;
            }
            let next = |cached: &mut Option<Option<usize>>, finder: &Finder<'_>| {
                // A cached position behind `consumed` was inside a sequence just stepped
                // through; search again from here.
                match *cached {
                    Some(Some(at)) if at >= consumed => Some(at),
                    Some(None) => None,
                    _ => {
                        let found = finder.find(bytes).map(|at| at + consumed);
                        *cached = Some(found);
                        found
                    }
                }
            };
            // A reset only matters on the alternate screen, which it leaves, or with
            // keyboard flags pushed, which it drops.
            let reset_at = if self.alt_screen || self.kitty != [Kitty::default(); 2] {
                next(&mut reset, &RESET)
            } else {
                None
            };
            let [push, pop, set] = &*KITTY;
            let starts = [
                next(&mut private, &PRIVATE_CSI),
                reset_at,
                next(&mut kitty[0], push),
                next(&mut kitty[1], pop),
                next(&mut kitty[2], set),
            ];
            let Some(at) = starts.into_iter().flatten().min() else {
                self.state = tail_state(bytes);
                return;
            };
            bytes = &bytes[at - consumed..];
            consumed = at;
            self.step(0x1b);
            bytes = &bytes[1..];
            consumed += 1;
        }
    }

    fn step(&mut self, byte: u8) {
        self.state = match (self.state, byte) {
            (_, 0x1b) => State::Escape,
            (State::Ground, _) => State::Ground,
            (State::Escape, b'[') => State::CsiStart,
            (State::Escape, b'c') => {
                // RIS, a full reset, also leaves the alternate screen and empties the
                // keyboard stacks.
                self.alt_screen = false;
                self.kitty = [Kitty::default(); 2];
                State::Ground
            }
            (State::Escape, _) => State::Ground,
            (State::CsiStart, b'?') => {
                self.params.clear();
                State::Private
            }
            (State::CsiStart, b'>' | b'<' | b'=') => {
                self.params.clear();
                State::Marked(byte)
            }
            // Any other CSI: nothing in it matters.
            (State::CsiStart, _) => State::Ground,
            (State::Marked(marker), b'0'..=b'9' | b';') => {
                if self.params.len() < MAX_PARAMS {
                    self.params.push(byte);
                }
                State::Marked(marker)
            }
            (State::Marked(marker), b'u') => {
                self.keyboard(marker);
                State::Ground
            }
            (State::Marked(_), 0x40..=0x7e) => State::Ground,
            (State::Marked(marker), _) => State::Marked(marker),
            (State::Private, b'0'..=b'9' | b';') => {
                if self.params.len() < MAX_PARAMS {
                    self.params.push(byte);
                }
                State::Private
            }
            (State::Private, 0x40..=0x7e) => {
                if byte == b'h' || byte == b'l' {
                    self.set_modes(byte == b'h');
                }
                State::Ground
            }
            // Intermediates and embedded controls do not end the sequence.
            (State::Private, _) => State::Private,
        };
    }

    /// A kitty keyboard sequence ending in `u`, with its marker.
    fn keyboard(&mut self, marker: u8) {
        let first = self
            .params
            .split(|&byte| byte == b';')
            .next()
            .unwrap_or(b"");
        let number = std::str::from_utf8(first)
            .ok()
            .and_then(|n| n.parse::<u32>().ok())
            .map(|n| u8::try_from(n).unwrap_or(u8::MAX));
        let kitty = &mut self.kitty[usize::from(self.alt_screen)];
        match marker {
            b'>' => kitty.pushed = (kitty.pushed + 1).min(MAX_KITTY_DEPTH),
            b'<' => kitty.pushed = kitty.pushed.saturating_sub(number.unwrap_or(1).max(1)),
            _ => kitty.set = true,
        }
    }

    fn set_modes(&mut self, on: bool) {
        let switches_screen = self
            .params
            .split(|&byte| byte == b';')
            .any(|param| ALT_SCREEN_MODES.contains(&param));
        if switches_screen {
            self.alt_screen = on;
        }
    }
}

/// The state after `bytes`, which hold no private sequence and no reset: only their end
/// can be the start of one that the next bytes complete.
fn tail_state(bytes: &[u8]) -> State {
    if bytes.ends_with(b"\x1b[") {
        State::CsiStart
    } else if bytes.ends_with(b"\x1b") {
        State::Escape
    } else {
        State::Ground
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_alternate_screen_switches() {
        let mut modes = ScreenModes::default();
        modes.observe(b"hello \x1b[?1049h full screen");
        assert!(modes.alt_screen());
        modes.observe(b"\x1b[?1049l back");
        assert!(!modes.alt_screen());
        modes.observe(b"\x1b[?25;47h");
        assert!(modes.alt_screen());
    }

    #[test]
    fn handles_sequences_split_across_chunks() {
        let mut modes = ScreenModes::default();
        for chunk in [&b"\x1b"[..], b"[?10", b"49", b"h"] {
            modes.observe(chunk);
        }
        assert!(modes.alt_screen());
    }

    #[test]
    fn ignores_other_modes_and_non_private_sequences() {
        let mut modes = ScreenModes::default();
        modes.observe(b"\x1b[?2004h\x1b[1049h\x1b[?1000h\x1b[1?1049h\x1b[?1049$p");
        assert!(!modes.alt_screen());
    }

    #[test]
    fn skipping_plain_text_sees_what_a_byte_by_byte_scan_sees() {
        let pieces: [&[u8]; 13] = [
            b"plain text ",
            b"\x1b[>1u",
            b"\x1b[<2u\x1b[=5;1u",
            b"\x1b[>4;2m",
            b"\x1b[",
            b"\x1b[1?1049h",
            b"\x1b[?1049h",
            b"\x1b[?1049l",
            b"\x1b[1;31mred\x1b[0m",
            b"\x1bc",
            b"\x1b[?25;1047h",
            b"\x1b",
            b"[?47l",
        ];
        let mut seed: u32 = 0x9e37_79b9;
        for _ in 0..2000 {
            let mut stream = Vec::new();
            for _ in 0..12 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                stream.extend_from_slice(pieces[seed as usize % pieces.len()]);
            }
            let first = seed as usize % (stream.len() + 1);
            let second = first + (seed >> 8) as usize % (stream.len() - first + 1);
            let mut whole = ScreenModes::default();
            whole.observe(&stream[..first]);
            whole.observe(&stream[first..second]);
            whole.observe(&stream[second..]);
            let mut bytewise = ScreenModes::default();
            for &byte in &stream {
                bytewise.step(byte);
            }
            assert_eq!(whole.alt_screen(), bytewise.alt_screen(), "{stream:?}");
            assert_eq!(whole.kitty(), bytewise.kitty(), "{stream:?}");
            assert_eq!(whole.state, bytewise.state);
        }
    }

    #[test]
    fn follows_each_screens_kitty_keyboard_stack() {
        let mut modes = ScreenModes::default();
        modes.observe(b"\x1b[>1u\x1b[>3u\x1b[<u\x1b[?1049h\x1b[>5u\x1b[>1u\x1b[=1;1u");
        let [main, alt] = modes.kitty();
        assert_eq!(
            main,
            Kitty {
                pushed: 1,
                set: false
            }
        );
        assert_eq!(
            alt,
            Kitty {
                pushed: 2,
                set: true
            }
        );
        modes.observe(b"\x1b[<5u\x1b[?1049l\x1b[1;2u");
        assert_eq!(
            modes.kitty()[1].pushed,
            0,
            "popping more than pushed empties it"
        );
        assert_eq!(
            modes.kitty()[0].pushed,
            1,
            "a CSI u without marker is no push"
        );
    }

    #[test]
    fn full_reset_leaves_alternate_screen() {
        let mut modes = ScreenModes::default();
        modes.observe(b"\x1b[?1049h\x1bc");
        assert!(!modes.alt_screen());
    }
}
