//! Tests of the screen model: capture, snapshots, falling behind and catching up, and
//! the compact history against avt alone.

use super::capture::capture;
use super::snapshot::Reader;
use super::*;
use crate::session::ring::ReplayRing;

/// A model with no thread, fed directly.
fn model(size: TermSize, scrollback: usize) -> Model {
    Model::new(size, scrollback, Arc::new(AtomicUsize::new(0))).expect("a size")
}

fn model_with(bytes: &[u8]) -> Model {
    let mut model = model(TermSize { rows: 5, cols: 20 }, 100);
    model.interpret(bytes);
    model
}

/// What `model` captures in `format` with `lines` of scrollback.
fn text(model: &Model, format: CaptureFormat, lines: usize) -> String {
    capture(&model.term, &model.keeper.history, format, lines).text
}

/// The screen's rows, without trailing blanks or blank rows at the end.
fn contents(model: &Model) -> String {
    text(model, CaptureFormat::Plain, 0)
}

fn cursor(model: &Model) -> (u16, u16) {
    capture(&model.term, &model.keeper.history, CaptureFormat::Plain, 0).cursor
}

/// A fresh model of `size` fed `snapshot`, as a client's terminal would be.
fn drawn(size: TermSize, snapshot: &[u8]) -> Model {
    let mut fresh = model(size, 0);
    fresh.interpret(snapshot);
    fresh
}

#[test]
fn capture_includes_requested_scrollback_above_the_screen() {
    let lines: String = (1..=12).map(|n| format!("{n}\r\n")).collect();
    let model = model_with(lines.as_bytes());
    assert_eq!(contents(&model), "9\n10\n11\n12");
    let with_history = text(&model, CaptureFormat::Plain, 3);
    assert_eq!(with_history, "6\n7\n8\n9\n10\n11\n12");
    let everything = text(&model, CaptureFormat::Plain, 1000);
    let expected: Vec<String> = (1..=12).map(|n| n.to_string()).collect();
    assert_eq!(everything, expected.join("\n"));
    assert_eq!(cursor(&model), (4, 0));
}

#[test]
fn snapshot_restores_both_screens_title_and_modes() {
    let output = b"shell\r\n$ \x1b]2;hello\x07\x1b[?1049h\x1b[?2004h\x1b[?1h\x1b[2;3Hx\x1b[?25l";
    let model = model_with(output);
    let snapshot = model.snapshot(Reader::Terminal);
    // Over whatever the terminal showed before.
    let mut fresh = model_with(b"junk\x1b[?1049hmore junk\x1b[3;4r\x1b[?6h\x1b[4h");
    fresh.interpret(&snapshot);
    assert_eq!(fresh.term.active_screen_kind(), avt::ScreenKind::Alternate);
    assert!(fresh.term.cursor_key_app_mode() && !fresh.term.cursor().visible);
    assert_eq!(contents(&fresh), contents(&model));
    assert_eq!(cursor(&fresh), cursor(&model));
    assert_eq!(fresh.modes.restore(), b"\x1b]2;hello\x07\x1b[?2004h");
    // The shell's screen is under it, with its cursor.
    fresh.interpret(b"\x1b[?1049lnext");
    assert_eq!(contents(&fresh), "shell\n$ next");
}

#[test]
fn snapshot_restores_the_scroll_region_so_scrolling_continues_alike() {
    let size = TermSize { rows: 5, cols: 20 };
    let mut original = model_with(b"a\r\nb\r\nc\r\nd\r\ne\x1b[2;4r\x1b[4;1H");
    let mut restored = drawn(size, &original.snapshot(Reader::Terminal));
    // Two new lines at the region's bottom scroll only rows 2 to 4.
    let more = b"\r\nX\r\nY";
    original.interpret(more);
    restored.interpret(more);
    assert_eq!(contents(&original), "a\nd\nX\nY\ne");
    assert_eq!(contents(&restored), contents(&original));
    assert_eq!(cursor(&restored), cursor(&original));
}

