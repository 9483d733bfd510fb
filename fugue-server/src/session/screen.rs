//! The session's screen model: a `vt100` parser on a thread of its own.
//!
//! Parsing costs about 30 MiB/s per core, several times slower than forwarding bytes, so it
//! never sits on the forwarding path: output is queued to the model thread, and the PTY
//! reader never waits for it. The queue is bounded in bytes (`MAX_BACKLOG`). When a flood
//! outruns the parser past that bound, the session stops queueing and the model is
//! *behind*; once the output goes quiet (or a client needs the screen, or the size changes)
//! it catches up from the replay ring: it parses the output it skipped, on top of its own
//! state, but no more than its last rows + scrollback lines. Older output would only
//! scroll out of the scrollback. So a skipped stretch of fewer lines than that, if the
//! ring still holds all of it, is parsed whole and the model is exact; a longer one costs
//! one scrollback's worth of parsing, whatever its length. What the model had before the
//! flood stays (the alternate screen, modes, a header above a scroll region). The price of
//! a long flood: what it changed in the part cut off and never repeated (say, a colour
//! left on, or a mode) is not in the model.
//! Requests (snapshot, capture) travel on the same queue, so each answer reflects exactly
//! the output queued before it; a request made while the model is behind first makes it
//! catch up, so answers are always current.

use std::num::NonZeroU16;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use bytes::Bytes;
use fugue_protocol::{CaptureFormat, TermSize};
use tokio::sync::{mpsc, oneshot};

use super::modes::ModeTracker;

/// Cancels an escape sequence the parser may be in the middle of (CAN): put before output
/// that does not follow on from what the model parsed last.
const CANCEL: &[u8] = b"\x18";

/// Bytes of output the model may have queued before the session stops feeding it and lets
/// it catch up later instead (about 8 ms of parsing). A burst that outruns the parser by
/// more is a flood, and parsing all of it would take a core from forwarding it.
const MAX_BACKLOG: usize = 256 << 10;

/// The capture of a screen, as `ServerMessage::Captured` carries it.
#[derive(Debug)]
pub(crate) struct Capture {
    pub(crate) text: String,
    pub(crate) cursor: (u16, u16),
    pub(crate) size: TermSize,
}

enum ModelCmd {
    Feed(Bytes),
    /// Parse the output skipped while behind (the end of the replay ring).
    CatchUp(Vec<Bytes>),
    Resize(TermSize),
    Snapshot(oneshot::Sender<Bytes>),
    Capture {
        format: CaptureFormat,
        scrollback_lines: usize,
        reply: oneshot::Sender<Capture>,
    },
}

/// A handle to the model thread; dropping it ends the thread.
pub(crate) struct ScreenModel {
    tx: mpsc::UnboundedSender<ModelCmd>,
    /// Output bytes queued and not yet taken; the thread subtracts what it has taken.
    backlog: Arc<AtomicUsize>,
    /// Lines the model keeps: the screen's rows and the scrollback. Catching up parses no
    /// more of the ring than that many lines.
    lines_kept: usize,
    scrollback: usize,
    /// The sequence number of the last output chunk queued: the model has (or will have)
    /// parsed everything up to it.
    queued_through: u64,
    /// Output after `queued_through` was skipped: the model must catch up from the ring
    /// before it is current.
    behind: bool,
}

/// Remembers what the parser does not keep itself: the window title.
#[derive(Default)]
struct Callbacks {
    title: Option<Vec<u8>>,
}

impl vt100::Callbacks for Callbacks {
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.title = Some(title.to_vec());
    }
}

/// A stopped model thread: the session goes on without screen restore for the rest of
/// its life, which the caller logs.
#[derive(Debug)]
pub(crate) struct ModelGone;

/// What the model thread owns.
struct Model {
    parser: vt100::Parser<Callbacks>,
    modes: ModeTracker,
    backlog: Arc<AtomicUsize>,
}

