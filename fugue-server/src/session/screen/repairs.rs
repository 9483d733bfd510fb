//! What avt gets wrong, found in the output so that the model can put it right.
//!
//! - **Character sets of a saved cursor.** DECSC (`ESC 7`, and `CSI ? 1048 h` or
//!   `1049 h`) saves the character sets with the cursor: which of ASCII and DEC line
//!   drawing G0 and G1 hold, and which of the two is shifted in. DECRC (`ESC 8`, `CSI ?
//!   1048 l` or `1049 l`) brings them back (the defaults when nothing was saved); avt
//!   restores the cursor but not the sets. It also restores auto-wrap, which xterm and
//!   tmux leave as it is. The model tells it the sets and auto-wrap after each restore.
//! - **Reverse index in origin mode.** avt's RI (`ESC M`) moves a cursor inside the scroll
//!   region of an origin-mode screen to the wrong row. The model moves the cursor up one
//!   instead (which stops at the top margin), and lets RI scroll only where the cursor
//!   did not move: exactly RI's meaning.
//! - **Column mode.** Switching between 80 and 132 columns (DECCOLM, `CSI ? 3 h` or `l`)
//!   clears the screen and homes the cursor in tmux, which keeps the width (as the model
//!   does) and the margins; avt ignores it. The model does the same as tmux. (xterm
//!   ignores DECCOLM unless allowed to change its width.)
//!
//! vttest's screens (the end-to-end test `vttest.rs`) found each of these.

/// Where the model does more than pass output on to avt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repair {
    /// After the output so far (a restored cursor), put the character sets in this
    /// state, and auto-wrap back as it was before (off if `true`).
    Restore(Charsets, bool),
    /// In place of the output so far: a reverse index.
    ReverseIndex,
    /// After the output so far: what a change of column mode does.
    ColumnMode,
}

impl Repair {
    /// What avt is fed after the output that called for it.
    pub(super) const COLUMN_MODE: &str = "\x1b[H\x1b[2J";
}

/// The character sets in effect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Charsets {
    /// Whether G0 and G1 hold DEC line drawing (else ASCII).
    drawing: [bool; 2],
    /// Whether G1 is shifted in (SO) rather than G0 (SI).
    shifted: bool,
}

impl Charsets {
    /// The bytes that put a terminal's character sets in this state.
    pub(super) fn sequence(self) -> &'static str {
        match (self.drawing, self.shifted) {
            ([false, false], false) => "\x1b(B\x1b)B\x0f",
            ([false, false], true) => "\x1b(B\x1b)B\x0e",
            ([true, false], false) => "\x1b(0\x1b)B\x0f",
            ([true, false], true) => "\x1b(0\x1b)B\x0e",
            ([false, true], false) => "\x1b(B\x1b)0\x0f",
            ([false, true], true) => "\x1b(B\x1b)0\x0e",
            ([true, true], false) => "\x1b(0\x1b)0\x0f",
            ([true, true], true) => "\x1b(0\x1b)0\x0e",
        }
    }
}

/// Longest CSI parameter string looked at; longer ones are not a save or a restore.
const MAX_PARAMS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Ground,
    Escape,
    /// After `ESC (` (0) or `ESC )` (1): the set's final byte follows.
    Designate(usize),
    Csi,
    /// Inside a control string (OSC, DCS, SOS, PM, APC), which ends at BEL or ESC.
    Str,
}

/// Follows the output for what needs repairing.
#[derive(Debug, Default)]
pub(super) struct RepairScan {
    state: State,
    params: Vec<u8>,
    now: Charsets,
    /// What the primary (0) and the alternate (1) screen's saved cursor holds.
    saved: [Option<Charsets>; 2],
    alternate: bool,
    /// Whether auto-wrap is off (`CSI ? 7 l`), which a restored cursor does not change.
    wrap_off: bool,
}

impl RepairScan {
    /// The character sets in effect now.
    pub(super) fn now(&self) -> Charsets {
        self.now
    }

    /// The character sets saved with the cursor of the primary (0) or alternate (1)
    /// screen.
    pub(super) fn saved(&self, screen: usize) -> Charsets {
        self.saved[screen & 1].unwrap_or_default()
    }

