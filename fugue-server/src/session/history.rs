//! A session's scrollback, kept compact.
//!
//! avt keeps about 16 bytes per cell, so 10,000 lines of scrollback of 120 characters would
//! cost 18 MiB per session. The terminal keeps only its last [`PARSER_SCROLLBACK`] lines
//! (which a taller window pulls back onto the screen, as a terminal does); a line it drops
//! comes here (avt's `evicted` observer) as its text with SGR escapes, about a byte per
//! cell of ordinary output. A line keeps the width it had and is not reflowed; a window
//! grown by more than [`PARSER_SCROLLBACK`] rows at once gets blank rows at the bottom
//! instead of older lines.
//!
//! What erases the scrollback, `CSI 3 J` (which `clear` sends) and a full reset (`ESC c`,
//! which `reset` sends), reaches avt but not the history. So the model finds both in the
//! output itself ([`EraseScan`]) and empties the history at the same point of the
//! stream.

use std::collections::VecDeque;

/// Lines of scrollback the terminal (avt) itself keeps (at most; fewer if the session
/// keeps fewer).
pub(crate) const PARSER_SCROLLBACK: usize = 100;

/// Lines that left the terminal's own scrollback, oldest first, as text with SGR escapes.
#[derive(Debug, Default)]
pub(crate) struct History {
    lines: VecDeque<Box<str>>,
    capacity: usize,
}

impl History {
    /// A history keeping at most `capacity` lines.
    pub(crate) fn new(capacity: usize) -> Self {
        History {
            lines: VecDeque::new(),
            capacity,
        }
    }

    /// Keeps `line` (text with SGR escapes that starts from default attributes, so that it
    /// stands on its own), dropping the oldest line if the history is full.
    pub(crate) fn push(&mut self, line: &str) {
        if self.capacity == 0 {
            return;
        }
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(Box::from(line));
    }

    /// Forgets every line (`CSI 3 J`).
    pub(crate) fn clear(&mut self) {
        self.lines.clear();
    }

    /// Every line, oldest first (for a handoff to another server).
    pub(crate) fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|line| &**line)
    }

    /// Takes `lines` (oldest first) as its own, keeping the last ones if there are more
    /// than it holds.
    pub(crate) fn restore(&mut self, lines: Vec<String>) {
        let skip = lines.len().saturating_sub(self.capacity);
        self.lines = lines.into_iter().skip(skip).map(Box::from).collect();
    }

    /// The last `n` lines (all of them if it holds fewer), oldest first.
    pub(crate) fn last(&self, n: usize) -> impl Iterator<Item = &str> {
        let skip = self.lines.len().saturating_sub(n);
        self.lines.iter().skip(skip).map(|line| &**line)
    }
}

/// The longest escape sequence [`EraseScan`] looks at; longer ones are not an erase.
const MAX_SEQUENCE: usize = 32;

/// What erases the history, found in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Erase {
    /// `CSI 3 J` (also `CSI ? 3 J`, `CSI 03 J`, `CSI 3 ; 0 J`): erase the scrollback, which
    /// the alternate screen does not have.
    Scrollback,
    /// `ESC c` (RIS): a full reset, which drops the terminal's own scrollback lines.
    Reset,
}

/// What an escape sequence at the start of some bytes is.
enum Sequence {
    /// It ends after this many bytes, and erases.
    Erase(usize, Erase),
    /// It does not erase (or is too long to be looked at).
    Other,
    /// The bytes end before it does.
    Incomplete,
}

/// Whether a terminal executes `byte` inside an escape sequence and goes on with it: the
/// C0 controls but ESC, CAN and SUB.
fn executed_inside(byte: u8) -> bool {
    byte < 0x20 && !matches!(byte, 0x18 | 0x1a | 0x1b)
}

/// Classifies the escape sequence `bytes` starts with (`bytes[0]` is ESC).
fn classify(bytes: &[u8]) -> Sequence {
    let mut at = 1 + bytes[1.min(bytes.len())..]
        .iter()
        .take(MAX_SEQUENCE)
        .take_while(|&&byte| executed_inside(byte))
        .count();
    if at >= MAX_SEQUENCE {
        return Sequence::Other;
    }
    match bytes.get(at) {
        None => return Sequence::Incomplete,
        Some(b'c') => return Sequence::Erase(at + 1, Erase::Reset),
        Some(b'[') => {}
        Some(_) => return Sequence::Other,
    }
    at += 1;
    if bytes.get(at) == Some(&b'?') {
        at += 1;
    }
    // The first parameter, then any others: digits and semicolons up to the final byte.
    let mut first: Option<u32> = Some(0);
    let mut in_first = true;
    loop {
        if at >= MAX_SEQUENCE {
            return Sequence::Other;
        }
        let Some(&byte) = bytes.get(at) else {
            return Sequence::Incomplete;
        };
        at += 1;
        match byte {
            b'0'..=b'9' if in_first => {
                first = first
                    .and_then(|n| n.checked_mul(10))
                    .and_then(|n| n.checked_add(u32::from(byte - b'0')));
            }
            b'0'..=b'9' => {}
            b';' => in_first = false,
            _ if executed_inside(byte) => {}
            b'J' if first == Some(3) => return Sequence::Erase(at, Erase::Scrollback),
            _ => return Sequence::Other,
        }
    }
}

