//! Where a command's output starts and ends in its session's rendered output stream.

use crate::plain::Piece;

/// Where the command's output is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the command line's echo ends.
    Echo,
    /// Collecting output.
    Output,
}

/// How this run recognises the command's end.
pub(super) struct Framing {
    /// The token of the typed mark; `None` when the shell marks commands itself.
    pub(super) token: Option<String>,
}

impl Framing {
    /// Whether a `D` mark with these parameters ends the command; its status if so.
    pub(super) fn finished(&self, params: &str) -> Option<i32> {
        let mut fields = params.split(';');
        let status = fields.next()?.trim().parse().ok()?;
        match &self.token {
            None => Some(status),
            Some(token) => fields
                .any(|field| field.strip_prefix("fugue=") == Some(token.as_str()))
                .then_some(status),
        }
    }

    /// Whether `line` (of the echo) shows the typed mark, after which the echo ends.
    pub(super) fn echo_done(&self, line: &str) -> bool {
        self.token
            .as_ref()
            .is_none_or(|token| line.contains(&format!("fugue={token}")))
    }
}

/// Cuts the command's output out of the rendered stream.
pub(super) struct Cutter<'a> {
    framing: &'a Framing,
    phase: Phase,
    /// Characters of the next line that came before a `C` mark (echo, not output).
    skip: usize,
    /// Whether output goes straight on: after a `C` mark, which says exactly where it
    /// starts. Until then lines are held: a shell may redraw its command line (with a
    /// typed mark, the echo is over only at the last line that shows the token), and a
    /// `C` mark, if one comes, says the held lines were echo.
    streaming: bool,
    held: Vec<String>,
}

impl<'a> Cutter<'a> {
    pub(super) fn new(framing: &'a Framing) -> Self {
        Cutter {
            framing,
            phase: Phase::Echo,
            skip: 0,
            streaming: false,
            held: Vec::new(),
        }
    }

    /// Takes the next piece; what it means once the command has ended.
    pub(super) fn piece(&mut self, piece: Piece, on_output: &mut impl FnMut(&str)) -> Option<Step> {
        let typed = self.framing.token.is_some();
        match (self.phase, piece) {
            // The echo of the typed line ends with the last line showing the token: a shell
            // may redraw its line (fish does), so what came after an earlier one is not
            // output yet. (A `set -x` trace of the mark looks like one too.)
            (_, Piece::Line(line)) if typed && self.framing.echo_done(&line) => {
                self.held.clear();
                self.phase = Phase::Output;
            }
            (Phase::Echo, Piece::Line(_)) if !typed => self.phase = Phase::Output,
            (_, Piece::Mark('C', _, rest)) if !typed => {
                self.skip = rest.chars().count();
                self.held.clear();
                self.streaming = true;
                self.phase = Phase::Output;
            }
            // A secondary prompt (`k=s`, which fugue's integration puts in PS2).
            (_, Piece::Mark('A', params, _)) if params.split(';').any(|p| p == "k=s") => {
                return Some(Step::Incomplete);
            }
            (Phase::Output, Piece::Line(line)) if self.streaming => {
                let skip = std::mem::take(&mut self.skip);
                let line = line
                    .char_indices()
                    .nth(skip)
                    .map_or("", |(at, _)| &line[at..]);
                on_output(line);
                on_output("\n");
            }
            (Phase::Output, Piece::Line(line)) => self.held.push(line),
            (Phase::Output, Piece::Mark('D', params, rest)) => {
                let status = self.framing.finished(&params)?;
                for line in self.held.drain(..) {
                    on_output(&line);
                    on_output("\n");
                }
                if !rest.trim().is_empty() {
                    on_output(&rest);
                }
                return Some(Step::Finished(status));
            }
            _ => {}
        }
        None
    }
}

/// What a piece ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// The command finished with this status.
    Finished(i32),
    /// The shell asked for more: the line was not a whole command.
    Incomplete,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plain::Plain;

    fn cut(framing: &Framing, chunks: &[&[u8]]) -> (String, Option<i32>) {
        let (output, step) = cut_steps(framing, chunks);
        match step {
            Some(Step::Finished(status)) => (output, Some(status)),
            _ => (output, None),
        }
    }

    fn cut_steps(framing: &Framing, chunks: &[&[u8]]) -> (String, Option<Step>) {
        let mut plain = Plain::default();
        let mut cutter = Cutter::new(framing);
        let mut output = String::new();
        for chunk in chunks {
            let mut pieces = Vec::new();
            plain.feed(chunk, &mut pieces);
            for piece in pieces {
                if let Some(step) = cutter.piece(piece, &mut |text| output.push_str(text)) {
                    return (output, Some(step));
                }
            }
        }
        (output, None)
    }

    #[test]
    fn marks_frame_the_output() {
        let shell = Framing { token: None };
        let bash: &[&[u8]] = &[
            b"ls\r\n\x1b]133;C\x07a\r\n",
            b"b\r\n\x1b]133;D;2\x07\x1b]133;A\x07$ ",
        ];
        assert_eq!(cut(&shell, bash), ("a\nb\n".into(), Some(2)));
        // Typed before the prompt: the terminal's echo, then the shell's, then `C`.
        let early: &[&[u8]] = &[b"ls\r\n$ ls\r\n\x1b]133;C\x07a\r\n\x1b]133;D;0\x07"];
        assert_eq!(cut(&shell, early), ("a\n".into(), Some(0)));
        // sh: no C mark; the echo's line feed starts the output; a last line without one.
        let sh: &[&[u8]] = &[b"printf x\r\n", b"x\x1b]133;D;0\x07# "];
        assert_eq!(cut(&shell, sh), ("x".into(), Some(0)));
    }

    #[test]
    fn a_typed_mark_skips_redrawn_echo_lines() {
        let framing = Framing {
            token: Some("t1".into()),
        };
        let echo = b"$ eval 'ls'; printf '\\033]133;D;%s;fugue=t1' \"$?\"\r\n";
        let stream: &[&[u8]] = &[
            echo,
            b"\r\n",
            echo,
            b"out\r\n\x1b]133;D;0\x07x\x1b]133;D;5;fugue=t1\x07$ ",
        ];
        assert_eq!(cut(&framing, stream), ("out\nx".into(), Some(5)));
    }

    #[test]
    fn a_continuation_prompt_means_the_command_was_incomplete() {
        let shell = Framing { token: None };
        let stream: &[&[u8]] = &[b"echo 'x\r\n\x1b]133;A;k=s\x07> "];
        assert_eq!(cut_steps(&shell, stream).1, Some(Step::Incomplete));
    }
}
