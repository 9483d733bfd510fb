//! What the session task notices in its program's output, besides recording it: the bell,
//! title changes (OSC 0 and 2) and shell-integration marks (OSC 133), for events and for
//! `fugue run`, and queries terminals answer (`queries.rs`), to pick the one that may. A few states carried from chunk to chunk. Text and
//! colours, nearly all output, go through one tight loop; the rest (OSCs, DCSs, sequences
//! cut by a chunk's end) through a state machine.

use memchr::memchr2;

use super::queries;

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
/// The longest OSC string kept; a longer one (an image, a clipboard copy) is skipped.
const MAX_OSC: usize = 512;

/// What one chunk held.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Found {
    pub(super) bell: bool,
    /// The last title set.
    pub(super) title: Option<String>,
    /// A command-finished mark with its status (OSC 133 `D;N`).
    pub(super) finished_mark: bool,
    /// A query that terminals answer.
    pub(super) query: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Ground,
    Esc,
    Osc,
    /// An ESC inside an OSC string: `\` ends it (ST).
    OscEsc,
    /// Inside `ESC [`, collecting parameters and intermediates.
    Csi,
    /// Inside a DCS string (`ESC P`), its first bytes kept.
    Dcs,
    /// An ESC inside a DCS string.
    DcsEsc,
}

/// The longest CSI parameter string kept (longer ones are no query).
const MAX_CSI: usize = 16;

/// Where a CSI's final byte is in `rest` (what follows `ESC [`), if it is there and the
/// parameters are short; a longer CSI goes through the byte-by-byte path, as does one cut
/// by the chunk's end.
fn csi_end(rest: &[u8]) -> Option<usize> {
    let window = &rest[..rest.len().min(MAX_CSI + 1)];
    window.iter().position(|byte| (0x40..=0x7e).contains(byte))
}

/// Whether a CSI with this final byte can be a query (a quick test before the real one).
fn may_query(params: &[u8], final_byte: u8) -> bool {
    matches!(final_byte, b'c' | b'n' | b'u' | b'q' | b'p' | b't' | b'x')
        || (final_byte == b'm' && params.first() == Some(&b'?'))
}

/// The scanner, with what it carries between chunks.
#[derive(Debug, Default)]
pub(super) struct OutputScan {
    state: State,
    osc: Vec<u8>,
    too_long: bool,
    /// The CSI parameters, or the DCS string's first bytes, so far.
    seq: Vec<u8>,
    /// The title last set: setting it again is no change.
    title: Option<String>,
}

impl OutputScan {
    /// Scans the next chunk of output.
    pub(super) fn scan(&mut self, data: &[u8]) -> Found {
        let mut found = Found::default();
        let mut at = 0;
        while at < data.len() {
            match self.state {
                State::Ground => at = self.ground(data, at, &mut found),
                State::Esc => {
                    self.escape(data[at]);
                    at += 1;
                }
                // Past its first bytes, a DCS string (a sixel image, say) is skipped whole.
                State::Dcs if self.seq.len() >= 2 => match memchr::memchr(ESC, &data[at..]) {
                    None => at = data.len(),
                    Some(skip) => {
                        at += skip + 1;
                        self.state = State::DcsEsc;
                    }
                },
                State::Csi | State::Dcs | State::DcsEsc => {
                    at = self.sequence_byte(data[at], at, &mut found);
                }
                State::Osc => at = self.osc_text(data, at, &mut found),
                State::OscEsc => {
                    if data[at] == b'\\' {
                        self.finish_osc(&mut found);
                        self.state = State::Ground;
                        at += 1;
                    } else {
                        // The ESC began a new sequence.
                        self.state = State::Esc;
                    }
                }
            }
        }
        found
    }

    /// Forgets any sequence in progress (the output between was not scanned).
    pub(super) fn reset(&mut self) {
        self.state = State::Ground;
    }

    /// Plain text, bells and whole CSI sequences (nearly all output: text and colours),
    /// in one tight loop; returns where another state begins, or the chunk's end.
    fn ground(&mut self, data: &[u8], mut at: usize, found: &mut Found) -> usize {
        loop {
            // A plain loop, not memchr: in coloured text an ESC comes every dozen bytes or
            // so, and a vectorised search costs more to start than it saves there.
            let Some(skip) = data[at..].iter().position(|&b| b == ESC || b == BEL) else {
                return data.len();
            };
            at += skip;
            if data[at] == BEL {
                found.bell = true;
                at += 1;
                continue;
            }
            let csi = (data.get(at + 1) == Some(&b'['))
                .then(|| csi_end(&data[at + 2..]))
                .flatten();
            let Some(end) = csi else {
                self.state = State::Esc;
                return at + 1;
            };
            let (params, final_byte) = (&data[at + 2..at + 2 + end], data[at + 2 + end]);
            found.query |=
                may_query(params, final_byte) && queries::csi_is_query(params, final_byte);
            at += end + 3;
        }
    }

    /// The byte after an ESC.
    fn escape(&mut self, byte: u8) {
        self.state = match byte {
            b']' => {
                self.osc.clear();
                self.too_long = false;
                State::Osc
            }
            b'[' => State::Csi,
            b'P' => State::Dcs,
            ESC => State::Esc,
            _ => State::Ground,
        };
        self.seq.clear();
    }