/// What vt100 got wrong (vttest's first screens): DECALN, IND, NEL, tab stops, and the DEC
/// line-drawing set through SCS and SO/SI; and text split between reads.
#[test]
fn snapshot_restores_what_vttest_draws() {
    let size = TermSize { rows: 5, cols: 20 };
    let output =
        "\x1b#8\x1b[3g\x1b[1;5H\x1bH\r\tT\x1b[2;2H\x1bD\x1bEx\x1b)0\x0eqqq\x0f\x1b(0lk\x1b(B中";
    let mut original = model(size, 100);
    for byte in output.as_bytes() {
        original.interpret(std::slice::from_ref(byte));
    }
    assert_eq!(
        contents(&original),
        "EEEETEEEEEEEEEEEEEEE\nEEEEEEEEEEEEEEEEEEEE\nEEEEEEEEEEEEEEEEEEEE\nx───┌┐中EEEEEEEEEEEE\nEEEEEEEEEEEEEEEEEEEE"
    );
    let mut restored = drawn(size, &original.snapshot(Reader::Terminal));
    assert_eq!(contents(&restored), contents(&original));
    assert_eq!(
        text(&restored, CaptureFormat::Ansi, 0),
        text(&original, CaptureFormat::Ansi, 0)
    );
    // The tab stop and the character sets came through.
    for model in [&mut original, &mut restored] {
        model.interpret(b"\r\n\tq\x0eq");
    }
    assert_eq!(contents(&restored), contents(&original));
    let last = contents(&restored).lines().last().map(str::to_owned);
    assert_eq!(last.as_deref(), Some("EEEEq─EEEEEEEEEEEEEE"));
}

/// What avt alone gets wrong: a restored cursor brings its character sets back (and
/// leaves auto-wrap alone), and DEL takes no cell.
#[test]
fn a_restored_cursor_brings_back_its_character_sets_and_del_is_ignored() {
    let output = b"\x1b(B\x1b7\x1b(0qq\x1b8qq\x7fx\x1b)0\x0e\x1b[?1049h\x0fq\x1b[?1049lq";
    assert_eq!(contents(&model_with(output)), "qqx─");
    // Nor does it turn auto-wrap back on, as avt alone would.
    let output = b"\x1b7\x1b[?7l\x1b8abcdefghijklmnopqrstuvwxyz";
    assert_eq!(contents(&model_with(output)), "abcdefghijklmnopqrsz");
}

#[tokio::test]
async fn a_capture_sees_the_output_queued_before_it_even_if_the_model_then_falls_behind() {
    let size = TermSize { rows: 5, cols: 20 };
    let mut model = ScreenModel::start("test", size, 100, None).expect("model thread");
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
        .capture(CaptureFormat::Plain, 0, 0, reply)
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
    let (mut model, mut ring, mut reference) = rig(size);
    // Far more than the backlog bound, queued faster than any parser can go.
    let chunks: Vec<Bytes> = (0..100u32)
        .map(|n| {
            let lines: String = (0..2000)
                .map(|i| format!("\x1b[3{}mline {n}.{i}\r\n", i % 8))
                .collect();
            Bytes::from(lines)
        })
        .collect();
    flood(&mut model, &mut ring, &mut reference, 1, &chunks);
    model.catch_up(&ring).expect("model alive");
    let restored = drawn(size, &model.snapshot(None).await.expect("snapshot"));
    assert_eq!(contents(&restored), contents(&reference));
    assert_eq!(cursor(&restored), cursor(&reference));
    // Catching up parsed only the ring's last lines, and still has the whole
    // scrollback.
    let (reply, answer) = oneshot::channel();
    model
        .capture(CaptureFormat::Plain, 100, 0, reply)
        .expect("model alive");
    let captured = answer.await.expect("capture");
    assert_eq!(captured.text, text(&reference, CaptureFormat::Plain, 100));
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
    reference.interpret(&after);
    let restored = drawn(size, &model.snapshot(None).await.expect("snapshot"));
    assert_eq!(contents(&restored), contents(&reference));
    assert!(contents(&restored).starts_with("after the flood"));
}

