//! `ReplayRing`: a session's recent output by sequence number, for resuming clients.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Recent output chunks, oldest first, bounded by total bytes.
pub(crate) struct ReplayRing {
    chunks: VecDeque<(u64, Bytes)>,
    bytes: usize,
    max_bytes: usize,
    /// The sequence number of the last chunk pushed, even if it has been evicted since.
    newest: u64,
}

/// The end of the output after a given chunk: see [`ReplayRing::tail_after`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tail {
    /// The output, oldest first.
    pub(crate) chunks: Vec<Bytes>,
    /// Whether `chunks` start right after the given chunk: nothing was cut off in front,
    /// neither by the line bound nor by eviction from the ring.
    pub(crate) whole: bool,
}

impl ReplayRing {
    pub(crate) fn new(max_bytes: usize) -> Self {
        ReplayRing {
            chunks: VecDeque::new(),
            bytes: 0,
            max_bytes,
            newest: 0,
        }
    }

    /// Records chunk `seq` (sequence numbers arrive in increasing order).
    pub(crate) fn push(&mut self, seq: u64, data: Bytes) {
        self.newest = seq;
        self.bytes += data.len();
        self.chunks.push_back((seq, data));
        while self.bytes > self.max_bytes {
            match self.chunks.pop_front() {
                Some((_, old)) => self.bytes -= old.len(),
                None => break,
            }
        }
    }

    /// A ring holding `chunks` (oldest first) after output up to `newest`.
    pub(crate) fn restored(max_bytes: usize, chunks: Vec<(u64, Bytes)>, newest: u64) -> Self {
        let mut ring = ReplayRing::new(max_bytes);
        for (seq, data) in chunks {
            ring.push(seq, data);
        }
        ring.newest = newest;
        ring
    }

