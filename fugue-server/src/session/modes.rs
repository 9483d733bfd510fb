//! `ModeTracker`: the terminal state the screen model (avt) does not keep but a snapshot must
//! restore: the window title, and the input modes a re-attached program expects of the
//! terminal: mouse reporting and its encodings, bracketed paste, the application keypad,
//! the kitty keyboard protocol's flags (each screen has its own stack), xterm's
//! modifyOtherKeys, focus reporting and the cursor's shape (DECSCUSR).
//!
//! A small scanner of CSI and OSC sequences fed the same bytes as the model. It keeps its
//! own parse state, so sequences split across reads are understood, and ignores everything
//! it does not track.

/// Longest parameter string kept; longer ones are not sequences we track.
const MAX_PARAMS: usize = 32;

/// Longest window title kept, in bytes; a longer one is cut there.
const MAX_TITLE: usize = 1024;

/// The private modes (`CSI ? n h`) restored as they were left: mouse reporting (X10,
/// normal, highlight, button-event, any-event), its encodings (UTF-8, SGR, urxvt, SGR
/// pixels), and bracketed paste. Focus reporting is kept with the keyboard state.
const PRIVATE_MODES: [u16; 10] = [9, 1000, 1001, 1002, 1003, 1005, 1006, 1015, 1016, 2004];

/// How many of [`PRIVATE_MODES`], from the first, are mouse tracking modes.
const TRACKING_MODES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    Escape,
    Csi,
    /// Inside an OSC string: its bytes are collected until BEL or ESC.
    Osc,
}

