//! Properties of the screen model over arbitrary output: how it is split into reads does
//! not change what it shows, and its snapshot, drawn on a fresh terminal, shows the same.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use fugue_protocol::{CaptureFormat, TermSize};
use proptest::collection::vec;
use proptest::prelude::*;

use super::capture::capture;
use super::model::Model;
use super::snapshot::Reader;

const SIZE: TermSize = TermSize { rows: 6, cols: 12 };

/// Output pieces written as they are.
const FIXED: [&[u8]; 53] = [
    b"\r\n",
    b"\n",
    b"\r",
    b"\t",
    b"\x08",
    b"\x7f",
    b"\xe4\xb8\xad",
    b"e\xcc\x81",
    b"\xff",
    b"\xe2\x94",
    b"\x0e",
    b"\x0f",
    b"\x1b(0",
    b"\x1b(B",
    b"\x1b)0",
    b"\x1b7",
    b"\x1b8",
    b"\x1bM",
    b"\x1bD",
    b"\x1bE",
    b"\x1bH",
    b"\x1b#8",
    b"\x1bc",
    b"\x1b[3g",
    b"\x1b[?6h",
    b"\x1b[?6l",
    b"\x1b[?7l",
    b"\x1b[?7h",
    b"\x1b[?1049h",
    b"\x1b[?1049l",
    b"\x1b[?47h",
    b"\x1b[?1047l",
    b"\x1b[?3h",
    b"\x1b[?3l",
    b"\x1b[4h",
    b"\x1b[4l",
    b"\x1b[2J",
    b"\x1b[3J",
    b"\x1b[K",
    b"\x1b[2L",
    b"\x1b[M",
    b"\x1b[3@",
    b"\x1b[2P",
    b"\x1b[1;31m",
    b"\x1b[7;4m",
    b"\x1b[m",
    b"\x1b[38;5;200;48;2;1;2;3m",
    b"\x1b[?25l",
    b"\x1b]2;title\x07",
    b"\x1b[?2004h",
    b"\x1b[?1000h",
    b"\x1b=",
    b"\x1b[5b",
];

/// Pieces of output a terminal program writes: text (wide, combining, not UTF-8, DEL),
/// line ends, and the sequences the model tracks or repairs.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::sample::select(&FIXED[..]).prop_map(<[u8]>::to_vec),
        "[a-z ]{1,8}".prop_map(String::into_bytes),
        (1..8u8, 1..14u8).prop_map(|(row, col)| format!("\x1b[{row};{col}H").into_bytes()),
        (1..8u8, 1..8u8).prop_map(|(top, bottom)| format!("\x1b[{top};{bottom}r").into_bytes()),
    ]
}

fn model() -> Model {
    Model::new(SIZE, 20, Arc::new(AtomicUsize::new(0))).expect("a size")
}

/// What a model shows: its screen in colour with some scrollback, the cursor, and the
/// screen it is on.
fn shown(model: &Model, lines: usize) -> (String, (u16, u16), bool) {
    let capture = capture(
        &model.term,
        &model.keeper.history,
        CaptureFormat::Ansi,
        lines,
    );
    let alternate = model.term.active_screen_kind() == avt::ScreenKind::Alternate;
    (capture.text, capture.cursor, alternate)
}

proptest! {
    #[test]
    fn reads_do_not_matter_and_a_snapshot_shows_the_same(
        pieces in vec(piece(), 0..60),
        cuts in vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let output = pieces.concat();
        let mut whole = model();
        whole.interpret(&output);
        let mut split = model();
        let mut at: Vec<usize> = cuts.iter().map(|cut| cut.index(output.len() + 1)).collect();
        at.sort_unstable();
        let mut from = 0;
        for to in at.into_iter().chain([output.len()]) {
            split.interpret(&output[from..to]);
            from = to;
        }
        prop_assert_eq!(shown(&split, 20), shown(&whole, 20));
        for reader in [Reader::Terminal, Reader::Model] {
            let mut drawn = model();
            drawn.interpret(&whole.snapshot(reader));
            prop_assert_eq!(shown(&drawn, 0), shown(&whole, 0));
            prop_assert_eq!(drawn.modes.restore(), whole.modes.restore());
        }
    }

    /// A snapshot taken anywhere, in the middle of an escape sequence or of a character
    /// included, and the output after it: the same screen as the output alone.
    #[test]
    fn a_snapshot_anywhere_continues_with_the_output(
        pieces in vec(piece(), 0..40),
        cut in any::<prop::sample::Index>(),
    ) {
        let output = pieces.concat();
        let (before, after) = output.split_at(cut.index(output.len() + 1));
        let mut original = model();
        original.interpret(before);
        for reader in [Reader::Terminal, Reader::Model] {
            let mut drawn = model();
            drawn.interpret(&original.snapshot(reader));
            let mut watched = model();
            watched.interpret(before);
            drawn.interpret(after);
            watched.interpret(after);
            prop_assert_eq!(shown(&drawn, 0), shown(&watched, 0), "{:?}", reader);
        }
    }
}
