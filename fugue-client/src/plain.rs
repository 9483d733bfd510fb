//! `Plain`: terminal output as plain text, line by line, for matching (`wait_after`) and for
//! what `run` prints. Escape sequences are dropped, except OSC 133 marks, which are handed
//! on in order with the lines around them. A carriage return moves back to the line's
//! start and what follows overwrites it, as on a terminal (progress bars end up as their
//! last state); backspace moves back one character, `CSI K` erases to the line's end.
//!
//! A line here is a logical line, as many rows of the terminal's width as it wraps to, and
//! the cursor moves over its rows as on a terminal: a carriage return goes to the start of
//! the cursor's row, `CSI A` and `CSI C` move up and right, and a line feed on a row above
//! the line's last only moves down. So a shell that redraws its wrapped command line
//! (fish does on Enter) still shows it as one line. Lines already ended stay as they were:
//! a program that moves up into them (a multi-line progress display) has what it writes
//! there come out as new lines, in order, so nothing it printed is lost. A line keeps at
//! most [`MAX_LINE`] characters (moves right stop at the row's end), so no output makes it
//! grow without bound.

/// One piece of rendered output, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// A line ended by a line feed (without it).
    Line(String),
    /// An OSC 133 shell-integration mark: its letter, its parameters after the letter
    /// (`D;0` gives `'D'` and `"0"`), and the line being written when it came.
    Mark(char, String, String),
}

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
/// The longest OSC string kept; longer ones (images, clipboard copies) are skipped.
const MAX_OSC: usize = 256;
/// The most characters a line keeps; more are dropped.
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// The count of a cursor move (`CSI n A`): 1 when absent or 0.
fn count(params: &[u8]) -> usize {
    let n = std::str::from_utf8(params)
        .ok()
        .and_then(|n| n.parse().ok());
    n.unwrap_or(1).max(1)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Ground,
    Esc,
    /// Inside `ESC [`: ends at a byte in `@`..=`~`.
    Csi,
    /// Inside an OSC string: ends at BEL or ST.
    Osc,
    /// Inside a DCS, SOS, PM or APC string: ends at ST.
    Str,
    /// An ESC inside a string: `\` ends it.
    StrEsc {
        osc: bool,
    },
    /// `ESC (` and the like: one more byte.
    Charset,
}

/// The renderer, with the line being written and what it carries between chunks.
#[derive(Debug, Default)]
pub(crate) struct Plain {
    state: State,
    line: Vec<char>,
    /// The cursor's position in `line`; its row is `col / width`.
    col: usize,
    /// A character was just written in the row's last column: the cursor is still on that
    /// column, and moves to the next row only if another character comes (as on a
    /// terminal); `col` already points at the next row.
    wrap_pending: bool,
    /// The terminal's width (0 when unknown: rows are not followed).
    width: usize,
    /// Printable bytes not yet decoded (a UTF-8 character may span chunks).
    text: Vec<u8>,
    osc: Vec<u8>,
    csi: Vec<u8>,
}

impl Plain {
    /// A renderer for a terminal `width` columns wide (0 when unknown).
    pub(crate) fn new(width: u16) -> Self {
        Plain {
            width: usize::from(width),
            ..Plain::default()
        }
    }

    /// Renders `data`, appending what it completed to `out`.
    pub(crate) fn feed(&mut self, data: &[u8], out: &mut Vec<Piece>) {
        for &byte in data {
            self.byte(byte, out);
        }
    }

    /// Starts over on a line whose first `column` cells hold what came before (a prompt):
    /// rows wrap where the terminal's do.
    pub(crate) fn start_at_column(&mut self, column: u16) {
        self.flush_text();
        self.text.clear();
        self.line = vec![' '; usize::from(column)];
        self.col = usize::from(column);
        self.wrap_pending = false;
    }

    /// The line being written (not yet ended by a line feed).
    pub(crate) fn partial(&mut self) -> String {
        self.flush_text();
        self.line.iter().collect()
    }