/// A full-screen program's setup (alternate screen, a header above a scroll region)
/// comes long before the last lines of a flood inside its region; catching up keeps it,
/// where starting the model afresh from those lines would lose it.
#[tokio::test]
async fn catching_up_after_a_long_flood_keeps_what_was_drawn_before_it() {
    let size = TermSize { rows: 5, cols: 20 };
    let (mut model, mut ring, mut reference) = rig(size);
    let setup = Bytes::from_static(b"\x1b]2;pager\x07\x1b[?1049h\x1b[HHEADER\x1b[2;5r\x1b[5;1H");
    let mut output = vec![setup];
    // Each chunk of the flood is larger than the backlog bound on its own.
    output.extend((0..5u32).map(|n| {
        let lines: String = (0..20_000).map(|i| format!("\r\nrow {n}.{i:06}")).collect();
        Bytes::from(lines)
    }));
    assert!(output.iter().skip(1).all(|chunk| chunk.len() > MAX_BACKLOG));
    flood(&mut model, &mut ring, &mut reference, 1, &output);
    model.catch_up(&ring).expect("model alive");
    let mut restored = drawn(size, &model.snapshot(None).await.expect("snapshot"));
    let alternate = avt::ScreenKind::Alternate;
    assert_eq!(restored.term.active_screen_kind(), alternate, "still there");
    assert_eq!(
        contents(&restored),
        "HEADER\nrow 4.019996\nrow 4.019997\nrow 4.019998\nrow 4.019999"
    );
    assert_eq!(contents(&restored), contents(&reference));
    assert_eq!(restored.modes.restore(), b"\x1b]2;pager\x07");
    // The scroll region came through too: a new line scrolls only rows 2 to 5.
    restored.interpret(b"\r\nnext");
    assert!(contents(&restored).starts_with("HEADER\nrow 4.019997"));
}

/// A model thread keeping 100 lines of scrollback, the replay ring its session would
/// keep, and a reference model to be fed all the output.
fn rig(size: TermSize) -> (ScreenModel, ReplayRing, Model) {
    let model = ScreenModel::start("test", size, 100, None).expect("model thread");
    (model, ReplayRing::new(8 << 20), self::model(size, 100))
}

/// Feeds `chunks` as output chunks `first..` to the model and the ring (all of them
/// first, as fast as a flood comes), then to `reference`; the model must have fallen
/// behind on the way.
fn flood(
    model: &mut ScreenModel,
    ring: &mut ReplayRing,
    reference: &mut Model,
    first: u64,
    chunks: &[Bytes],
) {
    for (seq, chunk) in (first..).zip(chunks) {
        ring.push(seq, chunk.clone());
        model.feed(seq, chunk.clone()).expect("model alive");
    }
    assert!(model.is_behind(), "the flood outran the parser");
    for chunk in chunks {
        reference.interpret(chunk);
    }
}

/// What the model captures, in `format` with `lines` of scrollback.
async fn captured(model: &ScreenModel, format: CaptureFormat, lines: usize) -> String {
    let (reply, answer) = oneshot::channel();
    model.capture(format, lines, 0, reply).expect("model alive");
    answer.await.expect("capture").text
}

/// Output skipped in a flood of few lines (a full-screen program redrawing) is parsed
/// whole, colours and all, as often as the model falls behind.
#[tokio::test]
async fn a_short_skipped_stretch_is_parsed_whole_each_time() {
    let size = TermSize { rows: 5, cols: 20 };
    let (mut model, mut ring, mut reference) = rig(size);
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
    let expected = text(&reference, CaptureFormat::Ansi, 100);
    assert_eq!(captured(&model, CaptureFormat::Ansi, 100).await, expected);
    flood(
        &mut model,
        &mut ring,
        &mut reference,
        3,
        &[redraws(30_000, "c")],
    );
    model.catch_up(&ring).expect("model alive");
    let expected = text(&reference, CaptureFormat::Ansi, 100);
    assert_eq!(captured(&model, CaptureFormat::Ansi, 100).await, expected);
    assert_eq!(model.backlog.load(Ordering::Acquire), 0);
}

