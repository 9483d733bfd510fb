//! `ReplayRing`: a session's recent output by sequence number, for resuming clients.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Recent output chunks, oldest first, bounded by total bytes.
pub(crate) struct ReplayRing {
    chunks: VecDeque<(u64, Bytes)>,
    bytes: usize,
    max_bytes: usize,
}

impl ReplayRing {
    pub(crate) fn new(max_bytes: usize) -> Self {
        ReplayRing {
            chunks: VecDeque::new(),
            bytes: 0,
            max_bytes,
        }
    }

    /// Records chunk `seq` (sequence numbers arrive in increasing order).
    pub(crate) fn push(&mut self, seq: u64, data: Bytes) {
        self.bytes += data.len();
        self.chunks.push_back((seq, data));
        while self.bytes > self.max_bytes {
            match self.chunks.pop_front() {
                Some((_, old)) => self.bytes -= old.len(),
                None => break,
            }
        }
    }

    /// The sequence number of the newest chunk (0 before any output).
    pub(crate) fn newest_seq(&self) -> u64 {
        self.chunks.back().map_or(0, |(seq, _)| *seq)
    }

    /// The output after chunk `after_seq` that the ring holds, oldest first, but no more
    /// than its last `lines` lines: from just after the `lines`-th newline counted back
    /// from the end. A screen model keeps at most that many lines (scrollback included), so
    /// the bytes before them would only be parsed to be scrolled away.
    pub(crate) fn tail_after(&self, after_seq: u64, lines: usize) -> Vec<Bytes> {
        let mut newlines = 0;
        let mut tail = Vec::new();
        for (_, data) in self
            .chunks
            .iter()
            .rev()
            .take_while(|(seq, _)| *seq > after_seq)
        {
            let from = memchr::memrchr_iter(b'\n', data).find(|_| {
                newlines += 1;
                newlines > lines
            });
            match from {
                Some(at) => {
                    tail.push(data.slice(at + 1..));
                    break;
                }
                None => tail.push(data.clone()),
            }
        }
        tail.reverse();
        tail
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

    fn joined(chunks: &[Bytes]) -> Vec<u8> {
        chunks.concat()
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
            ring.tail_after(0, 1).len(),
            2,
            "whole chunks shared, the first cut"
        );
        assert!(ReplayRing::new(10).tail_after(0, 5).is_empty());
    }

    #[test]
    fn the_tail_holds_only_chunks_after_the_one_given() {
        let ring = ring_with(&[b"a\nb", b"\nc\n", b"d"], 100);
        assert_eq!(joined(&ring.tail_after(1, 99)), b"\nc\nd");
        assert_eq!(joined(&ring.tail_after(2, 99)), b"d");
        assert!(
            ring.tail_after(3, 99).is_empty(),
            "nothing after the newest"
        );
        assert_eq!(
            joined(&ring.tail_after(1, 1)),
            b"c\nd",
            "and its lines bound it"
        );
        assert_eq!(ring.newest_seq(), 3);
        assert_eq!(ReplayRing::new(10).newest_seq(), 0);
    }

    #[test]
    fn resume_before_the_ring_or_in_the_future_is_refused() {
        let ring = ring_with(&[b"ab", b"cd", b"ef"], 4);
        assert!(ring.since(0, 3, 100).is_none(), "chunk 1 was evicted");
        assert!(ring.since(1, 3, 100).is_some());
        assert!(ring.since(4, 3, 100).is_none());
    }
}
