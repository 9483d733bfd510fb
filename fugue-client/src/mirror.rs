//! A copy of what the local terminal shows, kept by a client attached through ssh so that
//! the status line it draws over the bottom row while reconnecting can be taken away
//! again, leaving the screen exactly as it was (and the resumed output lands on it as on a
//! terminal that never saw the status line).
//!
//! The emulator runs on its own thread (it parses at some tens of MiB/s, and the output
//! path must never wait for it). If it falls more than [`BACKLOG_LIMIT`] behind, the copy
//! is lost until the next fresh screen (a resync, a switch, a resume that missed too
//! much); meanwhile the status goes in the window title instead, and the screen is left
//! alone. A copy whose size differs from the terminal's (a resize since) counts as lost.

use std::num::NonZeroU16;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use bytes::Bytes;
use fugue_client::TermSize;
use tokio::sync::oneshot;

/// Unparsed bytes the emulator may trail the terminal by before the copy is given up.
const BACKLOG_LIMIT: usize = 16 * 1024 * 1024;

/// What the emulator thread is told, in the order the terminal got it.
enum Message {
    /// Bytes written to the terminal.
    Output(Bytes),
    /// A fresh screen: forget everything, start at this size from these bytes.
    Reset(TermSize, Bytes),
    /// What to write to put the bottom row, the cursor and the pen back.
    Restore(oneshot::Sender<Option<Restore>>),
}

/// What puts the terminal back as the copy has it.
#[derive(Debug, Clone)]
pub struct Restore {
    /// Rewrites the bottom row (the cursor is then left anywhere).
    pub row: Vec<u8>,
    /// Puts back the cursor (position and visibility) and the pen.
    pub cursor: Vec<u8>,
}

/// The handle the attach loop feeds; dropping it ends the thread.
pub struct Mirror {
    tx: Sender<Message>,
    backlog: Arc<AtomicUsize>,
    /// Whether the copy is good: not given up since the last fresh screen.
    whole: bool,
    /// The size of the copy, the terminal's at the last fresh screen.
    size: TermSize,
}

impl Mirror {
    /// Starts the thread with a copy of a terminal of `size` that was just sent `screen`.
    /// `None` if the thread cannot be started (the status then goes in the title).
    pub fn start(size: TermSize, screen: &[u8]) -> Option<Mirror> {
        let (tx, rx) = channel();
        let backlog = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&backlog);
        std::thread::Builder::new()
            .name("fugue-mirror".to_owned())
            .spawn(move || run(&rx, &counted))
            .ok()?;
        let mut mirror = Mirror {
            tx,
            backlog,
            whole: true,
            size,
        };
        mirror.reset(size, screen);
        Some(mirror)
    }

    /// The terminal was sent `data`.
    pub fn output(&mut self, data: &Bytes) {
        if !self.whole {
            return;
        }
        if self.backlog.load(Ordering::Relaxed) + data.len() > BACKLOG_LIMIT {
            self.whole = false;
            return;
        }
        self.backlog.fetch_add(data.len(), Ordering::Relaxed);
        self.whole = self.tx.send(Message::Output(data.clone())).is_ok();
    }

    /// The terminal was cleared and sent `screen` (at `size`).
    pub fn reset(&mut self, size: TermSize, screen: &[u8]) {
        let screen = Bytes::copy_from_slice(screen);
        self.backlog.fetch_add(screen.len(), Ordering::Relaxed);
        self.size = size;
        self.whole = self.tx.send(Message::Reset(size, screen)).is_ok();
    }

    /// The bytes that restore the bottom row, the cursor and the pen as the terminal had
    /// them before the status line; `None` if the copy is lost or of another size.
    pub async fn restore(&self, size: TermSize) -> Option<Restore> {
        if !self.whole {
            return None;
        }
        let (reply_tx, reply_rx) = oneshot::channel();
        self.tx.send(Message::Restore(reply_tx)).ok()?;
        let bytes = reply_rx.await.ok()??;
        // The terminal was resized since: it may have moved things the copy did not.
        (self.size == size).then_some(bytes)
    }
}