    fn byte(&mut self, byte: u8, out: &mut Vec<Piece>) {
        match self.state {
            State::Ground => self.ground(byte, out),
            State::Esc => {
                self.state = match byte {
                    b'[' => {
                        self.csi.clear();
                        State::Csi
                    }
                    b']' => {
                        self.osc.clear();
                        State::Osc
                    }
                    b'P' | b'X' | b'^' | b'_' => State::Str,
                    b'(' | b')' | b'*' | b'+' | b'#' | b'%' => State::Charset,
                    ESC => State::Esc,
                    _ => State::Ground,
                }
            }
            State::Csi => {
                if (0x40..=0x7e).contains(&byte) {
                    self.state = State::Ground;
                    self.csi_final(byte);
                } else if self.csi.len() < 32 {
                    self.csi.push(byte);
                }
            }
            State::Osc | State::Str => self.string_byte(byte, out),
            State::StrEsc { osc } => {
                self.state = State::Ground;
                if byte == b'\\' {
                    if osc {
                        self.osc_end(out);
                    }
                } else {
                    // The ESC began a new sequence.
                    self.state = State::Esc;
                    self.byte(byte, out);
                }
            }
            State::Charset => self.state = State::Ground,
        }
    }

    fn ground(&mut self, byte: u8, out: &mut Vec<Piece>) {
        if byte >= 0x20 && byte != 0x7f {
            self.text.push(byte);
            return;
        }
        self.flush_text();
        if byte != ESC {
            self.settle_wrap();
        }
        match byte {
            ESC => self.state = State::Esc,
            b'\n' if self.row(self.col) < self.last_row() => self.col += self.width,
            b'\n' => {
                out.push(Piece::Line(self.line.iter().collect()));
                self.line.clear();
                self.col = 0;
            }
            b'\r' => self.col = self.row(self.col) * self.width,
            0x08 => self.col = self.col.saturating_sub(1),
            b'\t' => self.put('\t'),
            _ => {}
        }
    }

    fn string_byte(&mut self, byte: u8, out: &mut Vec<Piece>) {
        let osc = self.state == State::Osc;
        match byte {
            BEL if osc => {
                self.state = State::Ground;
                self.osc_end(out);
            }
            ESC => self.state = State::StrEsc { osc },
            _ if osc && self.osc.len() < MAX_OSC => self.osc.push(byte),
            _ => {}
        }
    }

    fn osc_end(&mut self, out: &mut Vec<Piece>) {
        let Some(rest) = self.osc.strip_prefix(b"133;") else {
            return;
        };
        let text = String::from_utf8_lossy(rest);
        let mut chars = text.chars();
        if let Some(letter) = chars.next() {
            let params = chars.as_str().strip_prefix(';').unwrap_or(chars.as_str());
            let params = params.to_owned();
            out.push(Piece::Mark(letter, params, self.partial()));
        }
    }

    fn csi_final(&mut self, byte: u8) {
        self.flush_text();
        if matches!(byte, b'A' | b'C' | b'K') {
            self.settle_wrap();
        }
        match (byte, self.csi.as_slice()) {
            // Erase from the cursor to the line's end.
            (b'K', b"" | b"0") => self.line.truncate(self.col),
            // Up, within the line's rows only.
            (b'A', params) => {
                let within = count(params).min(self.row(self.col));
                self.col -= within * self.width;
            }
            // Right, to the row's end at most (without a width, a few columns).
            (b'C', params) => {
                let row_end = match self.width {
                    0 => self.col + 256,
                    width => (self.row(self.col) + 1) * width - 1,
                };
                self.col = (self.col + count(params)).min(row_end).min(MAX_LINE);
            }
            _ => {}
        }
    }

    /// The row of the line that position `col` is on.
    fn row(&self, col: usize) -> usize {
        col.checked_div(self.width).unwrap_or(0)
    }

    /// The line's last row.
    fn last_row(&self) -> usize {
        self.row(self.line.len().saturating_sub(1))
    }

    /// Before the cursor moves: it is on the last column, not on the next row.
    fn settle_wrap(&mut self) {
        if self.wrap_pending {
            self.col -= 1;
            self.wrap_pending = false;
        }
    }

