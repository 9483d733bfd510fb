//! A client-side terminal model for tests: feed it what a client would write to its
//! terminal, then compare screens cell by cell.

use std::num::NonZeroU16;

use fugue_protocol::{ServerMessage, TermSize};

fn non_zero(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN)
}

/// A terminal as a client would show it.
pub struct Terminal {
    parser: vt100::Parser,
}

impl Terminal {
    /// A blank terminal of `size`.
    pub fn new(size: TermSize) -> Terminal {
        Terminal {
            parser: vt100::Parser::new(non_zero(size.rows), non_zero(size.cols), 0),
        }
    }

    /// Writes bytes to the terminal.
    pub fn write(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
    }

    /// Applies what a client writes for `msg`: snapshots and output; other messages are
    /// not shown. Returns whether anything was written.
    pub fn apply(&mut self, msg: &ServerMessage) -> bool {
        match msg {
            ServerMessage::Attached {
                snapshot: Some(bytes),
                ..
            }
            | ServerMessage::Resync {
                snapshot: bytes, ..
            }
            | ServerMessage::Output { data: bytes, .. } => {
                self.write(bytes);
                true
            }
            _ => false,
        }
    }

    /// The visible text.
    pub fn contents(&self) -> String {
        self.parser.screen().contents()
    }

    /// Every visible cell with its attributes, the cursor, and the modes programs rely
    /// on, as text, so two screens compare with `assert_eq!` and a readable diff.
    pub fn digest(&self) -> String {
        let screen = self.parser.screen();
        let (rows, cols) = screen.size();
        let mut out = String::new();
        for row in 0..rows.get() {
            for col in 0..cols.get() {
                let Some(cell) = screen.cell(row, col) else {
                    continue;
                };
                let styled = cell.bold()
                    || cell.italic()
                    || cell.underline()
                    || cell.inverse()
                    || cell.fgcolor() != vt100::Color::Default
                    || cell.bgcolor() != vt100::Color::Default;
                // A space written and a cell never written look alike.
                let blank = !cell.has_contents() || cell.contents() == " ";
                if !blank || styled {
                    out.push_str(&format!(
                        "{row},{col}:{:?} fg={:?} bg={:?} b={} i={} u={} r={}\n",
                        cell.contents(),
                        cell.fgcolor(),
                        cell.bgcolor(),
                        cell.bold(),
                        cell.italic(),
                        cell.underline(),
                        cell.inverse()
                    ));
                }
            }
        }
        out.push_str(&format!(
            "cursor={:?} hidden={} alt={} app_cursor={} app_keypad={} paste={} mouse={:?}/{:?}\n",
            screen.cursor_position(),
            screen.hide_cursor(),
            screen.alternate_screen(),
            screen.application_cursor(),
            screen.application_keypad(),
            screen.bracketed_paste(),
            screen.mouse_protocol_mode(),
            screen.mouse_protocol_encoding(),
        ));
        out
    }
}
