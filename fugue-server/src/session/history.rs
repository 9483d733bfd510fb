//! A session's scrollback, kept compact.
//!
//! vt100 keeps 32 bytes per cell, so 10,000 lines of scrollback at 120 columns would cost
//! 37 MiB per session. The parser keeps only its last [`PARSER_SCROLLBACK`] lines (which a
//! taller window pulls back onto the screen, as a terminal does); a line that leaves them
//! comes here (vt100's `on_scroll` callback) as its text with SGR escapes, about a byte per
//! cell of ordinary output.
//!
//! `CSI 3 J` (what `clear` sends to erase the scrollback) empties the parser's lines
//! without telling anyone, so the model finds it in the output itself ([`EraseScan`]) and
//! empties the history at the same point of the stream.

use std::collections::VecDeque;

use vt100::capture::{BasicFormattedCaptureState, RowContents};

/// Lines of scrollback the parser itself keeps (at most; fewer if the session keeps fewer).
pub(crate) const PARSER_SCROLLBACK: usize = 100;

/// Lines that left the parser's scrollback, oldest first, as text with SGR escapes.
#[derive(Debug, Default)]
pub(crate) struct History {
    lines: VecDeque<Box<str>>,
    capacity: usize,
    /// Where a line is written before it is copied into an allocation of its own size.
    scratch: String,
}

impl History {
    /// A history keeping at most `capacity` lines.
    pub(crate) fn new(capacity: usize) -> Self {
        History {
            lines: VecDeque::new(),
            capacity,
            scratch: String::new(),
        }
    }

    /// Keeps `row`, dropping the oldest line if the history is full.
    pub(crate) fn push(&mut self, row: &RowContents<'_>) {
        if self.capacity == 0 {
            return;
        }
        self.scratch.clear();
        // Each line starts from default attributes, so it stands on its own. Writing to a
        // String cannot fail.
        let _ =
            row.write_formatted_basic(&mut self.scratch, &mut BasicFormattedCaptureState::new());
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(Box::from(self.scratch.as_str()));
    }

    /// Forgets every line (`CSI 3 J`).
    pub(crate) fn clear(&mut self) {
        self.lines.clear();
    }

    /// The last `n` lines (all of them if it holds fewer), oldest first.
    pub(crate) fn last(&self, n: usize) -> impl Iterator<Item = &str> {
        let skip = self.lines.len().saturating_sub(n);
        self.lines.iter().skip(skip).map(|line| &**line)
    }
}

/// `CSI 3 J`: erase the scrollback.
const ERASE_SCROLLBACK: &[u8] = b"\x1b[3J";

/// Finds `CSI 3 J` in a stream of output chunks, also when a chunk boundary splits it.
#[derive(Debug, Default)]
pub(crate) struct EraseScan {
    /// How many bytes of [`ERASE_SCROLLBACK`] the output seen so far ends with.
    matched: usize,
}

impl EraseScan {
    /// The offset just past the first `CSI 3 J` that ends in `data` (which follows the data
    /// given before), if any. Call it again with the rest of `data` after that offset.
    pub(crate) fn find_end(&mut self, data: &[u8]) -> Option<usize> {
        if self.matched > 0 {
            let rest = &ERASE_SCROLLBACK[self.matched..];
            let n = rest.len().min(data.len());
            if data[..n] == rest[..n] {
                if n == rest.len() {
                    self.matched = 0;
                    return Some(n);
                }
                self.matched += n;
                return None;
            }
            self.matched = 0;
        }
        if let Some(at) = memchr::memmem::find(data, ERASE_SCROLLBACK) {
            return Some(at + ERASE_SCROLLBACK.len());
        }
        self.matched = (1..ERASE_SCROLLBACK.len())
            .rev()
            .find(|&k| data.ends_with(&ERASE_SCROLLBACK[..k]))
            .unwrap_or(0);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every end offset `scan` reports for `chunks` fed in order, as offsets in their
    /// concatenation.
    fn ends(chunks: &[&[u8]]) -> Vec<usize> {
        let mut scan = EraseScan::default();
        let mut found = Vec::new();
        let mut base = 0;
        for chunk in chunks {
            let mut from = 0;
            while let Some(end) = scan.find_end(&chunk[from..]) {
                from += end;
                found.push(base + from);
            }
            base += chunk.len();
        }
        found
    }

    #[test]
    fn erase_is_found_whole_and_across_chunk_boundaries() {
        let stream = b"ab\x1b[3Jcd\x1b[2J\x1b[3J\x1b[3J";
        let expected = vec![6, 16, 20];
        assert_eq!(ends(&[stream]), expected);
        // Every way of cutting the stream in three finds the same ends.
        for i in 0..=stream.len() {
            for j in i..=stream.len() {
                let parts: [&[u8]; 3] = [&stream[..i], &stream[i..j], &stream[j..]];
                assert_eq!(ends(&parts), expected, "cut at {i} and {j}");
            }
        }
    }

    #[test]
    fn near_misses_are_not_an_erase() {
        assert!(ends(&[b"\x1b[3K\x1b[33J\x1b[2J\x1b3J"]).is_empty());
        assert!(ends(&[b"\x1b[", b"3", b"m", b"J"]).is_empty());
        assert_eq!(ends(&[b"\x1b[\x1b[3", b"J"]), vec![6]);
    }

    #[test]
    fn the_history_keeps_its_last_lines_compactly() {
        let mut parser = vt100::Parser::new_with_callbacks(
            std::num::NonZeroU16::MIN.saturating_add(1),
            std::num::NonZeroU16::MIN.saturating_add(9),
            0,
            Keeper(History::new(3)),
        );
        parser.process(b"one\r\n\x1b[31mtwo\x1b[m\r\nthree\r\nfour\r\nfive\r\nsix");
        let history = &parser.callbacks().0;
        let lines: Vec<&str> = history.last(10).collect();
        assert_eq!(
            lines,
            ["\x1b[31mtwo", "three", "four"],
            "two lines on screen, one dropped"
        );
        assert_eq!(history.last(1).collect::<Vec<_>>(), ["four"]);
    }

    struct Keeper(History);

    impl vt100::Callbacks for Keeper {
        fn on_scroll(&mut self, contents: RowContents<'_>, alternate_screen: bool) {
            if !alternate_screen {
                self.0.push(&contents);
            }
        }
    }
}