impl ScreenModel {
    /// Starts the model thread for a screen of `size` keeping `scrollback` lines.
    pub(crate) fn start(name: &str, size: TermSize, scrollback: usize) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(AtomicUsize::new(0));
        let model = Model {
            parser: new_parser(size, scrollback),
            modes: ModeTracker::default(),
            backlog: backlog.clone(),
        };
        thread::Builder::new()
            .name(format!("screen-{name}"))
            .spawn(move || model.run(rx))?;
        Ok(ScreenModel {
            tx,
            backlog,
            lines_kept: usize::from(size.rows) + scrollback,
            scrollback,
            queued_through: 0,
            behind: false,
        })
    }

    /// Queues output chunk `seq` for parsing, never waiting. Past `MAX_BACKLOG` the output
    /// is skipped and the model marked behind: parsing a flood that outruns the parser would
    /// only take a core from forwarding it. [`ScreenModel::catch_up`] parses what was
    /// skipped, from the ring, when the output goes quiet or a request needs the screen.
    pub(crate) fn feed(&mut self, seq: u64, data: Bytes) -> Result<(), ModelGone> {
        if self.behind {
            return Ok(());
        }
        if self.backlog.load(Ordering::Acquire) + data.len() > MAX_BACKLOG {
            self.behind = true;
            return Ok(());
        }
        self.queued_through = seq;
        self.queue(data.len(), ModelCmd::Feed(data))
    }

    /// Whether output was skipped since the model was last current.
    pub(crate) fn is_behind(&self) -> bool {
        self.behind
    }

    /// Makes sure every output byte so far reaches the model before the next request: the
    /// output skipped while behind, up to the last `lines_kept` lines of it, is queued from
    /// `ring`. If some of it is cut off in front, the escape sequence the last output queued
    /// may have left open is cancelled first: the tail must not complete it.
    pub(crate) fn catch_up(&mut self, ring: &super::ring::ReplayRing) -> Result<(), ModelGone> {
        if !self.behind {
            return Ok(());
        }
        let tail = ring.tail_after(self.queued_through, self.lines_kept);
        let mut chunks = tail.chunks;
        if !tail.whole {
            chunks.insert(0, Bytes::from_static(CANCEL));
        }
        let len = chunks.iter().map(Bytes::len).sum();
        self.behind = false;
        self.queued_through = ring.newest_seq();
        self.queue(len, ModelCmd::CatchUp(chunks))
    }

    fn queue(&self, len: usize, cmd: ModelCmd) -> Result<(), ModelGone> {
        self.backlog.fetch_add(len, Ordering::AcqRel);
        self.tx.send(cmd).map_err(|_| ModelGone)
    }

    /// Resizes the model, after all the output so far: a model that is behind catches up
    /// from `ring` first, at the size that output was written for.
    pub(crate) fn resize(
        &mut self,
        size: TermSize,
        ring: &super::ring::ReplayRing,
    ) -> Result<(), ModelGone> {
        self.catch_up(ring)?;
        self.lines_kept = usize::from(size.rows) + self.scrollback;
        self.tx.send(ModelCmd::Resize(size)).map_err(|_| ModelGone)
    }

    /// Bytes that redraw the screen as of everything queued so far; call
    /// [`ScreenModel::catch_up`] first.
    pub(crate) async fn snapshot(&self) -> Result<Bytes, ModelGone> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(ModelCmd::Snapshot(reply))
            .map_err(|_| ModelGone)?;
        answer.await.map_err(|_| ModelGone)
    }

    /// Asks for a capture; the model answers on `reply` when it gets there. Call
    /// [`ScreenModel::catch_up`] first.
    pub(crate) fn capture(
        &self,
        format: CaptureFormat,
        scrollback_lines: usize,
        reply: oneshot::Sender<Capture>,
    ) -> Result<(), ModelGone> {
        let cmd = ModelCmd::Capture {
            format,
            scrollback_lines,
            reply,
        };
        self.tx.send(cmd).map_err(|_| ModelGone)
    }
}

/// vt100 wants non-zero sizes; the server refuses zero sizes before they get here.
fn non_zero(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN)
}

fn new_parser(size: TermSize, scrollback: usize) -> vt100::Parser<Callbacks> {
    vt100::Parser::new_with_callbacks(
        non_zero(size.rows),
        non_zero(size.cols),
        scrollback,
        Callbacks::default(),
    )
}

impl Model {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<ModelCmd>) {
        while let Some(cmd) = rx.blocking_recv() {
            self.apply(cmd);
        }
    }

    fn apply(&mut self, cmd: ModelCmd) {
        match cmd {
            ModelCmd::Feed(data) => self.parse(&data),
            ModelCmd::CatchUp(chunks) => {
                for chunk in chunks {
                    self.parse(&chunk);
                }
            }
            ModelCmd::Resize(size) => {
                self.parser
                    .set_size(non_zero(size.rows), non_zero(size.cols));
                self.modes.resized();
            }
            ModelCmd::Snapshot(reply) => {
                let _ = reply.send(snapshot(&self.parser, &self.modes));
            }
            ModelCmd::Capture {
                format,
                scrollback_lines,
                reply,
            } => {
                let _ = reply.send(capture(&mut self.parser, format, scrollback_lines));
            }
        }
    }

    fn parse(&mut self, data: &[u8]) {
        self.parser.process(data);
        self.modes.feed(data);
        self.backlog.fetch_sub(data.len(), Ordering::AcqRel);
    }
}