/// The emulator thread: parses until the handle is dropped.
fn run(rx: &Receiver<Message>, backlog: &AtomicUsize) {
    let mut parser: Option<vt100::Parser> = None;
    while let Ok(message) = rx.recv() {
        match message {
            Message::Output(data) => {
                if let Some(parser) = &mut parser {
                    parser.process(&data);
                }
                backlog.fetch_sub(data.len(), Ordering::Relaxed);
            }
            Message::Reset(size, screen) => {
                let mut fresh = emulator(size);
                fresh.process(&screen);
                parser = Some(fresh);
                backlog.fetch_sub(screen.len(), Ordering::Relaxed);
            }
            Message::Restore(reply) => {
                let bytes = parser.as_ref().map(|parser| restoring(parser.screen()));
                let _ = reply.send(bytes);
            }
        }
    }
}

/// An emulator of `size`, without scrollback (only the screen is ever restored).
fn emulator(size: TermSize) -> vt100::Parser {
    let rows = NonZeroU16::new(size.rows).unwrap_or(NonZeroU16::MIN);
    let cols = NonZeroU16::new(size.cols).unwrap_or(NonZeroU16::MIN);
    vt100::Parser::new(rows, cols, 0)
}

/// The bottom row as `screen` has it, and its cursor and pen.
fn restoring(screen: &vt100::Screen) -> Restore {
    let (rows, cols) = screen.size();
    let mut row = format!("\x1b[{rows};1H\x1b[0m\x1b[2K").into_bytes();
    if let Some(text) = screen.rows_formatted(0, cols.get()).last() {
        row.extend_from_slice(text.as_bytes());
    }
    // Drawing the cursor's place may redraw cells: the pen goes last.
    let mut cursor = b"\x1b[0m".to_vec();
    cursor.extend_from_slice(screen.cursor_state_formatted().as_bytes());
    cursor.extend_from_slice(screen.attributes_formatted().as_bytes());
    Restore { row, cursor }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn restores_the_bottom_row_cursor_and_pen() {
        let size = TermSize { rows: 3, cols: 10 };
        let mut mirror = Mirror::start(size, b"\x1b[H\x1b[Jone\r\ntwo\r\n\x1b[31mthree").unwrap();
        mirror.output(&Bytes::from_static(b"\x1b[1;2H\x1b[1m"));
        let restore = mirror.restore(size).await.unwrap();
        // Replay: the terminal before, a status line over the bottom row, the restore.
        let mut terminal = emulator(size);
        terminal.process(b"\x1b[H\x1b[Jone\r\ntwo\r\n\x1b[31mthree\x1b[1;2H\x1b[1m");
        let before = terminal.screen().clone();
        terminal.process(b"\x1b[3;1H\x1b[0;7m\x1b[2K[recon]\x1b[0m");
        terminal.process(&restore.cursor);
        assert_eq!(terminal.screen().cursor_position(), (0, 1));
        terminal.process(&restore.row);
        terminal.process(&restore.cursor);
        let after = terminal.screen();
        assert_eq!(after.contents_formatted(), before.contents_formatted());
        assert_eq!(after.cursor_position(), (0, 1));
        assert_eq!(after.attributes_formatted(), before.attributes_formatted());
    }

    #[tokio::test]
    async fn gives_up_far_behind_and_comes_back_with_a_fresh_screen() {
        let size = TermSize { rows: 2, cols: 4 };
        let mut mirror = Mirror::start(size, b"").unwrap();
        mirror.backlog.fetch_add(BACKLOG_LIMIT, Ordering::Relaxed);
        mirror.output(&Bytes::from_static(b"x"));
        assert!(!mirror.whole);
        assert!(mirror.restore(size).await.is_none());
        mirror.backlog.fetch_sub(BACKLOG_LIMIT, Ordering::Relaxed);
        mirror.reset(size, b"ab");
        assert!(mirror.restore(size).await.is_some());
    }
}
