//! The detach key: parsing `ctrl-X` / `^X` / `none`, and finding it in typed input.

use std::fmt;
use std::str::FromStr;

/// The byte that detaches an attached client, or none (detaching by key disabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetachKey(Option<u8>);

impl DetachKey {
    /// Splits a chunk of typed input at the detach key: the bytes before it, and whether
    /// the key was pressed. Bytes after the key are dropped: the client is leaving.
    ///
    /// The key counts in every encoding a terminal may send it in: the plain control byte,
    /// the kitty keyboard protocol's `CSI code ; 5 u` (Ctrl plus the key's code point, with
    /// any lock modifiers, alternate keys, event type "press" and associated text), and
    /// xterm's modifyOtherKeys `CSI 27 ; 5 ; code ~`. A program that turned either on
    /// (neovim, helix, kakoune, fish 4) does not make the key dead.
    pub fn split(self, input: &[u8]) -> (&[u8], bool) {
        let Some(key) = self.0 else {
            return (input, false);
        };
        let code = key_code(key);
        let mut from = 0;
        while let Some(at) = memchr::memchr2(key, 0x1b, &input[from..]).map(|at| at + from) {
            if input[at] == key {
                return (&input[..at], true);
            }
            if code.is_some_and(|code| encodes_ctrl_key(&input[at..], code)) {
                return (&input[..at], true);
            }
            from = at + 1;
        }
        (input, false)
    }
}

/// The code point a key-reporting terminal gives Ctrl plus the key that sends `byte`.
fn key_code(byte: u8) -> Option<u32> {
    match byte {
        0 => Some(u32::from(b' ')),
        0x01..=0x1a => Some(u32::from(byte - 1 + b'a')),
        0x1b => Some(u32::from(b'[')),
        0x1c => Some(u32::from(b'\\')),
        0x1d => Some(u32::from(b']')),
        _ => None,
    }
}

/// Whether `bytes` start with Ctrl plus the key `code`, pressed, as the kitty keyboard
/// protocol (`CSI code[:alternates] ; mods[:event] [; text] u`) or modifyOtherKeys
/// (`CSI 27 ; mods ; code ~`) encode it. Only Ctrl counts among the modifiers, besides
/// Caps Lock and Num Lock.
fn encodes_ctrl_key(bytes: &[u8], code: u32) -> bool {
    let Some(rest) = bytes.strip_prefix(b"\x1b[") else {
        return false;
    };
    let end = rest
        .iter()
        .take(32)
        .position(|&byte| (0x40..=0x7e).contains(&byte));
    let Some(end) = end else {
        return false;
    };
    let Ok(params) = std::str::from_utf8(&rest[..end]) else {
        return false;
    };
    let fields: Vec<Vec<Option<u32>>> = params
        .split(';')
        .map(|field| field.split(':').map(|sub| sub.parse().ok()).collect())
        .collect();
    let number = |field: usize, sub: usize| fields.get(field).and_then(|f| f.get(sub)).copied();
    let ctrl_only = |mods: Option<Option<u32>>| {
        // 1 + a bit mask: Shift 1, Alt 2, Ctrl 4, Super 8, Hyper 16, Meta 32, Caps 64,
        // Num 128.
        matches!(mods, Some(Some(mods)) if mods >= 1 && (mods - 1) & !(64 | 128) == 4)
    };
    match rest[end] {
        b'u' => {
            let pressed = matches!(number(1, 1), None | Some(Some(1)) | Some(None));
            number(0, 0) == Some(Some(code)) && ctrl_only(number(1, 0)) && pressed
        }
        b'~' => {
            number(0, 0) == Some(Some(27))
                && ctrl_only(number(1, 0))
                && number(2, 0) == Some(Some(code))
        }
        _ => false,
    }
}

impl Default for DetachKey {
    /// Ctrl-\\ (0x1c), which hardly any program uses.
    fn default() -> Self {
        DetachKey(Some(0x1c))
    }
}

impl fmt::Display for DetachKey {
    /// The `ctrl-X` spelling, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("none"),
            Some(0) => f.write_str("ctrl-space"),
            Some(0x7f) => f.write_str("ctrl-?"),
            Some(byte) => write!(f, "ctrl-{}", char::from(byte + 0x40).to_ascii_lowercase()),
        }
    }
}

/// Why a detach key spelling was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDetachKey(String);

impl fmt::Display for BadDetachKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid detach key `{}`: use ctrl-X or ^X (e.g. ctrl-\\, ctrl-a, ^]) or none",
            self.0
        )
    }
}

impl std::error::Error for BadDetachKey {}

impl FromStr for DetachKey {
    type Err = BadDetachKey;

