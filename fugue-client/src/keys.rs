//! The detach key: parsing `ctrl-X` / `^X` / `none`, and finding it in typed input.

use std::fmt;
use std::str::FromStr;

/// The byte that detaches an attached client, or none (detaching by key disabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetachKey(Option<u8>);

impl DetachKey {
    /// Splits a chunk of typed input at the detach key: the bytes before it, and whether
    /// the key was pressed. Bytes after the key are dropped: the client is leaving.
    pub fn split(self, input: &[u8]) -> (&[u8], bool) {
        let position = self
            .0
            .and_then(|key| input.iter().position(|&byte| byte == key));
        match position {
            Some(index) => (&input[..index], true),
            None => (input, false),
        }
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