/// The tracked state and the scanner's position inside a sequence.
#[derive(Debug, Clone)]
pub(crate) struct ModeTracker {
    state: State,
    params: Vec<u8>,
    /// The OSC string being read.
    osc: Vec<u8>,
    /// The window title (OSC 0 or 2).
    title: Option<Vec<u8>>,
    /// Which of [`PRIVATE_MODES`] are on, one bit each.
    private: u16,
    /// DECKPAM (`ESC =`) until DECKPNM (`ESC >`).
    app_keypad: bool,
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
            osc: Vec::new(),
            title: None,
            private: 0,
            app_keypad: false,
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
            match self.state {
                // Plain text is most of the output: jump to the next escape.
                State::Ground => match memchr::memchr(0x1b, bytes) {
                    Some(at) => bytes = &bytes[at..],
                    None => return,
                },
                // So is a title's text: take it up to where it ends.
                State::Osc => {
                    let end = memchr::memchr3(0x07, 0x18, 0x1b, bytes).unwrap_or(bytes.len());
                    let room = (MAX_PARAMS + MAX_TITLE).saturating_sub(self.osc.len());
                    self.osc.extend_from_slice(&bytes[..end.min(room)]);
                    bytes = &bytes[end..];
                    if bytes.is_empty() {
                        return;
                    }
                }
                State::Escape | State::Csi => {}
            }
            self.step(bytes[0]);
            bytes = &bytes[1..];
        }
    }

    fn step(&mut self, byte: u8) {
        match (self.state, byte) {
            // BEL or ESC (the start of ST, `ESC \`) ends an OSC string.
            (State::Osc, 0x07 | 0x1b) => {
                self.finish_osc();
                self.state = if byte == 0x1b {
                    State::Escape
                } else {
                    State::Ground
                };
            }
            (_, 0x1b) => self.state = State::Escape,
            // CAN and SUB abort a sequence.
            (_, 0x18 | 0x1a) => self.state = State::Ground,
            (State::Ground | State::Osc, _) => {}
            (State::Escape, b'[') => {
                self.params.clear();
                self.state = State::Csi;
            }
            (State::Escape, b']') => {
                self.osc.clear();
                self.state = State::Osc;
            }
            (State::Escape, b'c') => {
                // RIS: a full reset.
                *self = ModeTracker::default();
            }
            (State::Escape, b'=' | b'>') => {
                self.app_keypad = byte == b'=';
                self.state = State::Ground;
            }
            (State::Escape, _) => self.state = State::Ground,
            // Parameter and intermediate bytes: kept up to the limit, so that no sequence
            // with intermediates reads as one without.
            (State::Csi, 0x20..=0x3f) => {
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

    /// OSC 0 (icon name and title) and OSC 2 (title) set the title.
    fn finish_osc(&mut self) {
        let osc = std::mem::take(&mut self.osc);
        if let Some(title) = osc.strip_prefix(b"0;").or_else(|| osc.strip_prefix(b"2;")) {
            self.title = Some(title[..title.len().min(MAX_TITLE)].to_vec());
        }
        self.osc = osc;
        self.osc.clear();
    }

    fn finish_csi(&mut self, final_byte: u8) {
        let params = std::mem::take(&mut self.params);
        match (params.first(), final_byte) {
            (Some(b'?'), b'h' | b'l') => self.private_modes(&params[1..], final_byte == b'h'),
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
                1049 | 1047 | 47 => self.alt = on,
                1004 => self.focus_reporting = on,
                _ => {
                    if let Some(bit) = PRIVATE_MODES.iter().position(|&m| m == mode) {
                        // The mouse tracking modes are one setting, as in xterm and tmux:
                        // the last set wins, and resetting any turns tracking off.
                        if bit < TRACKING_MODES {
                            self.private &= !((1 << TRACKING_MODES) - 1);
                        }
                        self.private = if on {
                            self.private | 1 << bit
                        } else {
                            self.private & !(1 << bit)
                        };
                    }
                }
            }
        }
    }

    /// Bytes that restore the tracked state on a terminal with all of it off; they print
    /// nothing and leave the cursor where it is.
    pub(crate) fn restore(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(title) = &self.title {
            out.extend_from_slice(b"\x1b]2;");
            out.extend_from_slice(title);
            out.push(0x07);
        }
        for (bit, mode) in PRIVATE_MODES.iter().enumerate() {
            if self.private & 1 << bit != 0 {
                out.extend_from_slice(format!("\x1b[?{mode}h").as_bytes());
            }
        }
        if self.app_keypad {
            out.extend_from_slice(b"\x1b=");
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
    fn modes_and_the_title_are_tracked_across_splits() {
        let bytes = b"abc\x1b]2;my title\x07\x1b[?1002;1006h\x1b[?2004h\x1b=xyz\x1b]0;x\x1b\\";
        for split in 0..bytes.len() {
            let mut tracker = ModeTracker::default();
            tracker.feed(&bytes[..split]);
            tracker.feed(&bytes[split..]);
            assert_eq!(
                String::from_utf8(tracker.restore()).unwrap(),
                "\x1b]2;x\x07\x1b[?1002h\x1b[?1006h\x1b[?2004h\x1b=",
                "split at {split}"
            );
        }
        let off = tracked(b"\x1b]2;t\x07\x1b[?1002h\x1b[?2004h\x1b=\x1b[?1002;2004l\x1b>");
        assert_eq!(off.restore(), b"\x1b]2;t\x07");
        // One tracking mode at a time.
        assert_eq!(tracked(b"\x1b[?1003h\x1b[?1000h").restore(), b"\x1b[?1000h");
        assert_eq!(
            tracked(b"\x1b[?1000h\x1b[?1006h\x1b[?1002l").restore(),
            b"\x1b[?1006h"
        );
        assert_eq!(tracked(b"\x1b]2;t\x07\x1b[?2004h\x1bc").restore(), b"");
        // Other OSC strings (a hyperlink, a colour) and an aborted one are not titles.
        assert_eq!(tracked(b"\x1b]8;;http://x\x07\x1b]2;ab\x18").restore(), b"");
        let long = [b"\x1b]2;".as_slice(), &[b'x'; 5000][..], b"\x07"].concat();
        assert_eq!(tracked(&long).restore().len(), 4 + MAX_TITLE + 1);
    }

    #[test]
    fn keyboard_modes_and_cursor_shape_are_restored() {
        let tracker = tracked(b"\x1b[>1u\x1b[>5u\x1b[=2;2u\x1b[>4;2m\x1b[?1004h\x1b[6 q");
        assert_eq!(
            String::from_utf8(tracker.restore()).unwrap(),
            "\x1b[>1u\x1b[>7u\x1b[>4;2m\x1b[?1004h\x1b[6 q"
        );
        // Each screen has its own stack; pops go below nothing.
        let tracker = tracked(b"\x1b[>1u\x1b[?1049h\x1b[>3u\x1b[<9u\x1b[>2u");
        assert_eq!(tracker.restore(), b"\x1b[>2u");
        let tracker = tracked(b"\x1b[=3;1u\x1b[>1u\x1b[<u\x1b[?1004l\x1b[0 q\x1b[>4m");
        assert_eq!(tracker.restore(), b"\x1b[=3;1u");
        assert_eq!(tracked(b"\x1b[>1u\x1bc").restore(), b"");
    }

    #[test]
    fn other_sequences_are_ignored() {
        let tracker =
            tracked(b"\x1b[?1049h\x1b[2J\x1b[1;1H\x1b[38;5;1m\x1b[1;2u\x1b[\" q\x1b[5;9r");
        assert_eq!(tracker.restore(), b"");
    }
}
