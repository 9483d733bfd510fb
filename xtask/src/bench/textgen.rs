//! A deterministic generator of realistic terminal output: log lines with words,
//! numbers, paths and SGR colours, the kind of text a build or a server log prints.
//!
//! The same seed and size always give the same bytes, so every tool and every run cats
//! the same file. Lines stay under [`MAX_COLUMNS`] columns so nothing wraps in a 120
//! column terminal, and the text never contains `@`, which starts the harness's marker.

use std::io::{self, Write};

/// The widest line, in terminal columns.
pub const MAX_COLUMNS: usize = 110;

const WORDS: &[&str] = &[
    "compiling",
    "running",
    "finished",
    "warning",
    "error",
    "note",
    "help",
    "test",
    "ok",
    "failed",
    "ignored",
    "request",
    "response",
    "session",
    "client",
    "server",
    "socket",
    "connected",
    "closed",
    "timeout",
    "retry",
    "bytes",
    "frames",
    "queue",
    "cache",
    "hit",
    "miss",
    "user",
    "build",
    "release",
    "debug",
    "target",
    "module",
    "function",
    "value",
    "expected",
    "found",
    "the",
    "a",
    "of",
    "to",
    "in",
    "for",
    "with",
    "from",
    "and",
    "not",
    "GET",
    "POST",
    "INFO",
    "WARN",
    "DEBUG",
    "TRACE",
    "worker",
    "thread",
    "spawned",
    "exit",
];

/// Single-column non-ASCII text, as real output has (UTF-8, 2 or 3 bytes each).
const SYMBOLS: &[&str] = &["✓", "✗", "→", "µs", "…", "é", "│", "─", "°"];

/// The xorshift64* generator: tiny, fast and good enough to vary text.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced, as xorshift would stay at 0).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }
}

/// One piece of a line: colour before, visible text, colour after.
struct Token {
    before: String,
    text: String,
    after: &'static str,
}

fn next_token(rng: &mut Rng) -> Token {
    let word = WORDS[rng.below(WORDS.len())];
    let plain = |text: String| Token {
        before: String::new(),
        text,
        after: "",
    };
    match rng.below(16) {
        0 => plain(rng.below(100_000).to_string()),
        1 => plain(format!("{}.{:03}", rng.below(1000), rng.below(1000))),
        2 => plain(format!("0x{:08x}", rng.next_u64() as u32)),
        3 => plain(format!(
            "src/{word}/{}.rs:{}",
            WORDS[rng.below(8)],
            rng.below(900)
        )),
        4 => plain(SYMBOLS[rng.below(SYMBOLS.len())].to_owned()),
        5 | 6 => Token {
            before: format!("\x1b[{};3{}m", rng.below(2), 1 + rng.below(6)),
            text: word.to_owned(),
            after: "\x1b[0m",
        },
        7 => Token {
            before: format!("\x1b[38;5;{}m", rng.below(256)),
            text: word.to_owned(),
            after: "\x1b[39m",
        },
        _ => plain(word.to_owned()),
    }
}

/// Appends one line (ending in `\n`) of at most `MAX_COLUMNS` columns to `out`.
fn push_line(rng: &mut Rng, line_no: u64, out: &mut Vec<u8>) {
    let budget = 20 + rng.below(MAX_COLUMNS - 20 + 1);
    let mut columns = 0;
    // A timestamp-like prefix on most lines, as logs have.
    if rng.below(4) != 0 {
        let stamp = format!("[{:>6}.{:06}] ", line_no / 1000, rng.below(1_000_000));
        columns += stamp.len();
        out.extend_from_slice(stamp.as_bytes());
    }
    loop {
        let token = next_token(rng);
        let width = token.text.chars().count() + 1;
        if columns + width > budget {
            break;
        }
        columns += width;
        out.extend_from_slice(token.before.as_bytes());
        out.extend_from_slice(token.text.as_bytes());
        out.extend_from_slice(token.after.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(b"\x1b[0m\n");
}

/// Writes exactly `size` bytes of generated text from `seed` to `out`.
///
/// The text is whole lines; the last few bytes are a line of `.` padding, so the size is
/// exact and no escape sequence or UTF-8 character is cut.
///
/// # Errors
///
/// When writing fails.
pub fn write_text(seed: u64, size: usize, out: &mut impl Write) -> io::Result<()> {
    let mut rng = Rng::new(seed);
    let mut written = 0;
    let mut line = Vec::with_capacity(512);
    let mut line_no = 0;
    loop {
        line.clear();
        push_line(&mut rng, line_no, &mut line);
        line_no += 1;
        if written + line.len() > size {
            break;
        }
        out.write_all(&line)?;
        written += line.len();
    }
    let mut padding = size - written;
    while padding > 0 {
        let len = padding.min(MAX_COLUMNS);
        let mut pad = vec![b'.'; len];
        pad[len - 1] = b'\n';
        out.write_all(&pad)?;
        padding -= len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(seed: u64, size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        write_text(seed, size, &mut out).unwrap();
        out
    }

    /// Visible columns of a line: characters outside `ESC [ ... m`.
    fn columns(line: &str) -> usize {
        let mut n = 0;
        let mut in_sgr = false;
        for ch in line.chars() {
            match ch {
                '\x1b' => in_sgr = true,
                'm' if in_sgr => in_sgr = false,
                _ if in_sgr => {}
                _ => n += 1,
            }
        }
        n
    }

    #[test]
    fn same_seed_same_bytes_and_exact_size() {
        let a = text(7, 200_000);
        assert_eq!(a.len(), 200_000);
        assert_eq!(a, text(7, 200_000));
        assert_ne!(a, text(8, 200_000));
        // A smaller file is a prefix of a larger one, up to its padding.
        let small = text(7, 50_000);
        let cut = small.len() - 1000;
        assert_eq!(small[..cut], a[..cut]);
        for size in [0, 1, 2, 111, 4096] {
            assert_eq!(text(3, size).len(), size);
        }
    }

    #[test]
    fn text_is_realistic_utf8_that_never_wraps_and_never_has_the_marker_byte() {
        let bytes = text(1, 300_000);
        let text = std::str::from_utf8(&bytes).expect("valid UTF-8");
        assert!(!text.contains('@'));
        assert!(text.contains("\x1b[0;3") || text.contains("\x1b[1;3"));
        assert!(text.contains("\x1b[38;5;"));
        assert!(text.contains('✓') || text.contains('→'));
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 2000, "{} lines", lines.len());
        for line in lines {
            assert!(columns(line) <= MAX_COLUMNS, "too wide: {line:?}");
        }
    }
}