    /// One byte of a CSI or DCS sequence at `at`; returns where scanning goes on.
    fn sequence_byte(&mut self, byte: u8, at: usize, found: &mut Found) -> usize {
        match (self.state, byte) {
            (State::Csi | State::Dcs, ESC) => {
                self.state = if self.state == State::Dcs {
                    State::DcsEsc
                } else {
                    State::Esc
                }
            }
            (State::Csi, 0x40..=0x7e) => {
                found.query |= self.seq.len() <= MAX_CSI && queries::csi_is_query(&self.seq, byte);
                self.state = State::Ground;
            }
            (State::Csi, 0x20..=0x3f) | (State::Dcs, _) => {
                if self.seq.len() <= MAX_CSI {
                    self.seq.push(byte);
                }
            }
            // C0 controls inside a CSI are executed by terminals; they do not end it.
            (State::Csi, _) => {}
            (State::DcsEsc, b'\\') => {
                found.query |= queries::dcs_is_query(&self.seq);
                self.state = State::Ground;
            }
            (State::DcsEsc, _) => {
                self.state = State::Esc;
                return at;
            }
            _ => self.state = State::Ground,
        }
        at + 1
    }

    /// Collects an OSC string from `at`; returns where scanning goes on.
    fn osc_text(&mut self, data: &[u8], at: usize, found: &mut Found) -> usize {
        let end = memchr2(BEL, ESC, &data[at..]).map(|skip| at + skip);
        let text = &data[at..end.unwrap_or(data.len())];
        if self.osc.len() + text.len() <= MAX_OSC {
            self.osc.extend_from_slice(text);
        } else {
            self.too_long = true;
        }
        let Some(end) = end else {
            return data.len();
        };
        if data[end] == BEL {
            self.finish_osc(found);
            self.state = State::Ground;
        } else {
            self.state = State::OscEsc;
        }
        end + 1
    }

    fn finish_osc(&mut self, found: &mut Found) {
        if self.too_long {
            return;
        }
        let osc = String::from_utf8_lossy(&self.osc);
        found.query |= queries::osc_is_query(&self.osc);
        if let Some(title) = osc.strip_prefix("0;").or_else(|| osc.strip_prefix("2;")) {
            if self.title.as_deref() != Some(title) {
                self.title = Some(title.to_owned());
                found.title = self.title.clone();
            }
        } else if let Some(params) = osc.strip_prefix("133;D;") {
            // `fugue run` types a mark of its own (with its token) into shells that do not
            // mark their commands: that one says nothing about the shell.
            let mut fields = params.split(';');
            let status = fields.next().unwrap_or("");
            let typed = fields.any(|field| field.starts_with("fugue="));
            found.finished_mark |= status.parse::<i32>().is_ok() && !typed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_found_across_chunks_and_colours_are_not_queries() {
        let mut scan = OutputScan::default();
        assert!(
            !scan
                .scan(b"\x1b[1;31mred\x1b[0m \x1b[?2004h\x1b[>4;1m")
                .query
        );
        assert!(!scan.scan(b"\x1b[").query);
        assert!(scan.scan(b"6n").query);
        assert!(scan.scan(b"\x1b]11;?\x07").query);
        assert!(scan.scan(b"\x1bP$qm\x1b\\").query);
        assert!(!scan.scan(b"\x1bP1$r0m\x1b\\").query);
        assert!(scan.scan(b"\x1b[c").query);
    }

    #[test]
    fn a_mark_typed_by_fugue_run_is_not_the_shells() {
        let mut scan = OutputScan::default();
        assert!(!scan.scan(b"\x1b]133;D;0;fugue=1f2e\x07").finished_mark);
        assert!(scan.scan(b"\x1b]133;D;0;aid=7\x07").finished_mark);
    }

    #[test]
    fn bells_titles_and_marks_are_found_across_chunks() {
        let mut scan = OutputScan::default();
        let found = scan.scan(b"plain \x1b[1mbold\x1b[m\x07 \x1b]2;my ti");
        assert!(found.bell);
        assert_eq!(found.title, None);
        let found = scan.scan(b"tle\x1b\\ and \x1b]133;D;0\x07");
        assert!(!found.bell, "a BEL ending an OSC is no bell");
        assert_eq!(found.title.as_deref(), Some("my title"));
        assert!(found.finished_mark);
        let again = scan.scan(b"\x1b]2;my title\x07");
        assert_eq!(again.title, None, "the same title again is no change");
        assert!(!scan.scan(b"\x1b]133;D\x07\x1b]133;A\x07").finished_mark);
        assert_eq!(
            scan.scan(b"\x1b]0;a\x1b\x1b]2;b\x07").title.as_deref(),
            Some("b")
        );
    }

    #[test]
    fn a_long_osc_string_is_skipped_whole() {
        let mut scan = OutputScan::default();
        let mut data = b"\x1b]2;".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_OSC + 10));
        data.push(BEL);
        assert_eq!(scan.scan(&data), Found::default());
        assert!(scan.scan(b"\x07").bell);
    }
}
