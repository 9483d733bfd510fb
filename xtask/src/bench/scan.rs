//! Finds text in what a terminal program prints, ignoring escape sequences.
//!
//! A session server redraws rather than copies: tmux or screen may send the marker the
//! harness waits for with cursor movements around it, and a byte like `@` is also the
//! final byte of a CSI sequence. So the scanner follows the escape-sequence grammar far
//! enough to skip sequences, and matches needles only in the printed text, one needle
//! after another.

/// Where the scanner is in the escape-sequence grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Printed text.
    Ground,
    /// After ESC.
    Escape,
    /// After ESC and intermediate bytes (`ESC ( B`).
    EscapeIntermediate,
    /// Inside `ESC [ ...`, until a final byte.
    Csi,
    /// Inside a string sequence (OSC, DCS, ...), until BEL or ST.
    String,
    /// After ESC inside a string sequence.
    StringEscape,
}

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

/// Matches a list of needles, in order, in the printed text of a byte stream fed in
/// chunks of any size.
///
/// The match is the simple one: a needle's first byte must not occur again inside it
/// (checked by [`Scanner::new`]), so a failed partial match never hides a real one.
#[derive(Debug, Clone)]
pub struct Scanner {
    state: State,
    needles: Vec<Vec<u8>>,
    /// How many needles have been found; the next one searched for is `needles[found]`.
    found: usize,
    /// How many bytes of the current needle are matched.
    matched: usize,
}

impl Scanner {
    /// A scanner for `needles`, in that order.
    ///
    /// # Panics
    ///
    /// When a needle is empty or repeats its first byte: the harness's own needles are
    /// chosen that way, so this is a programming error.
    pub fn new<I, N>(needles: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<[u8]>,
    {
        let needles: Vec<Vec<u8>> = needles.into_iter().map(|n| n.as_ref().to_vec()).collect();
        for needle in &needles {
            assert!(
                needle
                    .first()
                    .is_some_and(|first| !needle[1..].contains(first)),
                "needle {needle:?} is empty or repeats its first byte"
            );
        }
        Scanner {
            state: State::Ground,
            needles,
            found: 0,
            matched: 0,
        }
    }

    /// How many needles have been found so far.
    pub fn found(&self) -> usize {
        self.found
    }

    /// Whether every needle has been found.
    pub fn done(&self) -> bool {
        self.found == self.needles.len()
    }

    /// Feeds the next bytes of the stream; returns how many needles this chunk completed.
    pub fn feed(&mut self, chunk: &[u8]) -> usize {
        let before = self.found;
        let mut rest = chunk;
        while !rest.is_empty() && !self.done() {
            if self.state == State::Ground && self.matched == 0 {
                // Fast path: skip to the next byte that can start a match or a sequence.
                let first = self.needles[self.found][0];
                match rest.iter().position(|&b| b == first || b == ESC) {
                    Some(at) => rest = &rest[at..],
                    None => break,
                }
            }
            self.step(rest[0]);
            rest = &rest[1..];
        }
        self.found - before
    }

    fn step(&mut self, byte: u8) {
        self.state = match self.state {
            // A sequence inside the text (a colour, a cursor move) does not break a match.
            State::Ground if byte == ESC => State::Escape,
            State::Ground => {
                self.printed(byte);
                State::Ground
            }
            State::Escape => match byte {
                b'[' => State::Csi,
                b']' | b'P' | b'X' | b'^' | b'_' => State::String,
                0x20..=0x2f => State::EscapeIntermediate,
                ESC => State::Escape,
                _ => State::Ground,
            },
            State::EscapeIntermediate => match byte {
                0x20..=0x2f => State::EscapeIntermediate,
                ESC => State::Escape,
                _ => State::Ground,
            },
            State::Csi => match byte {
                0x40..=0x7e => State::Ground,
                ESC => State::Escape,
                _ => State::Csi,
            },
            State::String => match byte {
                BEL => State::Ground,
                ESC => State::StringEscape,
                _ => State::String,
            },
            State::StringEscape => State::Ground,
        };
    }

    /// A byte of printed text (control characters included: they break a match).
    fn printed(&mut self, byte: u8) {
        let needle = &self.needles[self.found];
        if byte == needle[self.matched] {
            self.matched += 1;
            if self.matched == needle.len() {
                self.found += 1;
                self.matched = 0;
            }
        } else {
            self.matched = usize::from(byte == needle[0]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found_in(needles: &[&str], chunks: &[&[u8]]) -> usize {
        let mut scanner = Scanner::new(needles);
        chunks.iter().map(|chunk| scanner.feed(chunk)).sum()
    }

    #[test]
    fn finds_needles_in_order_across_chunks() {
        assert_eq!(found_in(&["READY"], &[b"xxREA", b"DYyy"]), 1);
        assert_eq!(
            found_in(&["PONG", "@END"], &[b"@END PONG", b" @E", b"ND"]),
            2
        );
        // The second needle before the first does not count.
        assert_eq!(found_in(&["PONG", "@END"], &[b"@END PONG"]), 1);
    }

    #[test]
    fn skips_escape_sequences() {
        // `ESC [ 5 @` is a CSI sequence whose final byte is the marker's first byte.
        assert_eq!(found_in(&["@END"], &[b"\x1b[5@END"]), 0);
        // Colours and cursor moves inside the text do not break it.
        assert_eq!(
            found_in(&["@END"], &[b"\x1b[1;31m@E\x1b[0mN\x1b[", b"2;3HD"]),
            1
        );
        // OSC titles (BEL or ST terminated) and charset selections are skipped.
        assert_eq!(found_in(&["@END"], &[b"\x1b]0;@END\x07\x1b(B"]), 0);
        assert_eq!(found_in(&["@END"], &[b"\x1b]2;@END\x1b\\@END"]), 1);
    }

    #[test]
    fn a_partial_match_restarts_on_the_first_byte() {
        assert_eq!(found_in(&["L10000E"], &[b"L1000L10000E"]), 1);
        assert_eq!(found_in(&["L10000E"], &[b"L1000\r\n0E"]), 0);
    }

    #[test]
    fn counts_and_reports_done() {
        let mut scanner = Scanner::new(["a"]);
        assert!(!scanner.done());
        assert_eq!(scanner.feed(b"xxa"), 1);
        assert!(scanner.done());
        assert_eq!(scanner.found(), 1);
        assert_eq!(scanner.feed(b"a"), 0);
    }
}