/// Finds what erases the history ([`Erase`]) in a stream of output chunks, also when a
/// chunk boundary splits it.
#[derive(Debug, Default)]
pub(crate) struct EraseScan {
    /// The start of an escape sequence that the output seen so far ends in the middle of.
    carried: Vec<u8>,
}

impl EraseScan {
    /// The first erase that ends in `data` (which follows the data given before), if any,
    /// with the offset just past it. Call it again with the rest of `data` after that
    /// offset.
    pub(crate) fn find_end(&mut self, data: &[u8]) -> Option<(usize, Erase)> {
        if !self.carried.is_empty() {
            let carried = self.carried.len();
            let take = data.len().min(MAX_SEQUENCE - carried);
            let mut joined = std::mem::take(&mut self.carried);
            joined.extend_from_slice(&data[..take]);
            match classify(&joined) {
                Sequence::Erase(len, erase) => return Some((len - carried, erase)),
                Sequence::Incomplete if take == data.len() => {
                    self.carried = joined;
                    return None;
                }
                Sequence::Incomplete | Sequence::Other => {}
            }
        }
        // An escape sequence ends at the next ESC, so only the last one can be unfinished.
        for at in memchr::memchr_iter(0x1b, data) {
            match classify(&data[at..]) {
                Sequence::Erase(len, erase) => return Some((at + len, erase)),
                Sequence::Other => {}
                Sequence::Incomplete => self.carried = data[at..].to_vec(),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every erase `scan` reports for `chunks` fed in order, with its end as an offset in
    /// their concatenation.
    fn ends(chunks: &[&[u8]]) -> Vec<(usize, Erase)> {
        let mut scan = EraseScan::default();
        let mut found = Vec::new();
        let mut base = 0;
        for chunk in chunks {
            let mut from = 0;
            while let Some((end, erase)) = scan.find_end(&chunk[from..]) {
                from += end;
                found.push((base + from, erase));
            }
            base += chunk.len();
        }
        found
    }

    #[test]
    fn erases_are_found_whole_and_across_chunk_boundaries() {
        let stream = b"ab\x1b[3Jcd\x1b[2J\x1b[3J\x1b[?3J\x1bc\x1b[31m\x1b[03;1J\x1b\x1b[3J";
        let expected = vec![
            (6, Erase::Scrollback),
            (16, Erase::Scrollback),
            (21, Erase::Scrollback),
            (23, Erase::Reset),
            (35, Erase::Scrollback),
            (40, Erase::Scrollback),
        ];
        assert_eq!(ends(&[stream]), expected);
        // Every way of cutting the stream in three finds the same erases.
        for i in 0..=stream.len() {
            for j in i..=stream.len() {
                let parts: [&[u8]; 3] = [&stream[..i], &stream[i..j], &stream[j..]];
                assert_eq!(ends(&parts), expected, "cut at {i} and {j}");
            }
        }
    }

    #[test]
    fn near_misses_are_not_an_erase() {
        let misses: &[&[u8]] = &[
            b"\x1b[3K",
            b"\x1b[33J",
            b"\x1b[2J",
            b"\x1b3J",
            b"\x1b[;3J",
            b"\x1b[3 J",
            b"\x1b[4294967299J",
            b"\x1b(c",
        ];
        for miss in misses {
            assert!(ends(&[miss]).is_empty(), "{miss:?}");
        }
        assert!(ends(&[b"\x1b[", b"3", b"m", b"J"]).is_empty());
        // Controls inside are executed, and the sequence goes on; a long run of them is
        // not looked at.
        let nuls = [b"\x1b".as_slice(), &[0u8; 100][..], b"[3J"].concat();
        assert!(ends(&[&nuls[..50], &nuls[50..]]).is_empty());
        // Controls inside are executed, and the sequence goes on.
        assert_eq!(
            ends(&[b"\x1b[3\x07J\x1b\x08c"]),
            vec![(5, Erase::Scrollback), (8, Erase::Reset)]
        );
        assert_eq!(ends(&[b"\x1b[\x1b[3", b"J"]), vec![(6, Erase::Scrollback)]);
        let long = [b"\x1b[3;".as_slice(), &[b'1'; 40], b"J"].concat();
        assert!(ends(&[&long]).is_empty(), "too long to be looked at");
    }

    #[test]
    fn the_history_keeps_its_last_lines() {
        let mut history = History::new(3);
        for line in ["one", "\x1b[31mtwo", "three", "four"] {
            history.push(line);
        }
        let lines: Vec<&str> = history.last(10).collect();
        assert_eq!(lines, ["\x1b[31mtwo", "three", "four"], "one dropped");
        assert_eq!(history.last(1).collect::<Vec<_>>(), ["four"]);
        history.clear();
        assert_eq!(history.last(10).count(), 0);
    }
}
