//! Drain threads: one per client terminal, reading everything the client prints as
//! fast as it comes, counting bytes and timestamping the needles it waits for.
//!
//! A harness that reads slowly would measure itself: every tool blocks once its
//! terminal's buffer is full. So the read is a 64 KiB buffer in a thread that does
//! nothing else, and the scan skips ahead to candidate bytes.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::pty::{Read, read_or_wait};
use super::scan::Scanner;

/// How many of the last bytes read a drain keeps.
const TAIL: usize = 160;

/// How often an idle drain thread checks whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// What a drain thread saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The first byte the client printed.
    FirstByte,
    /// The needle with this index appeared.
    Found(usize),
    /// The terminal closed.
    Closed,
}

/// An event, with the client it came from and when it was read.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// The client's index in its group.
    pub client: usize,
    /// What happened.
    pub event: Event,
    /// When the read that showed it returned.
    pub at: Instant,
}

/// A running drain thread.
#[derive(Debug)]
pub struct Drain {
    bytes: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    /// Returns the last [`TAIL`] bytes read, for diagnosing a missing needle.
    thread: Option<JoinHandle<Vec<u8>>>,
}

impl Drain {
    /// Starts draining `master` for client `client`, reporting to `events`.
    pub fn spawn(
        client: usize,
        master: OwnedFd,
        needles: &[Vec<u8>],
        events: Sender<Seen>,
    ) -> Drain {
        let bytes = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut scanner = Scanner::new(needles);
        let (counter, stop_flag) = (Arc::clone(&bytes), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0; 64 * 1024];
            let send = |event| {
                let _ = events.send(Seen {
                    client,
                    event,
                    at: Instant::now(),
                });
            };
            let mut first = true;
            let mut tail = Vec::with_capacity(2 * TAIL);
            while !stop_flag.load(Ordering::Relaxed) {
                match read_or_wait(&master, &mut buf, STOP_CHECK) {
                    Ok(Read::Data(n)) => {
                        let at = Instant::now();
                        counter.fetch_add(n as u64, Ordering::Relaxed);
                        keep_tail(&mut tail, &buf[..n]);
                        if first {
                            first = false;
                            let _ = events.send(Seen {
                                client,
                                event: Event::FirstByte,
                                at,
                            });
                        }
                        let before = scanner.found();
                        for index in before..before + scanner.feed(&buf[..n]) {
                            let event = Event::Found(index);
                            let _ = events.send(Seen { client, event, at });
                        }
                    }
                    Ok(Read::Idle) => {}
                    Ok(Read::Closed) | Err(_) => {
                        send(Event::Closed);
                        break;
                    }
                }
            }
            tail
        });
        Drain {
            bytes,
            stop,
            thread: Some(thread),
        }
    }

    /// Bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Stops the thread; returns the last bytes it read.
    pub fn stop(mut self) -> Vec<u8> {
        self.stop_thread()
    }

    fn stop_thread(&mut self) -> Vec<u8> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|thread| thread.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// Appends `chunk` to `tail`, keeping only the last [`TAIL`] bytes.
fn keep_tail(tail: &mut Vec<u8>, chunk: &[u8]) {
    let chunk = &chunk[chunk.len().saturating_sub(TAIL)..];
    tail.extend_from_slice(chunk);
    if tail.len() > TAIL {
        tail.drain(..tail.len() - TAIL);
    }
}

/// `bytes` as printable ASCII, escapes and controls spelled out (`\x1b`).
pub fn printable(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_bytes() {
        let mut tail = Vec::new();
        keep_tail(&mut tail, b"abc");
        assert_eq!(tail, b"abc");
        keep_tail(&mut tail, &[b'x'; TAIL]);
        assert_eq!(tail.len(), TAIL);
        keep_tail(&mut tail, b"end");
        assert!(tail.ends_with(b"xend"));
        assert_eq!(printable(b"\x1b[0m@"), "\\x1b[0m@");
    }
}