    /// The chunks it holds, oldest first.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = &(u64, Bytes)> {
        self.chunks.iter()
    }

    /// The sequence number of the last chunk pushed (0 before any output).
    pub(crate) fn newest_seq(&self) -> u64 {
        self.newest
    }

    /// The output after chunk `after_seq` that the ring holds, oldest first, but no more
    /// than its last `lines` lines: from just after the `lines`-th newline counted back
    /// from the end. A screen model keeps at most that many lines (scrollback included), so
    /// the bytes before them would only be parsed to be scrolled away.
    pub(crate) fn tail_after(&self, after_seq: u64, lines: usize) -> Tail {
        let mut newlines = 0;
        let mut chunks = Vec::new();
        let mut first_seq = self.newest.saturating_add(1);
        let mut cut = false;
        for (seq, data) in self
            .chunks
            .iter()
            .rev()
            .take_while(|(seq, _)| *seq > after_seq)
        {
            first_seq = *seq;
            let from = memchr::memrchr_iter(b'\n', data).find(|_| {
                newlines += 1;
                newlines > lines
            });
            match from {
                Some(at) => {
                    chunks.push(data.slice(at + 1..));
                    cut = true;
                    break;
                }
                None => chunks.push(data.clone()),
            }
        }
        chunks.reverse();
        Tail {
            chunks,
            whole: !cut && first_seq == after_seq.saturating_add(1),
        }
    }

    /// The output after `after_seq` up to `current_seq`, merged into pieces of at most
    /// `piece_len` bytes, each with the sequence number it ends at; `None` if part of it has
    /// left the ring (or `after_seq` is in the future).
    pub(crate) fn since(
        &self,
        after_seq: u64,
        current_seq: u64,
        piece_len: usize,
    ) -> Option<Vec<(u64, Bytes)>> {
        if after_seq > current_seq {
            return None;
        }
        if after_seq == current_seq {
            return Some(Vec::new());
        }
        let first = self.chunks.front()?.0;
        if first > after_seq + 1 {
            return None;
        }
        let mut pieces = Vec::new();
        let mut piece = BytesMut::new();
        let mut piece_seq = after_seq;
        for (seq, data) in self.chunks.iter().filter(|(seq, _)| *seq > after_seq) {
            if !piece.is_empty() && piece.len() + data.len() > piece_len {
                pieces.push((piece_seq, piece.split().freeze()));
            }
            piece.extend_from_slice(data);
            piece_seq = *seq;
        }
        if !piece.is_empty() {
            pieces.push((piece_seq, piece.freeze()));
        }
        Some(pieces)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_with(chunks: &[&'static [u8]], max: usize) -> ReplayRing {
        let mut ring = ReplayRing::new(max);
        for (i, chunk) in chunks.iter().enumerate() {
            ring.push(i as u64 + 1, Bytes::from_static(chunk));
        }
        ring
    }

    #[test]
    fn resume_inside_the_ring_returns_exactly_the_missing_bytes() {
        let ring = ring_with(&[b"ab", b"cd", b"ef"], 100);
        let pieces = ring.since(1, 3, 100).unwrap();
        assert_eq!(pieces, vec![(3, Bytes::from_static(b"cdef"))]);
        assert_eq!(ring.since(3, 3, 100).unwrap(), vec![]);
        assert_eq!(
            ring.since(0, 3, 100).unwrap(),
            vec![(3, Bytes::from_static(b"abcdef"))]
        );
    }

    #[test]
    fn pieces_respect_the_length_bound() {
        let ring = ring_with(&[b"ab", b"cd", b"ef"], 100);
        let pieces = ring.since(0, 3, 4).unwrap();
        let expected = vec![
            (2, Bytes::from_static(b"abcd")),
            (3, Bytes::from_static(b"ef")),
        ];
        assert_eq!(pieces, expected);
    }

    fn joined(tail: &Tail) -> Vec<u8> {
        tail.chunks.concat()
    }

    #[test]
    fn the_tail_starts_after_the_newline_before_its_lines() {
        let ring = ring_with(&[b"a\nb", b"\nc\n", b"d"], 100);
        // Counted back from the end: "d" (no newline yet), "c\n", "b\n", "a\n".
        assert_eq!(joined(&ring.tail_after(0, 0)), b"d");
        assert_eq!(joined(&ring.tail_after(0, 1)), b"c\nd");
        assert_eq!(joined(&ring.tail_after(0, 2)), b"b\nc\nd");
        assert_eq!(joined(&ring.tail_after(0, 3)), b"a\nb\nc\nd");
        assert_eq!(
            joined(&ring.tail_after(0, 99)),
            b"a\nb\nc\nd",
            "all it holds"
        );
        assert_eq!(
            ring.tail_after(0, 1).chunks.len(),
            2,
            "whole chunks shared, the first cut"
        );
        assert!(ring.tail_after(0, 99).whole);
        assert!(!ring.tail_after(0, 2).whole, "\"a\\n\" cut off");
        let empty = ReplayRing::new(10).tail_after(0, 5);
        assert!(empty.chunks.is_empty() && empty.whole);
    }

    #[test]
    fn the_tail_holds_only_chunks_after_the_one_given() {
        let ring = ring_with(&[b"a\nb", b"\nc\n", b"d"], 100);
        assert_eq!(joined(&ring.tail_after(1, 99)), b"\nc\nd");
        assert_eq!(joined(&ring.tail_after(2, 99)), b"d");
        let nothing = ring.tail_after(3, 99);
        assert!(
            nothing.chunks.is_empty() && nothing.whole,
            "nothing after the newest"
        );
        assert_eq!(
            joined(&ring.tail_after(1, 1)),
            b"c\nd",
            "and its lines bound it"
        );
        assert!(ring.tail_after(1, 99).whole && !ring.tail_after(1, 1).whole);
        assert_eq!(ring.newest_seq(), 3);
        assert_eq!(ReplayRing::new(10).newest_seq(), 0);
    }

    #[test]
    fn a_tail_that_lost_chunks_to_eviction_is_not_whole() {
        let ring = ring_with(&[b"ab", b"cd", b"ef"], 4);
        let tail = ring.tail_after(0, 99);
        assert_eq!(joined(&tail), b"cdef");
        assert!(!tail.whole, "chunk 1 was evicted");
        assert!(ring.tail_after(1, 99).whole);
        // The newest chunk is remembered even when it does not fit the ring at all.
        let mut tiny = ReplayRing::new(1);
        tiny.push(7, Bytes::from_static(b"too long"));
        assert_eq!(tiny.newest_seq(), 7);
        assert!(!tiny.tail_after(6, 99).whole);
    }

    #[test]
    fn resume_before_the_ring_or_in_the_future_is_refused() {
        let ring = ring_with(&[b"ab", b"cd", b"ef"], 4);
        assert!(ring.since(0, 3, 100).is_none(), "chunk 1 was evicted");
        assert!(ring.since(1, 3, 100).is_some());
        assert!(ring.since(4, 3, 100).is_none());
    }
}