/// The last output queued may end inside an escape sequence; a tail cut from a long
/// flood starts at a line, which must not complete that sequence.
#[tokio::test]
async fn a_cut_tail_does_not_complete_an_escape_sequence_left_open() {
    let size = TermSize { rows: 5, cols: 20 };
    let (mut model, mut ring, mut reference) = rig(size);
    // "\x1b[3" then "m" is italics; "\x1b[3" then the tail's "r" would be a scroll
    // region from row 3.
    let lines: String = (0..30_000).map(|i| format!("row {i:06}\r\n")).collect();
    let chunks = [
        Bytes::from_static(b"top\r\n\x1b[3"),
        Bytes::from(format!("m{lines}\x1b[0mend")),
    ];
    flood(&mut model, &mut ring, &mut reference, 1, &chunks);
    model.catch_up(&ring).expect("model alive");
    let expected = "row 029996\nrow 029997\nrow 029998\nrow 029999\nend";
    assert_eq!(contents(&reference), expected);
    assert_eq!(captured(&model, CaptureFormat::Plain, 0).await, expected);
}

/// Output skipped before a resize was written for the old size, so it is parsed at
/// the old size (and then reflowed).
#[tokio::test]
async fn a_resize_while_behind_comes_after_the_skipped_output() {
    let size = TermSize { rows: 5, cols: 40 };
    let (mut model, mut ring, mut reference) = rig(size);
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
    reference
        .term
        .resize(usize::from(smaller.cols), usize::from(smaller.rows));
    // As the session does before any capture.
    model.catch_up(&ring).expect("model alive");
    let text = captured(&model, CaptureFormat::Plain, 0).await;
    assert_eq!(text, contents(&reference));
    // Written at column 30 of 40, then reflowed onto a row of its own; parsed at the
    // new width it would have started at column 20 and wrapped mid-word.
    let reflowed = "         far right";
    assert!(text.lines().any(|line| line == reflowed), "{text:?}");
}

/// Colourful lines of varied length, some wrapping, some with wide characters.
fn varied_lines(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| {
            let word = ["ab", "\u{4e2d}\u{6587}", "long-word-", "x"][i % 4].repeat(i % 9 + 1);
            format!("\x1b[3{}m{i} {word}\x1b[{}m end\r\n", i % 8, 40 + i % 8)
        })
        .collect::<String>()
        .into_bytes()
}

/// A model whose terminal keeps its whole scrollback itself, as avt alone would.
fn reference_model(size: TermSize, scrollback: usize) -> Model {
    let mut reference = model(size, 0);
    let (cols, rows) = (usize::from(size.cols), usize::from(size.rows));
    reference.term = avt::Terminal::with_scrollback(cols, rows, Some(scrollback)).expect("size");
    reference
}

#[test]
fn the_compact_history_captures_what_the_terminal_alone_would() {
    let size = TermSize { rows: 5, cols: 20 };
    let mut model = model(size, 300);
    let mut reference = reference_model(size, 300);
    let output = varied_lines(1_000);
    model.interpret(&output);
    reference.interpret(&output);
    for lines in [0, 50, 99, 100, 101, 250, 300, 5_000] {
        for format in [CaptureFormat::Plain, CaptureFormat::Ansi] {
            let got = text(&model, format, lines);
            let expected = text(&reference, format, lines);
            assert_eq!(got, expected, "{lines} lines of scrollback, {format:?}");
        }
        assert_eq!(cursor(&model), cursor(&reference));
    }
    // Shrinking pushes lines up into the history; growing pulls them back down.
    for rows in [2, 9, 3, 40] {
        model.term.resize_with(20, rows, &mut model.keeper);
        reference.term.resize(20, rows);
        model.interpret(b"more\r\n");
        reference.interpret(b"more\r\n");
        let got = text(&model, CaptureFormat::Plain, 300);
        let expected = text(&reference, CaptureFormat::Plain, 300);
        assert_eq!(got, expected, "at {rows} rows");
    }
}

#[tokio::test]
async fn erasing_the_scrollback_empties_the_history_too() {
    let size = TermSize { rows: 5, cols: 20 };
    let mut model = ScreenModel::start("test", size, 300, None).expect("model thread");
    let before: String = (0..400).map(|i| format!("old {i}\r\n")).collect();
    model.feed(1, Bytes::from(before)).expect("model alive");
    let all = captured(&model, CaptureFormat::Plain, 1_000).await;
    assert!(all.starts_with("old 96\n"), "300 lines kept");
    // `clear`, cut in two, then lines written after it.
    model
        .feed(2, Bytes::from_static(b"\x1b[H\x1b[2J\x1b["))
        .expect("model alive");
    let after: String = (0..8).map(|i| format!("new {i}\r\n")).collect();
    model
        .feed(3, Bytes::from(format!("3J{after}")))
        .expect("model alive");
    let captured = captured(&model, CaptureFormat::Plain, 1_000).await;
    assert!(
        !captured.contains("old"),
        "old lines survived: {captured:?}"
    );
    assert!(captured.starts_with("new 0\n"), "{captured:?}");
}