    fn flush_text(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.text);
        // A character cut at the end of a chunk stays for the next one.
        let (valid, rest) = match std::str::from_utf8(&text) {
            Ok(_) => (text.len(), &[][..]),
            Err(err) if err.error_len().is_none() => {
                (err.valid_up_to(), &text[err.valid_up_to()..])
            }
            Err(_) => (text.len(), &[][..]),
        };
        for c in String::from_utf8_lossy(&text[..valid]).chars() {
            self.put(c);
        }
        self.text = rest.to_vec();
    }

    fn put(&mut self, c: char) {
        if self.col >= MAX_LINE {
            return;
        }
        if self.col < self.line.len() {
            self.line[self.col] = c;
        } else {
            self.line.resize(self.col, ' ');
            self.line.push(c);
        }
        self.col += 1;
        self.wrap_pending = self.width > 0 && self.col.is_multiple_of(self.width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(chunks: &[&[u8]]) -> (Vec<Piece>, String) {
        render_at(0, chunks)
    }

    fn render_at(width: u16, chunks: &[&[u8]]) -> (Vec<Piece>, String) {
        let mut plain = Plain::new(width);
        let mut out = Vec::new();
        for chunk in chunks {
            plain.feed(chunk, &mut out);
        }
        (out, plain.partial())
    }

    fn line(text: &str) -> Piece {
        Piece::Line(text.to_owned())
    }

    #[test]
    fn colours_and_titles_are_dropped_lines_kept() {
        let (out, partial) = render(&[b"\x1b[1;31mred\x1b[0m\r\n\x1b]0;title\x07$ "]);
        assert_eq!(out, [line("red")]);
        assert_eq!(partial, "$ ");
    }

    #[test]
    fn carriage_return_overwrites_and_erase_clears() {
        let (out, _) = render(&[b"50% done\r100%\n", b"long text\rab\x1b[K\n"]);
        assert_eq!(out, [line("100%done"), line("ab")]);
    }

    #[test]
    fn marks_come_in_order_with_their_parameters() {
        let (out, _) = render(&[b"\x1b]133;C\x07out\r\n\x1b]133;D;3;fugue=ab\x1b\\"]);
        assert_eq!(
            out,
            [
                Piece::Mark('C', String::new(), String::new()),
                line("out"),
                Piece::Mark('D', "3;fugue=ab".into(), String::new())
            ]
        );
    }

    #[test]
    fn sequences_and_characters_split_across_chunks() {
        let text = "é€".as_bytes();
        let (out, partial) = render(&[b"\x1b[3", b"1mx", &text[..1], &text[1..3], &text[3..]]);
        assert!(out.is_empty());
        assert_eq!(partial, "xé€");
        let (out, _) = render(&[b"abc\x1b]13", b"3;D;0\x1b", b"\\$ "]);
        assert_eq!(out, [Piece::Mark('D', "0".into(), "abc".into())]);
    }

    #[test]
    fn a_wrapped_line_redrawn_from_the_row_above_stays_one_line() {
        // fish, on Enter, redraws a command wrapped to two rows of a 20-column terminal.
        let echo = b"$ echo one; printf x; true";
        let enter: &[u8] = b"\x1b[A\r\r\n\x1b[6C\x1b[A\x08\r\r\n\x1b[6C\r\n\rone\r\n";
        let (out, partial) = render_at(20, &[echo, enter]);
        assert_eq!(out, [line("$ echo one; printf x; true"), line("one")]);
        assert_eq!(partial, "");
    }

    #[test]
    fn what_is_written_over_lines_above_comes_out_as_new_lines() {
        let (out, _) = render_at(20, &[b"a\n\x1b[1Ab\nc\nd\n"]);
        assert_eq!(out, [line("a"), line("b"), line("c"), line("d")]);
    }

    #[test]
    fn moves_right_stop_at_the_rows_end_and_lines_stay_bounded() {
        let (_, partial) = render_at(10, &[b"ab\x1b[999Cx"]);
        assert_eq!(partial, "ab       x");
        let flood = b"\x1b[999Cx".repeat(1000);
        let (_, partial) = render(&[&flood]);
        assert!(partial.chars().count() <= MAX_LINE);
    }

    #[test]
    fn a_line_begun_after_a_prompt_wraps_where_the_terminal_does() {
        // readline at the margin: the next character, a carriage return, that character
        // again, on a 10-column terminal after a 4-column prompt.
        let mut plain = Plain::new(10);
        plain.start_at_column(4);
        let mut out = Vec::new();
        plain.feed(b"abcdefg\rghi\r\n", &mut out);
        assert_eq!(out, [line("    abcdefghi")]);
    }

    #[test]
    fn a_carriage_return_goes_to_the_start_of_the_cursors_row() {
        let (out, _) = render_at(4, &[b"abcdefg\rXY\n", b"abcd\rZ\n"]);
        assert_eq!(out, [line("abcdXYg"), line("Zbcd")]);
    }

    #[test]
    fn dcs_strings_and_invalid_bytes_do_not_leak() {
        let (out, partial) = render(&[b"\x1bP1$r0m\x1b\\a\xffb\x1b(Bc"]);
        assert!(out.is_empty());
        assert_eq!(partial, "a\u{fffd}bc");
    }
}