/// Modes a snapshot turns off first, because a terminal that showed this session (or
/// anything else) before may still have them on; the parser's state (and the mode
/// tracker) then turn on those the program has set.
const RESET_MODES: &[u8] = b"\x1b[?1l\x1b>\x1b[?2004l\x1b[?1000l\x1b[?1002l\x1b[?1003l\
\x1b[?1005l\x1b[?1006l\x1b[?1015l\x1b[r\x1b[?7h";

/// Bytes that, written to a fresh terminal of the model's size, re-create the screen:
/// which buffer is active, contents, colours, attributes, cursor position and visibility,
/// input modes (keypad, cursor keys, bracketed paste, mouse), the window title, the scroll
/// region and auto-wrap.
fn snapshot(parser: &vt100::Parser<Callbacks>, modes: &ModeTracker) -> Bytes {
    let screen = parser.screen();
    let mut out = Vec::with_capacity(8 * 1024);
    // vt100 does not emit the alternate-screen switch itself; without it a client would
    // draw a full-screen program over its own primary screen.
    if screen.alternate_screen() {
        out.extend_from_slice(b"\x1b[?1049h");
    } else {
        out.extend_from_slice(b"\x1b[?1049l");
    }
    out.extend_from_slice(RESET_MODES);
    if let Some(title) = &parser.callbacks().title {
        out.extend_from_slice(b"\x1b]2;");
        out.extend_from_slice(title);
        out.push(0x07);
    }
    out.extend_from_slice(screen.state_formatted().as_bytes());
    // Last: setting a scroll region homes the cursor, so it goes after the contents.
    out.extend_from_slice(&modes.restore(screen.size().0.get(), screen.cursor_position()));
    Bytes::from(out)
}

fn capture(parser: &mut vt100::Parser<Callbacks>, format: CaptureFormat, lines: usize) -> Capture {
    let screen = parser.screen_mut();
    let (rows, cols) = screen.size();
    let (rows, cols) = (rows.get(), cols.get());
    let cursor = screen.cursor_position();
    // Scrollback is read by scrolling the view up a page at a time; the view is put back
    // at the bottom afterwards so snapshots are unaffected.
    let mut remaining = lines.min(screen.scrollback_len());
    let mut out: Vec<String> = Vec::new();
    while remaining > 0 {
        let take = remaining.min(usize::from(rows));
        screen.set_scrollback(remaining);
        out.extend(render_rows(screen, format, cols).take(take));
        remaining -= take;
    }
    screen.set_scrollback(0);
    out.extend(render_rows(screen, format, cols));
    if format == CaptureFormat::Plain {
        while out.last().is_some_and(String::is_empty) {
            out.pop();
        }
    }
    let mut text = out.join("\n");
    if format == CaptureFormat::Ansi {
        text.push_str("\x1b[m");
    }
    Capture {
        text,
        cursor,
        size: TermSize { rows, cols },
    }
}