    fn from_str(spelling: &str) -> Result<Self, Self::Err> {
        let bad = || BadDetachKey(spelling.to_owned());
        let trimmed = spelling.trim();
        if trimmed.eq_ignore_ascii_case("none") || trimmed.eq_ignore_ascii_case("off") {
            return Ok(DetachKey(None));
        }
        let lower = trimmed.to_ascii_lowercase();
        let rest = ["ctrl-", "ctrl+", "c-", "^"]
            .iter()
            .find_map(|prefix| lower.strip_prefix(prefix))
            .ok_or_else(bad)?;
        let byte = if rest == "space" {
            0
        } else {
            let mut chars = rest.chars();
            let (Some(key), None) = (chars.next(), chars.next()) else {
                return Err(bad());
            };
            control_byte(key).ok_or_else(bad)?
        };
        Ok(DetachKey(Some(byte)))
    }
}

/// The byte a terminal sends for Ctrl plus `key` (already lowercased).
fn control_byte(key: char) -> Option<u8> {
    match key {
        'a'..='z' => Some(key as u8 - b'a' + 1),
        '@' => Some(0),
        '[' => Some(0x1b),
        '\\' => Some(0x1c),
        ']' => Some(0x1d),
        '^' => Some(0x1e),
        '_' => Some(0x1f),
        '?' => Some(0x7f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(spelling: &str) -> Option<u8> {
        spelling.parse::<DetachKey>().unwrap().0
    }

    #[test]
    fn parses_ctrl_and_caret_forms() {
        assert_eq!(key("ctrl-\\"), Some(0x1c));
        assert_eq!(key("^\\"), Some(0x1c));
        assert_eq!(key("ctrl-a"), Some(1));
        assert_eq!(key("Ctrl-A"), Some(1));
        assert_eq!(key("^A"), Some(1));
        assert_eq!(key("C-q"), Some(17));
        assert_eq!(key("ctrl+]"), Some(0x1d));
        assert_eq!(key("^]"), Some(0x1d));
        assert_eq!(key("^_"), Some(0x1f));
        assert_eq!(key("ctrl-space"), Some(0));
        assert_eq!(key("^?"), Some(0x7f));
        assert_eq!(key("none"), None);
    }

    #[test]
    fn default_is_ctrl_backslash() {
        assert_eq!(DetachKey::default().to_string(), "ctrl-\\");
    }

    #[test]
    fn every_key_prints_as_it_parses() {
        for spelling in ["ctrl-a", "ctrl-]", "ctrl-space", "ctrl-?", "ctrl-_", "none"] {
            let parsed: DetachKey = spelling.parse().unwrap();
            assert_eq!(parsed.to_string(), spelling);
        }
    }

    #[test]
    fn rejects_other_spellings() {
        for spelling in ["", "x", "ctrl-", "ctrl-ab", "^1", "alt-x", "ctrl-é"] {
            let err = spelling.parse::<DetachKey>().unwrap_err();
            assert!(
                err.to_string().starts_with("invalid detach key"),
                "{spelling}"
            );
        }
    }

    #[test]
    fn the_key_is_recognised_in_kitty_and_modify_other_keys_encodings() {
        let key: DetachKey = "ctrl-\\".parse().unwrap();
        for encoded in [
            &b"\x1b[92;5u"[..],
            b"\x1b[92;5:1u",
            b"\x1b[92;69u",
            b"\x1b[92:124;5u",
            b"\x1b[27;5;92~",
        ] {
            let mut input = b"ab".to_vec();
            input.extend_from_slice(encoded);
            input.extend_from_slice(b"cd");
            assert_eq!(key.split(&input), (&b"ab"[..], true), "{encoded:?}");
        }
        for other in [
            &b"\x1b[92;6u"[..],
            b"\x1b[92;5:3u",
            b"\x1b[93;5u",
            b"\x1b[27;5;93~",
            b"\x1b[92u",
            b"\x1b[1;5A",
        ] {
            assert_eq!(key.split(other), (other, false), "{other:?}");
        }
        let key: DetachKey = "ctrl-a".parse().unwrap();
        assert_eq!(key.split(b"x\x1b[97;5u"), (&b"x"[..], true));
    }

    #[test]
    fn split_stops_at_the_key() {
        let key: DetachKey = "ctrl-\\".parse().unwrap();
        assert_eq!(key.split(b"abc"), (&b"abc"[..], false));
        assert_eq!(key.split(b"ab\x1ccd"), (&b"ab"[..], true));
        assert_eq!(key.split(b"\x1c"), (&b""[..], true));
        assert_eq!(key.split(b""), (&b""[..], false));
    }

    #[test]
    fn disabled_key_never_detaches() {
        let key: DetachKey = "none".parse().unwrap();
        assert_eq!(key.split(b"a\x1cb"), (&b"a\x1cb"[..], false));
    }
}