    /// Where in `bytes` the first sequence to repair ends, and the repair; the scan goes on
    /// from there at the next call, with the rest. A reverse index is the last two bytes
    /// up to there (or, split between two calls, the last byte).
    pub(super) fn find(&mut self, bytes: &[u8]) -> Option<(usize, Repair)> {
        let mut at = 0;
        while at < bytes.len() {
            // Text is most of the output: jump to the next control that matters.
            match self.state {
                State::Ground => at += memchr::memchr3(0x1b, 0x0e, 0x0f, &bytes[at..])?,
                State::Str => at += memchr::memchr3(0x07, 0x1b, 0x18, &bytes[at..])?,
                _ => {}
            }
            let repair = self.step(bytes[at]);
            at += 1;
            if let Some(repair) = repair {
                return Some((at, repair));
            }
        }
        None
    }

    /// Takes one byte; says whether it ended a sequence to repair.
    fn step(&mut self, byte: u8) -> Option<Repair> {
        match (self.state, byte) {
            (_, 0x1b) => self.state = State::Escape,
            (_, 0x18 | 0x1a) => self.state = State::Ground,
            (State::Str, 0x07) => self.state = State::Ground,
            (State::Str, _) => {}
            // Other C0 controls are executed, in a sequence too, which goes on after them.
            (_, 0x0e | 0x0f) => self.now.shifted = byte == 0x0e,
            (State::Ground, _) | (_, 0x00..=0x1f) => {}
            (State::Escape, b']' | b'P' | b'X' | b'^' | b'_') => self.state = State::Str,
            (State::Escape, b'(' | b')') => {
                self.state = State::Designate(usize::from(byte == b')'))
            }
            (State::Escape, b'[') => {
                self.params.clear();
                self.state = State::Csi;
            }
            (State::Escape, _) => {
                self.state = State::Ground;
                return self.escape(byte);
            }
            (State::Designate(set), _) => {
                self.now.drawing[set] = byte == b'0';
                self.state = State::Ground;
            }
            (State::Csi, 0x20..=0x3f) => {
                if self.params.len() < MAX_PARAMS {
                    self.params.push(byte);
                }
            }
            (State::Csi, 0x40..=0x7e) => {
                self.state = State::Ground;
                return self.private_mode(byte);
            }
            (State::Csi, _) => {}
        }
        None
    }

    /// `ESC 7`, `ESC 8`, `ESC M` and RIS.
    fn escape(&mut self, byte: u8) -> Option<Repair> {
        let screen = usize::from(self.alternate);
        match byte {
            b'7' => self.saved[screen] = Some(self.now),
            b'8' => {
                self.now = self.saved[screen].unwrap_or_default();
                return Some(Repair::Restore(self.now, self.wrap_off));
            }
            b'M' => return Some(Repair::ReverseIndex),
            b'c' => *self = RepairScan::default(),
            _ => {}
        }
        None
    }

    /// `CSI ? … h` and `l`: the screen switches that save or restore the cursor, the
    /// others, and the column mode; and DECSTR (`CSI ! p`), which resets the sets and
    /// forgets the saved cursor (avt does both itself).
    fn private_mode(&mut self, final_byte: u8) -> Option<Repair> {
        if final_byte == b'p' && self.params == b"!" {
            self.now = Charsets::default();
            self.saved[usize::from(self.alternate)] = None;
            return None;
        }
        let on = match (final_byte, self.params.first()) {
            (b'h', Some(b'?')) => true,
            (b'l', Some(b'?')) => false,
            _ => return None,
        };
        let params = std::mem::take(&mut self.params);
        let mut repair = None;
        // Each mode in turn, as terminals take them; a number they cannot parse is none.
        for mode in params[1..].split(|&byte| byte == b';') {
            let mode = std::str::from_utf8(mode)
                .ok()
                .and_then(|m| m.parse::<u16>().ok());
            repair = self.switch(mode.unwrap_or(0), on).or(repair);
        }
        self.params = params;
        repair
    }

