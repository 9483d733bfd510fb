//! `ScreenModes`: follows the session's output just enough to know whether it left the
//! terminal on the alternate screen, so that leaving an attach can switch back.
//!
//! Other modes (mouse, bracketed paste, cursor, colours) are reset unconditionally on exit,
//! which is harmless when unused; leaving the alternate screen is not harmless (it restores
//! a saved cursor position), so it is only done when needed.

/// A tiny escape-sequence scanner for `CSI ? Pn h` / `CSI ? Pn l` and `ESC c`.
#[derive(Debug, Default)]
pub struct ScreenModes {
    state: State,
    params: Vec<u8>,
    alt_screen: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Ground,
    Escape,
    Csi {
        private: bool,
    },
}

/// Longest parameter string kept; longer ones cannot be a mode we care about.
const MAX_PARAMS: usize = 32;

/// Private modes that switch to the alternate screen.
const ALT_SCREEN_MODES: [&[u8]; 3] = [b"47", b"1047", b"1049"];

impl ScreenModes {
    /// Whether the terminal is on the alternate screen after everything seen so far.
    pub fn alt_screen(&self) -> bool {
        self.alt_screen
    }

    /// Feeds bytes written to the terminal; sequences may be split across calls.
    ///
    /// Outside a sequence only ESC matters, so plain text is skipped with `memchr`: this
    /// runs on every byte of output, and a byte-by-byte scan of a flood was the client's
    /// largest cost.
    pub fn observe(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.state == State::Ground {
                let Some(at) = memchr::memchr(0x1b, bytes) else {
                    return;
                };
                bytes = &bytes[at..];
            }
            let Some((&byte, rest)) = bytes.split_first() else {
                return;
            };
            self.step(byte);
            bytes = rest;
        }
    }

    fn step(&mut self, byte: u8) {
        self.state = match (self.state, byte) {
            (_, 0x1b) => State::Escape,
            (State::Ground, _) => State::Ground,
            (State::Escape, b'[') => {
                self.params.clear();
                State::Csi { private: false }
            }
            (State::Escape, b'c') => {
                // RIS, a full reset, also leaves the alternate screen.
                self.alt_screen = false;
                State::Ground
            }
            (State::Escape, _) => State::Ground,
            (State::Csi { .. }, b'?') if self.params.is_empty() => State::Csi { private: true },
            (State::Csi { private }, b'0'..=b'9' | b';') => {
                if self.params.len() < MAX_PARAMS {
                    self.params.push(byte);
                }
                State::Csi { private }
            }
            (State::Csi { private }, 0x40..=0x7e) => {
                if private && (byte == b'h' || byte == b'l') {
                    self.set_modes(byte == b'h');
                }
                State::Ground
            }
            // Intermediates and embedded controls do not end the sequence.
            (state @ State::Csi { .. }, _) => state,
        };
    }

    fn set_modes(&mut self, on: bool) {
        let switches_screen = self
            .params
            .split(|&byte| byte == b';')
            .any(|param| ALT_SCREEN_MODES.contains(&param));
        if switches_screen {
            self.alt_screen = on;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_alternate_screen_switches() {
        let mut modes = ScreenModes::default();
        modes.observe(b"hello \x1b[?1049h full screen");
        assert!(modes.alt_screen());
        modes.observe(b"\x1b[?1049l back");
        assert!(!modes.alt_screen());
        modes.observe(b"\x1b[?25;47h");
        assert!(modes.alt_screen());
    }

    #[test]
    fn handles_sequences_split_across_chunks() {
        let mut modes = ScreenModes::default();
        for chunk in [&b"\x1b"[..], b"[?10", b"49", b"h"] {
            modes.observe(chunk);
        }
        assert!(modes.alt_screen());
    }

    #[test]
    fn ignores_other_modes_and_non_private_sequences() {
        let mut modes = ScreenModes::default();
        modes.observe(b"\x1b[?2004h\x1b[1049h\x1b[?1000h");
        assert!(!modes.alt_screen());
    }

    #[test]
    fn skipping_plain_text_sees_what_a_byte_by_byte_scan_sees() {
        let pieces: [&[u8]; 8] = [
            b"plain text ",
            b"\x1b[?1049h",
            b"\x1b[?1049l",
            b"\x1b[1;31mred\x1b[0m",
            b"\x1bc",
            b"\x1b[?25;1047h",
            b"\x1b",
            b"[?47l",
        ];
        let mut seed: u32 = 0x9e37_79b9;
        for _ in 0..200 {
            let mut stream = Vec::new();
            for _ in 0..12 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                stream.extend_from_slice(pieces[seed as usize % pieces.len()]);
            }
            let split = seed as usize % (stream.len() + 1);
            let mut whole = ScreenModes::default();
            whole.observe(&stream[..split]);
            whole.observe(&stream[split..]);
            let mut bytewise = ScreenModes::default();
            for &byte in &stream {
                bytewise.step(byte);
            }
            assert_eq!(whole.alt_screen(), bytewise.alt_screen(), "{stream:?}");
            assert_eq!(whole.state, bytewise.state);
        }
    }

    #[test]
    fn full_reset_leaves_alternate_screen() {
        let mut modes = ScreenModes::default();
        modes.observe(b"\x1b[?1049h\x1bc");
        assert!(!modes.alt_screen());
    }
}