fn render_rows(
    screen: &vt100::Screen,
    format: CaptureFormat,
    cols: u16,
) -> Box<dyn Iterator<Item = String> + '_> {
    match format {
        CaptureFormat::Plain => Box::new(screen.rows(0, cols).map(|row| row.trim_end().to_owned())),
        CaptureFormat::Ansi => Box::new(screen.rows_formatted(0, cols)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser_with(bytes: &[u8]) -> vt100::Parser<Callbacks> {
        let mut parser =
            vt100::Parser::new_with_callbacks(non_zero(5), non_zero(20), 100, Callbacks::default());
        parser.process(bytes);
        parser
    }

    #[test]
    fn capture_includes_requested_scrollback_above_the_screen() {
        let text: String = (1..=12).map(|n| format!("{n}\r\n")).collect();
        let mut parser = parser_with(text.as_bytes());
        let screen_only = capture(&mut parser, CaptureFormat::Plain, 0);
        assert_eq!(screen_only.text, "9\n10\n11\n12");
        let with_history = capture(&mut parser, CaptureFormat::Plain, 3);
        assert_eq!(with_history.text, "6\n7\n8\n9\n10\n11\n12");
        let everything = capture(&mut parser, CaptureFormat::Plain, 1000);
        let expected: Vec<String> = (1..=12).map(|n| n.to_string()).collect();
        assert_eq!(everything.text, expected.join("\n"));
        assert_eq!(everything.cursor, (4, 0));
    }

    #[test]
    fn snapshot_restores_alternate_screen_title_and_modes() {
        let parser =
            parser_with(b"\x1b]2;hello\x07\x1b[?1049h\x1b[?2004h\x1b[?1h\x1b[2;3Hx\x1b[?25l");
        let snapshot = snapshot(&parser, &ModeTracker::default());
        let mut fresh =
            vt100::Parser::new_with_callbacks(non_zero(5), non_zero(20), 0, Callbacks::default());
        fresh.process(&snapshot);
        let (a, b) = (parser.screen(), fresh.screen());
        assert!(b.alternate_screen());
        assert!(b.bracketed_paste() && b.application_cursor() && b.hide_cursor());
        assert_eq!(a.contents(), b.contents());
        assert_eq!(a.cursor_position(), b.cursor_position());
        assert_eq!(fresh.callbacks().title.as_deref(), Some(&b"hello"[..]));
    }

    #[test]
    fn snapshot_restores_the_scroll_region_so_scrolling_continues_alike() {
        let setup = b"a\r\nb\r\nc\r\nd\r\ne\x1b[2;4r\x1b[4;1H";
        let mut original = parser_with(setup);
        let mut modes = ModeTracker::default();
        modes.feed(setup);
        let restored_bytes = snapshot(&original, &modes);
        let mut restored = parser_with(&restored_bytes);
        // Two new lines at the region's bottom scroll only rows 2 to 4.
        let more = b"\r\nX\r\nY";
        original.process(more);
        restored.process(more);
        assert_eq!(original.screen().contents(), "a\nd\nX\nY\ne");
        assert_eq!(restored.screen().contents(), original.screen().contents());
        assert_eq!(
            restored.screen().cursor_position(),
            original.screen().cursor_position()
        );
    }

    #[tokio::test]
    async fn a_capture_sees_the_output_queued_before_it_even_if_the_model_then_falls_behind() {
        let size = TermSize { rows: 5, cols: 20 };
        let mut model = ScreenModel::start("test", size, 100).expect("model thread");
        let lines = |n: usize| -> Bytes {
            let text: String = (0..n)
                .map(|i| format!("\x1b[3{}mline {i}\r\n", i % 8))
                .collect();
            Bytes::from(text)
        };
        // Enough to keep the thread busy while the rest is queued.
        model.feed(1, lines(8_000)).expect("model alive");
        model
            .feed(2, Bytes::from_static(b"\x1b[0mMARK"))
            .expect("model alive");
        let (reply, answer) = oneshot::channel();
        model
            .capture(CaptureFormat::Plain, 0, reply)
            .expect("model alive");
        // More than the backlog bound on its own: the model falls behind at once.
        model.feed(3, lines(20_000)).expect("model alive");
        assert!(model.is_behind());
        let captured = answer.await.expect("capture");
        assert!(
            captured.text.ends_with("MARK"),
            "the capture lost output queued before it: {:?}",
            captured.text
        );
    }

    #[tokio::test]
    async fn a_model_that_falls_behind_catches_up_and_answers_currently() {
        let size = TermSize { rows: 5, cols: 20 };
        let mut model = ScreenModel::start("test", size, 100).expect("model thread");
        let mut ring = crate::session::ring::ReplayRing::new(8 << 20);
        let mut reference = new_parser(size, 100);
        // Far more than the backlog bound, queued faster than any parser can go.
        let chunks: Vec<Bytes> = (0..100u32)
            .map(|n| {
                let lines: String = (0..2000)
                    .map(|i| format!("\x1b[3{}mline {n}.{i}\r\n", i % 8))
                    .collect();
                Bytes::from(lines)
            })
            .collect();
        let mut fell_behind = false;
        for (n, chunk) in chunks.iter().enumerate() {
            ring.push(n as u64 + 1, chunk.clone());
            model
                .feed(n as u64 + 1, chunk.clone())
                .expect("model alive");
            fell_behind |= model.is_behind();
        }
        assert!(fell_behind, "the flood outran the parser");
        for chunk in &chunks {
            reference.process(chunk);
        }
        model.catch_up(&ring).expect("model alive");
        let snapshot = model.snapshot().await.expect("snapshot");
        let mut restored = new_parser(size, 0);
        restored.process(&snapshot);
        assert_eq!(restored.screen().contents(), reference.screen().contents());
        assert_eq!(
            restored.screen().cursor_position(),
            reference.screen().cursor_position()
        );
        // Catching up parsed only the ring's last lines, and still has the whole
        // scrollback.
        let (reply, answer) = oneshot::channel();
        model
            .capture(CaptureFormat::Plain, 100, reply)
            .expect("model alive");
        let captured = answer.await.expect("capture");
        let expected = capture(&mut reference, CaptureFormat::Plain, 100);
        assert_eq!(captured.text, expected.text);
        assert!(
            captured.text.lines().count() > 100,
            "the scrollback is there"
        );
        assert_eq!(
            model.backlog.load(Ordering::Acquire),
            0,
            "backlog accounting returns to 0"
        );
        // Output after the catch-up is parsed again.
        let after = Bytes::from_static(b"\x1b[2J\x1b[Hafter the flood");
        model.feed(101, after.clone()).expect("model alive");
        reference.process(&after);
        let snapshot = model.snapshot().await.expect("snapshot");
        let mut restored = new_parser(size, 0);
        restored.process(&snapshot);
        assert_eq!(restored.screen().contents(), reference.screen().contents());
        assert!(restored.screen().contents().starts_with("after the flood"));
    }

    /// A full-screen program's setup (alternate screen, a header above a scroll region)
    /// comes long before the last lines of a flood inside its region; catching up keeps it,
    /// where starting the model afresh from those lines would lose it.
    #[tokio::test]
    async fn catching_up_after_a_long_flood_keeps_what_was_drawn_before_it() {
        let size = TermSize { rows: 5, cols: 20 };
        let mut model = ScreenModel::start("test", size, 100).expect("model thread");
        let mut ring = crate::session::ring::ReplayRing::new(8 << 20);
        let mut reference = new_parser(size, 100);
        let setup =
            Bytes::from_static(b"\x1b]2;pager\x07\x1b[?1049h\x1b[HHEADER\x1b[2;5r\x1b[5;1H");
        let mut output = vec![setup];
        // Each chunk of the flood is larger than the backlog bound on its own.
        output.extend((0..5u32).map(|n| {
            let lines: String = (0..20_000).map(|i| format!("\r\nrow {n}.{i:06}")).collect();
            Bytes::from(lines)
        }));
        assert!(output.iter().skip(1).all(|chunk| chunk.len() > MAX_BACKLOG));
        for (n, chunk) in output.iter().enumerate() {
            ring.push(n as u64 + 1, chunk.clone());
            model
                .feed(n as u64 + 1, chunk.clone())
                .expect("model alive");
            reference.process(chunk);
        }
        assert!(model.is_behind(), "the flood outran the parser");
        model.catch_up(&ring).expect("model alive");
        let snapshot = model.snapshot().await.expect("snapshot");
        let mut restored = new_parser(size, 0);
        restored.process(&snapshot);
        let screen = restored.screen();
        assert!(screen.alternate_screen(), "still on the alternate screen");
        assert_eq!(
            screen.contents(),
            "HEADER\nrow 4.019996\nrow 4.019997\nrow 4.019998\nrow 4.019999"
        );
        assert_eq!(screen.contents(), reference.screen().contents());
        assert_eq!(restored.callbacks().title.as_deref(), Some(&b"pager"[..]));
        // The scroll region came through too: a new line scrolls only rows 2 to 5.
        restored.process(b"\r\nnext");
        assert!(
            restored
                .screen()
                .contents()
                .starts_with("HEADER\nrow 4.019997")
        );
    }

    /// Feeds `chunks` as output chunks `first..` to the model and the ring, and all of
    /// them to `reference`; the model must fall behind on the way.
    fn flood(
        model: &mut ScreenModel,
        ring: &mut crate::session::ring::ReplayRing,
        reference: &mut vt100::Parser<Callbacks>,
        first: u64,
        chunks: &[Bytes],
    ) {
        for (seq, chunk) in (first..).zip(chunks) {
            ring.push(seq, chunk.clone());
            model.feed(seq, chunk.clone()).expect("model alive");
            reference.process(chunk);
        }
        assert!(model.is_behind(), "the flood outran the parser");
    }

    async fn ansi_capture(model: &ScreenModel) -> String {
        let (reply, answer) = oneshot::channel();
        model
            .capture(CaptureFormat::Ansi, 100, reply)
            .expect("model alive");
        answer.await.expect("capture").text
    }

    /// Output skipped in a flood of few lines (a full-screen program redrawing) is parsed
    /// whole, colours and all, as often as the model falls behind.
    #[tokio::test]
    async fn a_short_skipped_stretch_is_parsed_whole_each_time() {
        let size = TermSize { rows: 5, cols: 20 };
        let mut model = ScreenModel::start("test", size, 100).expect("model thread");
        let mut ring = crate::session::ring::ReplayRing::new(8 << 20);
        let mut reference = new_parser(size, 100);
        let redraws = |n: usize, tag: &str| -> Bytes {
            let text: String = (0..n)
                .map(|i| format!("\x1b[{};{}H\x1b[3{}m{tag}{i}", i % 5 + 1, i % 7 + 1, i % 8))
                .collect();
            Bytes::from(text)
        };
        let start = redraws(3, "a");
        flood(
            &mut model,
            &mut ring,
            &mut reference,
            1,
            &[start, redraws(30_000, "b")],
        );
        model.catch_up(&ring).expect("model alive");
        let expected = capture(&mut reference, CaptureFormat::Ansi, 100).text;
        assert_eq!(ansi_capture(&model).await, expected);
        flood(
            &mut model,
            &mut ring,
            &mut reference,
            3,
            &[redraws(30_000, "c")],
        );
        model.catch_up(&ring).expect("model alive");
        let expected = capture(&mut reference, CaptureFormat::Ansi, 100).text;
        assert_eq!(ansi_capture(&model).await, expected);
        assert_eq!(model.backlog.load(Ordering::Acquire), 0);
    }

    /// The last output queued may end inside an escape sequence; a tail cut from a long
    /// flood starts at a line, which must not complete that sequence.
    #[tokio::test]
    async fn a_cut_tail_does_not_complete_an_escape_sequence_left_open() {
        let size = TermSize { rows: 5, cols: 20 };
        let mut model = ScreenModel::start("test", size, 100).expect("model thread");
        let mut ring = crate::session::ring::ReplayRing::new(8 << 20);
        let mut reference = new_parser(size, 100);
        // "\x1b[3" then "m" is italics; "\x1b[3" then the tail's "r" would be a scroll
        // region from row 3.
        let lines: String = (0..30_000).map(|i| format!("row {i:06}\r\n")).collect();
        let chunks = [
            Bytes::from_static(b"top\r\n\x1b[3"),
            Bytes::from(format!("m{lines}\x1b[0mend")),
        ];
        flood(&mut model, &mut ring, &mut reference, 1, &chunks);
        model.catch_up(&ring).expect("model alive");
        let (reply, answer) = oneshot::channel();
        model
            .capture(CaptureFormat::Plain, 0, reply)
            .expect("model alive");
        let expected = "row 029996\nrow 029997\nrow 029998\nrow 029999\nend";
        assert_eq!(reference.screen().contents(), expected);
        assert_eq!(answer.await.expect("capture").text, expected);
    }

    /// Output skipped before a resize was written for the old size, so it is parsed at
    /// the old size.
    #[tokio::test]
    async fn a_resize_while_behind_comes_after_the_skipped_output() {
        let size = TermSize { rows: 5, cols: 40 };
        let mut model = ScreenModel::start("test", size, 100).expect("model thread");
        let mut ring = crate::session::ring::ReplayRing::new(8 << 20);
        let mut reference = new_parser(size, 100);
        let redraws: String = (0..30_000)
            .map(|i| format!("\x1b[{};{}Hb{i}", i % 5 + 1, i % 7 + 1))
            .collect();
        let chunks = [
            Bytes::from_static(b"start"),
            Bytes::from(format!("{redraws}\x1b[5;30Hfar right")),
        ];
        flood(&mut model, &mut ring, &mut reference, 1, &chunks);
        let smaller = TermSize { rows: 5, cols: 20 };
        model.resize(smaller, &ring).expect("model alive");
        reference.set_size(non_zero(smaller.rows), non_zero(smaller.cols));
        // As the session does before any capture.
        model.catch_up(&ring).expect("model alive");
        let (reply, answer) = oneshot::channel();
        model
            .capture(CaptureFormat::Plain, 0, reply)
            .expect("model alive");
        let captured = answer.await.expect("capture").text;
        assert_eq!(captured, reference.screen().contents());
        assert!(
            !captured.contains("far"),
            "cut off by the resize: {captured:?}"
        );
    }
}