    /// One private mode set or reset.
    fn switch(&mut self, mode: u16, on: bool) -> Option<Repair> {
        let screen = usize::from(self.alternate);
        match (mode, on) {
            (1048, true) => self.saved[screen] = Some(self.now),
            (1049, true) => {
                self.saved[screen] = Some(self.now);
                self.alternate = true;
            }
            (1048, false) => {
                self.now = self.saved[screen].unwrap_or_default();
                return Some(Repair::Restore(self.now, self.wrap_off));
            }
            (1049, false) => {
                self.alternate = false;
                self.now = self.saved[0].unwrap_or_default();
                return Some(Repair::Restore(self.now, self.wrap_off));
            }
            (47 | 1047, on) => self.alternate = on,
            (7, on) => self.wrap_off = !on,
            (3, _) => return Some(Repair::ColumnMode),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every repair in `chunks` fed in turn: where it ends (in the whole), and what.
    fn repairs(chunks: &[&[u8]]) -> Vec<(usize, Repair)> {
        let (mut scan, mut found, mut offset) = (RepairScan::default(), Vec::new(), 0);
        for chunk in chunks {
            let mut rest = *chunk;
            while let Some((end, repair)) = scan.find(rest) {
                found.push((offset + end, repair));
                offset += end;
                rest = &rest[end..];
            }
            offset += rest.len();
        }
        found
    }

    /// The repairs in `output`, which must be the same wherever a read splits it.
    fn repairs_split_anywhere(output: &[u8]) -> Vec<(usize, Repair)> {
        let whole = repairs(&[output]);
        for split in 0..output.len() {
            let (a, b) = output.split_at(split);
            assert_eq!(repairs(&[a, b]), whole, "split at {split}");
        }
        whole
    }

    /// The restores of character sets among `found`: where each ends, and the sets.
    fn sets(found: Vec<(usize, Repair)>) -> Vec<(usize, &'static str)> {
        let sets = |(end, repair)| match repair {
            Repair::Restore(sets, _) => Some((end, sets.sequence())),
            _ => None,
        };
        found.into_iter().filter_map(sets).collect()
    }

    /// Every restore of character sets in `chunks`: where it ends, and the sets.
    fn restores(chunks: &[&[u8]]) -> Vec<(usize, &'static str)> {
        sets(repairs(chunks))
    }

    #[test]
    fn a_restore_brings_back_the_sets_saved_with_the_cursor() {
        let output = b"\x1b(0\x1b7\x1b(B\x0eq\x1b8x\x1b8";
        assert_eq!(
            sets(repairs_split_anywhere(output)),
            [(12, "\x1b(0\x1b)B\x0f"), (15, "\x1b(0\x1b)B\x0f")]
        );
        // Nothing saved: the defaults. A reset forgets what was saved.
        assert_eq!(restores(&[b"\x1b)0\x0e\x1b8"]), [(6, "\x1b(B\x1b)B\x0f")]);
        assert_eq!(
            restores(&[b"\x1b(0\x1b7\x1bc\x1b8"]),
            [(9, "\x1b(B\x1b)B\x0f")]
        );
    }

    #[test]
    fn the_alternate_screen_switches_save_and_restore_too() {
        let output = b"\x1b)0\x0e\x1b[?1049h\x1b(0\x1b7\x1b8\x1b[?1049l";
        assert_eq!(
            sets(repairs_split_anywhere(output)),
            [(19, "\x1b(0\x1b)0\x0e"), (27, "\x1b(B\x1b)0\x0e")]
        );
        assert!(repairs(&[b"\x1b[?10490l\x1b[8;1H\x1b[?1047l\x1b#8\x1b[?33h"]).is_empty());
        // Controls inside a sequence are executed and the sequence goes on; SO and SI in
        // a control string are text.
        assert_eq!(
            restores(&[b"\x1b(0\x1b7\x1b(B\x1b\x07\x0e8\x1b]2;\x0f\x0e\x07"]),
            [(12, "\x1b(0\x1b)B\x0f")]
        );
        // Lists of modes, and leading zeros, as terminals read them.
        assert_eq!(
            restores(&[b"\x1b(0\x1b[?1049;1h\x1b(B\x1b[?1;01049l"]),
            [(27, "\x1b(0\x1b)B\x0f")]
        );
        assert_eq!(repairs(&[b"\x1b[?3;4l"]), [(7, Repair::ColumnMode)]);
    }

    #[test]
    fn a_soft_reset_forgets_the_sets_and_the_saved_cursor() {
        assert_eq!(
            restores(&[b"\x1b(0\x1b7\x1b[!p\x1b8"]),
            [(11, "\x1b(B\x1b)B\x0f")]
        );
        // 1048 saves and restores in the slot of the screen it is on.
        assert_eq!(
            restores(&[b"\x1b(0\x1b[?1049h\x1b(B\x1b[?1048h\x1b[?1049l"]),
            [(30, "\x1b(0\x1b)B\x0f")]
        );
    }

    #[test]
    fn reverse_indexes_and_column_mode_changes_are_found() {
        let output = b"a\x1bMb\x1b[?3hc\x1b[?3l\x1b[M\x1b(M";
        assert_eq!(
            repairs_split_anywhere(output),
            [
                (3, Repair::ReverseIndex),
                (9, Repair::ColumnMode),
                (15, Repair::ColumnMode)
            ]
        );
    }
}
