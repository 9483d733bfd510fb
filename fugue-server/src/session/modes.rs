//! `ModeTracker`: the terminal state the screen model does not expose but a snapshot must
//! restore: the scroll region (DECSTBM) and auto-wrap (DECAWM), and the input modes a
//! re-attached program expects of the terminal: the kitty keyboard protocol's flags (each
//! screen has its own stack), xterm's modifyOtherKeys, focus reporting and the cursor's
//! shape (DECSCUSR).
//!
//! A small CSI scanner fed the same bytes as the model. It keeps its own parse state, so
//! sequences split across reads are understood, and ignores everything it does not track.

/// Longest parameter string kept; longer ones are not sequences we track.
const MAX_PARAMS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    Escape,
    Csi,
}

/// The tracked state and the scanner's position inside a sequence.
#[derive(Debug, Clone)]
pub(crate) struct ModeTracker {
    state: State,
    params: Vec<u8>,
    /// Top and bottom rows of the scroll region, 1-based and inclusive; `None` is the whole
    /// screen.
    region: Option<(u16, u16)>,
    autowrap: bool,
    /// Whether the alternate screen is on (it has its own keyboard stack).
    alt: bool,
    /// The kitty keyboard flags of the main and the alternate screen.
    kitty: [KittyStack; 2],
    /// modifyOtherKeys level (`CSI > 4 ; n m`).
    other_keys: u16,
    focus_reporting: bool,
    /// DECSCUSR's shape; 0 is the terminal's default.
    cursor_shape: u16,
}

/// One screen's kitty keyboard flags: the current ones and those pushed under them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct KittyStack {
    current: u16,
    saved: Vec<u16>,
}

/// The deepest keyboard stack kept (kitty itself keeps a few dozen entries).
const MAX_KITTY_STACK: usize = 16;

impl KittyStack {
    fn push(&mut self, flags: u16) {
        if self.saved.len() == MAX_KITTY_STACK {
            self.saved.remove(0);
        }
        self.saved.push(self.current);
        self.current = flags;
    }

    fn pop(&mut self, n: u16) {
        // Popping more than there is empties the stack.
        let n = usize::from(n.max(1)).min(self.saved.len() + 1);
        for _ in 0..n {
            self.current = self.saved.pop().unwrap_or(0);
        }
    }

    /// `CSI = flags ; mode u`: 1 sets, 2 adds, 3 removes.
    fn set(&mut self, flags: u16, mode: u16) {
        self.current = match mode {
            2 => self.current | flags,
            3 => self.current & !flags,
            _ => flags,
        };
    }

    /// Bytes that build this stack on a terminal whose stack is empty.
    fn restore(&self, out: &mut Vec<u8>) {
        let mut entries = self.saved.iter().chain([&self.current]);
        let base = entries.next().copied().unwrap_or(0);
        if base != 0 {
            out.extend_from_slice(format!("\x1b[={base};1u").as_bytes());
        }
        for flags in entries {
            out.extend_from_slice(format!("\x1b[>{flags}u").as_bytes());
        }
    }
}

impl Default for ModeTracker {
    fn default() -> Self {
        ModeTracker {
            state: State::Ground,
            params: Vec::with_capacity(MAX_PARAMS),
            region: None,
            autowrap: true,
            alt: false,
            kitty: Default::default(),
            other_keys: 0,
            focus_reporting: false,
            cursor_shape: 0,
        }
    }
}

