//! Text into and out of the screen model: output bytes decoded as UTF-8 across reads (avt
//! takes `&str`), and a row of cells written back as text with SGR escapes.

use std::fmt::Write as _;

/// Decodes a byte stream as UTF-8 whatever its chunks: a character split between two
/// chunks is carried to the next, and bytes that are not UTF-8 become U+FFFD, as a
/// terminal shows them.
#[derive(Debug, Default)]
pub(super) struct Utf8Stream {
    /// The start of a character the last chunk ended in (at most 3 bytes).
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// The start of a character the bytes so far end in.
    pub(super) fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// Ends a character left pending (with U+FFFD, as a terminal would): the bytes that
    /// follow do not continue it.
    pub(super) fn flush(&mut self, mut text: impl FnMut(&str)) {
        if !std::mem::take(&mut self.pending).is_empty() {
            text("\u{fffd}");
        }
    }

    /// Decodes `bytes` after whatever the last call left pending, handing each valid
    /// stretch to `text`.
    pub(super) fn decode(&mut self, bytes: &[u8], mut text: impl FnMut(&str)) {
        let joined;
        let mut rest = if self.pending.is_empty() {
            bytes
        } else {
            // Rare: only where a read split a character.
            joined = [std::mem::take(&mut self.pending).as_slice(), bytes].concat();
            joined.as_slice()
        };
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    without_c1(valid, &mut text);
                    return;
                }
                Err(error) => {
                    let (valid, after) = rest.split_at(error.valid_up_to());
                    without_c1(std::str::from_utf8(valid).unwrap_or_default(), &mut text);
                    match error.error_len() {
                        Some(bad) => {
                            text("\u{fffd}");
                            rest = &after[bad..];
                        }
                        None => {
                            self.pending = after.to_vec();
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Hands `valid` on without the C1 controls written in UTF-8 (U+0080 to U+009F), which
/// terminals such as tmux ignore and avt would execute (a CSI, or a string swallowing the
/// text up to the next ESC).
fn without_c1(valid: &str, text: &mut impl FnMut(&str)) {
    let bytes = valid.as_bytes();
    let mut start = 0;
    for at in memchr::memchr_iter(0xc2, bytes) {
        if matches!(bytes.get(at + 1), Some(0x80..=0x9f)) {
            text(&valid[start..at]);
            start = at + 2;
        }
    }
    text(&valid[start..]);
}

/// Writes `cells` to `out` as text with SGR escapes, starting from default attributes and
/// leaving them as the last cell set them; blank default cells at the end are left out.
pub(super) fn write_row(cells: &[avt::Cell], out: &mut String) {
    let blank = |cell: &avt::Cell| cell.char() == ' ' && cell.pen().is_default();
    let end = cells
        .iter()
        .rposition(|cell| !blank(cell))
        .map_or(0, |at| at + 1);
    let mut pen = avt::Pen::default();
    // The second half of a wide character has no character of its own.
    for cell in cells[..end].iter().filter(|cell| cell.width() > 0) {
        if *cell.pen() != pen {
            write_sgr(&pen, cell.pen(), out);
            pen = *cell.pen();
        }
        out.push(cell.char());
    }
}

/// `line` without its SGR escapes (a line [`write_row`] wrote).
pub(super) fn strip_sgr(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        // An SGR sequence ends at its `m`; anything else is kept as it is.
        match rest[at..].find('m') {
            Some(end) if rest[at..].starts_with("\x1b[") => rest = &rest[at + end + 1..],
            _ => {
                out.push('\x1b');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Writes the SGR sequence that takes a terminal from attributes `from` to `to`.
fn write_sgr(from: &avt::Pen, to: &avt::Pen, out: &mut String) {
    out.push_str("\x1b[");
    if !from.is_default() {
        // Attributes only add up: start from none.
        out.push('0');
        if to.is_default() {
            out.push('m');
            return;
        }
        out.push(';');
    }
    let flags = [
        (to.is_bold(), "1"),
        (to.is_faint(), "2"),
        (to.is_italic(), "3"),
        (to.is_underline(), "4"),
        (to.is_blink(), "5"),
        (to.is_inverse(), "7"),
        (to.is_strikethrough(), "9"),
    ];
    let mut first = true;
    let mut separate = |out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push(';');
        }
    };
    for (_, code) in flags.iter().filter(|(on, _)| *on) {
        separate(out);
        out.push_str(code);
    }
    for (color, base) in [(to.foreground(), 30), (to.background(), 40)] {
        if let Some(color) = color {
            separate(out);
            write_color(color, base, out);
        }
    }
    out.push('m');
}

/// A foreground (`base` 30) or background (40) colour's SGR parameters.
fn write_color(color: avt::Color, base: u16, out: &mut String) {
    // Writing to a String cannot fail.
    let _ = match color {
        avt::Color::Indexed(n @ 0..=7) => write!(out, "{}", base + u16::from(n)),
        avt::Color::Indexed(n @ 8..=15) => write!(out, "{}", base + 60 + u16::from(n) - 8),
        avt::Color::Indexed(n) => write!(out, "{};5;{n}", base + 8),
        avt::Color::RGB(rgb) => write!(out, "{};2;{};{};{}", base + 8, rgb.r, rgb.g, rgb.b),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(chunks: &[&[u8]]) -> String {
        let (mut stream, mut out) = (Utf8Stream::default(), String::new());
        for chunk in chunks {
            stream.decode(chunk, |text| out.push_str(text));
        }
        out
    }

    #[test]
    fn characters_split_between_reads_are_carried_and_bad_bytes_replaced() {
        let snowman = "☃".as_bytes();
        assert_eq!(
            decoded(&[&snowman[..1], &snowman[1..2], &snowman[2..]]),
            "☃"
        );
        assert_eq!(decoded(&[b"a\xffb", b"\xe2\x98"]), "a\u{fffd}b");
        assert_eq!(decoded(&[b"\xe2\x98", b"x"]), "\u{fffd}x");
        // C1 controls in UTF-8 are dropped, split or not.
        assert_eq!(
            decoded(&[b"ab\xc2\x90de", b"\xc2", b"\x9bf\xc2\xa0"]),
            "abdef\u{a0}"
        );
    }

    #[test]
    fn a_row_is_written_with_its_attributes_and_no_trailing_blanks() {
        let mut term = avt::Terminal::new(20, 2).expect("a size");
        term.feed("a\x1b[1;31mb\x1b[0;4;48;5;200mc\x1b[m 中\x1b[38;2;1;2;3md\x1b[m   ");
        let mut out = String::new();
        write_row(term.screen().line(0).expect("a row").cells(), &mut out);
        assert_eq!(
            out,
            "a\x1b[1;31mb\x1b[0;4;48;5;200mc\x1b[0m 中\x1b[38;2;1;2;3md"
        );
    }
}
