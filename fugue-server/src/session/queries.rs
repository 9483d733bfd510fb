//! Terminal queries and their replies: with several terminals attached, a program's query
//! (`CSI c`, `CSI 6 n`, `OSC 11;?`, `CSI ? u`, XTVERSION, DECRQM, …) reaches every one of
//! them, and every one answers. Only one may: the interactive client the PTY's size
//! follows when the query goes out (the session task notes it, from `scan.rs`). Replies
//! from the others are cut out of their input here; what else they type goes on.
//!
//! Replies are recognised by shape: sequences a keyboard never sends (DA, DSR and window
//! reports, kitty flags, DECRPM, any OSC or DCS string), and the cursor position report
//! `CSI row ; col R`, which looks like xterm's Shift/Ctrl-F3 (`CSI 1 ; mods R`): such an
//! F3 from a terminal that is not answering is dropped too.

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

/// Whether `CSI params final` (parameters with their private marker and intermediates) is
/// a query that terminals answer.
pub(super) fn csi_is_query(params: &[u8], final_byte: u8) -> bool {
    let marker = params
        .first()
        .copied()
        .filter(|byte| b"<=>?".contains(byte));
    let has_dollar = params.contains(&b'$');
    let first_number = || {
        let digits = params.iter().skip(usize::from(marker.is_some()));
        let digits: Vec<u8> = digits.take_while(|b| b.is_ascii_digit()).copied().collect();
        std::str::from_utf8(&digits)
            .ok()
            .and_then(|n| n.parse::<u16>().ok())
    };
    match final_byte {
        // DA1 (`CSI c`, `CSI 0 c`), DA2 (`CSI > c`), DA3 (`CSI = c`).
        b'c' => matches!(marker, None | Some(b'>' | b'=')) && first_number().unwrap_or(0) == 0,
        // DSR (`CSI 5 n`, `CSI 6 n`, `CSI ? 6 n`, …); `CSI > … n` is a reset, not a query.
        b'n' => marker != Some(b'>'),
        // Kitty keyboard flags.
        b'u' => marker == Some(b'?'),
        // XTVERSION.
        b'q' => marker == Some(b'>'),
        // DECRQM.
        b'p' => has_dollar,
        // Window reports: size, position, title.
        b't' => marker.is_none() && matches!(first_number(), Some(11 | 13..=21)),
        // DECREQTPARM.
        b'x' => marker.is_none() && !has_dollar,
        // XTQMODKEYS (`CSI ? 4 m`).
        b'm' => marker == Some(b'?'),
        _ => false,
    }
}

/// Whether an OSC string (without its introducer and terminator) asks for a reply: a
/// colour (`4;N;?`, `10;?`, `11;?`, …) or the clipboard (`52;c;?`).
pub(super) fn osc_is_query(osc: &[u8]) -> bool {
    osc.ends_with(b";?")
}

/// Whether the start of a DCS string asks for a reply: DECRQSS (`$q`), XTGETTCAP (`+q`).
pub(super) fn dcs_is_query(head: &[u8]) -> bool {
    head.starts_with(b"$q") || head.starts_with(b"+q")
}

/// `data` without the terminal replies in it, or `None` if it holds none. A reply cut
/// between two reads is left as it is (terminals write each reply whole).
pub(super) fn strip_replies(data: &[u8]) -> Option<Vec<u8>> {
    let mut kept: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut at = 0;
    while let Some(skip) = memchr::memchr(ESC, &data[at..]) {
        let start = at + skip;
        match reply_len(&data[start..]) {
            Some(len) => {
                let out = kept.get_or_insert_with(|| Vec::with_capacity(data.len()));
                out.extend_from_slice(&data[copied..start]);
                copied = start + len;
                at = copied;
            }
            None => at = start + 1,
        }
    }
    let mut out = kept?;
    out.extend_from_slice(&data[copied..]);
    Some(out)
}

/// The length of the reply at the start of `bytes` (which start with ESC), if it is one.
fn reply_len(bytes: &[u8]) -> Option<usize> {
    match bytes.get(1)? {
        b'[' => {
            let body = &bytes[2..];
            let end = body
                .iter()
                .take(64)
                .position(|b| (0x40..=0x7e).contains(b))?;
            let params = &body[..end];
            csi_is_reply(params, body[end]).then_some(2 + end + 1)
        }
        // OSC (ends with BEL or ST), DCS and APC (a kitty graphics reply; end with ST).
        b']' | b'P' | b'_' => {
            let body = &bytes[2..];
            let end = body
                .iter()
                .take(4096)
                .enumerate()
                .find_map(|(i, &b)| match b {
                    BEL if bytes[1] == b']' => Some(i + 1),
                    ESC if body.get(i + 1) == Some(&b'\\') => Some(i + 2),
                    _ => None,
                })?;
            Some(2 + end)
        }
        _ => None,
    }
}

/// Whether `CSI params final`, read from a terminal, is a reply rather than a key.
fn csi_is_reply(params: &[u8], final_byte: u8) -> bool {
    let marker = params
        .first()
        .copied()
        .filter(|byte| b"<=>?".contains(byte));
    match final_byte {
        b'c' => matches!(marker, Some(b'?' | b'>' | b'=')),
        b'R' => params.contains(&b';'),
        b'n' | b't' | b'x' => marker.is_none_or(|marker| marker == b'?'),
        b'u' => marker == Some(b'?'),
        b'y' => params.contains(&b'$'),
        // XTQMODKEYS's reply.
        b'm' => marker == Some(b'>'),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_told_from_other_sequences() {
        for (params, final_byte) in [
            (&b""[..], b'c'),
            (b"0", b'c'),
            (b">", b'c'),
            (b"6", b'n'),
            (b"?6", b'n'),
            (b"?", b'u'),
            (b">", b'q'),
            (b"?2026$", b'p'),
            (b"18", b't'),
        ] {
            assert!(csi_is_query(params, final_byte), "{params:?} {final_byte}");
        }
        for (params, final_byte) in [
            (&b"1;31"[..], b'm'),
            (b">4;1", b'm'),
            (b">4", b'n'),
            (b">1", b'u'),
            (b"<1", b'u'),
            (b"2 ", b'q'),
            (b"22;0", b't'),
            (b"8;24;80", b't'),
        ] {
            assert!(!csi_is_query(params, final_byte), "{params:?} {final_byte}");
        }
        assert!(osc_is_query(b"11;?") && osc_is_query(b"4;1;?"));
        assert!(!osc_is_query(b"2;title?x"));
        assert!(dcs_is_query(b"$qm") && !dcs_is_query(b"1$r"));
    }

    #[test]
    fn replies_are_cut_out_and_keys_kept() {
        let input = b"a\x1b[?1;2c\x1b[12;40Rb\x1b]11;rgb:0000/0000/0000\x1b\\\x1bP>|tmux 3.3\x1b\\\
                      \x1b[A\x1b[?1u\x1b[?2026;2$y\x1b[200~p\x1b[201~\x1b[I\x1b[<0;1;1M\x1b[97;5uc";
        let kept = strip_replies(input).expect("replies found");
        assert_eq!(
            kept,
            b"ab\x1b[A\x1b[200~p\x1b[201~\x1b[I\x1b[<0;1;1M\x1b[97;5uc"
        );
        assert_eq!(strip_replies(b"plain \x1b[A keys\x1b[1;5A"), None);
        // A reply cut between two reads stays.
        assert_eq!(strip_replies(b"x\x1b[?1;2"), None);
    }
}