/// `reset` (RIS) drops the terminal's scrollback lines, so it empties the history too; `CSI
/// 3 J` on the alternate screen erases nothing, so the history stays.
#[tokio::test]
async fn a_reset_empties_the_history_but_an_erase_on_the_alternate_screen_does_not() {
    let size = TermSize { rows: 5, cols: 20 };
    let mut model = ScreenModel::start("test", size, 300, None).expect("model thread");
    let lines = |tag: &str| -> Bytes {
        let text: String = (0..400).map(|i| format!("{tag} {i}\r\n")).collect();
        Bytes::from(text)
    };
    model.feed(1, lines("old")).expect("model alive");
    // A full-screen program clears its own (scrollback-less) screen and leaves.
    model
        .feed(
            2,
            Bytes::from_static(b"\x1b[?1049h\x1b[2J\x1b[3Jtui\x1b[?1049l"),
        )
        .expect("model alive");
    let kept = captured(&model, CaptureFormat::Plain, 1_000).await;
    assert!(kept.starts_with("old 96\n"), "300 lines kept: {kept:?}");
    model
        .feed(3, Bytes::from_static(b"\x1bcafter reset\r\n"))
        .expect("model alive");
    assert_eq!(
        captured(&model, CaptureFormat::Plain, 1_000).await,
        "after reset"
    );
}

#[test]
fn in_colour_every_captured_line_ends_with_a_reset() {
    let mut model = model(TermSize { rows: 3, cols: 20 }, 300);
    let output: String = (0..200)
        .map(|i| format!("\x1b[3{}m{i}\r\n", i % 8))
        .collect();
    model.interpret(output.as_bytes());
    let captured = text(&model, CaptureFormat::Ansi, 150);
    assert_eq!(captured.lines().count(), 153);
    assert!(
        captured.lines().all(|line| line.ends_with("\x1b[m")),
        "{captured:?}"
    );
}

/// However many lines are asked for, the replay stays within its budget (the snapshot
/// must fit one frame), keeping the newest lines, and pushes them all off the screen.
#[test]
fn a_history_replay_keeps_the_newest_lines_within_its_budget() {
    let mut model = model(TermSize { rows: 5, cols: 200 }, 20_000);
    for n in 0..12_000 {
        let line = format!("\x1b[3{}mline {n:05} {}\x1b[m\r\n", n % 8, "x".repeat(150));
        model.interpret(line.as_bytes());
    }
    let history = &model.keeper.history;
    let replay = super::capture::history_replay(&model.term, history, usize::MAX, 5);
    assert!(replay.len() <= super::capture::HISTORY_REPLAY_BUDGET + 256);
    let text = String::from_utf8_lossy(&replay);
    assert!(
        text.contains("line 11995"),
        "the newest scrolled-off line is there"
    );
    assert!(!text.contains("line 00000"), "the oldest do not fit");
    assert!(text.ends_with(&"\r\n".repeat(5)));
}

/// avt alone moves the cursor wrongly on a reverse index inside an origin-mode region,
/// and ignores a change of column mode.
#[test]
fn reverse_index_in_origin_mode_and_column_mode_are_repaired() {
    // Region rows 2 to 4, origin mode; at the region's second row, RI goes up one, and at
    // its top it scrolls the region down.
    let model = model_with(b"top\x1b[2;4r\x1b[?6h\x1b[2;1Hb\x1bMa\x1bM\x1bMz");
    assert_eq!(contents(&model), "top\n  z\n\n a");
    let model = model_with(b"old\r\ntext\x1b[2;3r\x1b[?3lnew");
    assert_eq!(contents(&model), "new");
    assert_eq!(cursor(&model), (0, 3));
}