impl ModeTracker {
    /// Scans output bytes.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.state == State::Ground {
                // Plain text is most of the output: jump to the next escape.
                match memchr::memchr(0x1b, bytes) {
                    Some(at) => bytes = &bytes[at..],
                    None => return,
                }
            }
            self.step(bytes[0]);
            bytes = &bytes[1..];
        }
    }

    fn step(&mut self, byte: u8) {
        match (self.state, byte) {
            (_, 0x1b) => self.state = State::Escape,
            // CAN and SUB abort a sequence.
            (_, 0x18 | 0x1a) => self.state = State::Ground,
            (State::Ground, _) => {}
            (State::Escape, b'[') => {
                self.params.clear();
                self.state = State::Csi;
            }
            (State::Escape, b'c') => {
                // RIS: a full reset.
                *self = ModeTracker::default();
            }
            (State::Escape, _) => self.state = State::Ground,
            (State::Csi, 0x30..=0x3f) => {
                if self.params.len() < MAX_PARAMS {
                    self.params.push(byte);
                }
            }
            // Intermediate bytes: kept (like parameters, up to the limit), so that no
            // sequence with them reads as one without.
            (State::Csi, 0x20..=0x2f) => {
                if self.params.len() < MAX_PARAMS {
                    self.params.push(byte);
                }
            }
            (State::Csi, 0x40..=0x7e) => {
                self.finish_csi(byte);
                self.state = State::Ground;
            }
            // C0 controls inside a CSI are executed by terminals; they do not end it.
            (State::Csi, _) => {}
        }
    }

    fn finish_csi(&mut self, final_byte: u8) {
        let params = std::mem::take(&mut self.params);
        match (params.first(), final_byte) {
            (Some(b'?'), b'h' | b'l') => self.private_modes(&params[1..], final_byte == b'h'),
            (first, b'r') if first.is_none_or(u8::is_ascii_digit) || first == Some(&b';') => {
                let mut values = numbers(&params);
                let top = values.next().flatten().unwrap_or(1).max(1);
                let bottom = values.next().flatten();
                self.region = match bottom {
                    Some(bottom) if bottom > top => Some((top, bottom)),
                    // `CSI r` or `CSI t r` (no bottom) means "to the last row".
                    None if top > 1 => Some((top, u16::MAX)),
                    _ => None,
                };
            }
            (Some(marker @ (b'>' | b'<' | b'=')), b'u') => {
                let mut values = numbers(&params[1..]).map(Option::unwrap_or_default);
                let (first, second) = (values.next().unwrap_or(0), values.next().unwrap_or(1));
                let stack = &mut self.kitty[usize::from(self.alt)];
                match marker {
                    b'>' => stack.push(first),
                    b'<' => stack.pop(first),
                    _ => stack.set(first, second),
                }
            }
            (Some(b'>'), b'm') => {
                let mut values = numbers(&params[1..]);
                if values.next() == Some(Some(4)) {
                    self.other_keys = values.next().flatten().unwrap_or(0);
                }
            }
            // `CSI > 4 n`: modifyOtherKeys off.
            (Some(b'>'), b'n') if numbers(&params[1..]).next() == Some(Some(4)) => {
                self.other_keys = 0;
            }
            (_, b'q') if params.ends_with(b" ") => {
                let shape = &params[..params.len() - 1];
                self.cursor_shape = numbers(shape).next().flatten().unwrap_or(0);
            }
            _ => {}
        }
        self.params = params;
        self.params.clear();
    }

    /// `CSI ? … h` or `l`.
    fn private_modes(&mut self, params: &[u8], on: bool) {
        for mode in numbers(params).flatten() {
            match mode {
                7 => self.autowrap = on,
                47 | 1047 | 1049 => self.alt = on,
                1004 => self.focus_reporting = on,
                _ => {}
            }
        }
    }

    /// The screen was resized: terminals reset the scroll region then.
    pub(crate) fn resized(&mut self) {
        self.region = None;
    }

    /// Bytes that restore the tracked state, then put the cursor back at `cursor`
    /// (zero-based row and column), since setting a scroll region homes the cursor.
    pub(crate) fn restore(&self, rows: u16, cursor: (u16, u16)) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some((top, bottom)) = self.region {
            let bottom = bottom.min(rows);
            if top < bottom {
                out.extend_from_slice(format!("\x1b[{top};{bottom}r").as_bytes());
                out.extend_from_slice(
                    format!("\x1b[{};{}H", cursor.0 + 1, cursor.1 + 1).as_bytes(),
                );
            }
        }
        if !self.autowrap {
            out.extend_from_slice(b"\x1b[?7l");
        }
        // The screen the snapshot shows is the one whose keyboard flags apply now.
        self.kitty[usize::from(self.alt)].restore(&mut out);
        if self.other_keys > 0 {
            out.extend_from_slice(format!("\x1b[>4;{}m", self.other_keys).as_bytes());
        }
        if self.focus_reporting {
            out.extend_from_slice(b"\x1b[?1004h");
        }
        if self.cursor_shape > 0 {
            out.extend_from_slice(format!("\x1b[{} q", self.cursor_shape).as_bytes());
        }
        out
    }
}

/// The `;`-separated numbers of a parameter string; empty or malformed ones are `None`.
fn numbers(params: &[u8]) -> impl Iterator<Item = Option<u16>> + '_ {
    params
        .split(|&byte| byte == b';')
        .map(|field| std::str::from_utf8(field).ok()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(bytes: &[u8]) -> ModeTracker {
        let mut tracker = ModeTracker::default();
        tracker.feed(bytes);
        tracker
    }

    #[test]
    fn scroll_region_and_autowrap_are_tracked_across_splits() {
        let bytes = b"abc\x1b[5;20r\x1b[?25;7lxyz";
        for split in 0..bytes.len() {
            let mut tracker = ModeTracker::default();
            tracker.feed(&bytes[..split]);
            tracker.feed(&bytes[split..]);
            assert_eq!(tracker.region, Some((5, 20)), "split at {split}");
            assert!(!tracker.autowrap, "split at {split}");
        }
    }

    #[test]
    fn resets_clear_the_region() {
        assert_eq!(tracked(b"\x1b[5;20r\x1b[r").region, None);
        assert_eq!(tracked(b"\x1b[5;20r\x1b[;r").region, None);
        assert_eq!(tracked(b"\x1b[5;20r\x1bc").region, None);
        assert!(tracked(b"\x1b[?7l\x1bc").autowrap);
        let mut resized = tracked(b"\x1b[5;20r");
        resized.resized();
        assert_eq!(resized.region, None);
    }

    #[test]
    fn keyboard_modes_and_cursor_shape_are_restored() {
        let tracker = tracked(b"\x1b[>1u\x1b[>5u\x1b[=2;2u\x1b[>4;2m\x1b[?1004h\x1b[6 q");
        let restore = tracker.restore(24, (0, 0));
        assert_eq!(
            String::from_utf8(restore).unwrap(),
            "\x1b[>1u\x1b[>7u\x1b[>4;2m\x1b[?1004h\x1b[6 q"
        );
        // Each screen has its own stack; pops go below nothing.
        let tracker = tracked(b"\x1b[>1u\x1b[?1049h\x1b[>3u\x1b[<9u\x1b[>2u");
        assert_eq!(tracker.restore(24, (0, 0)), b"\x1b[>2u");
        let tracker = tracked(b"\x1b[=3;1u\x1b[>1u\x1b[<u\x1b[?1004l\x1b[0 q\x1b[>4m");
        assert_eq!(tracker.restore(24, (0, 0)), b"\x1b[=3;1u");
        assert_eq!(tracked(b"\x1b[>1u\x1bc").restore(24, (0, 0)), b"");
    }

    #[test]
    fn other_sequences_are_ignored() {
        let tracker = tracked(b"\x1b[?1049h\x1b[2J\x1b[1;1H\x1b[38;5;1m\x1b[1;2u\x1b[\" q");
        assert_eq!(tracker.region, None);
        assert!(tracker.autowrap);
        assert_eq!(tracker.restore(24, (0, 0)), b"");
        // A private-marker `r` (e.g. xterm's restore of modes) is not DECSTBM.
        assert_eq!(tracked(b"\x1b[?5;9r").region, None);
    }

    #[test]
    fn restore_sets_region_then_returns_the_cursor() {
        let tracker = tracked(b"\x1b[2;10r\x1b[?7l");
        let restore = tracker.restore(24, (4, 7));
        assert_eq!(restore, b"\x1b[2;10r\x1b[5;8H\x1b[?7l");
        assert_eq!(
            tracked(b"\x1b[3r").restore(24, (0, 0)),
            b"\x1b[3;24r\x1b[1;1H"
        );
    }
}
