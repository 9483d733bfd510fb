//! The local terminal: raw mode with guaranteed restore, its size, and the reset sequence
//! that leaves it usable after an attach.
//!
//! The saved settings also sit in a process-wide slot that a panic hook reads, so even a
//! panic restores the terminal before its message is printed.

use std::io::{self, IsTerminal};
use std::sync::{Mutex, Once, PoisonError};

use fugue_client::TermSize;

use crate::modes::{Kitty, ScreenModes};
use rustix::termios::{OptionalActions, Termios, tcgetattr, tcgetwinsize, tcsetattr};

/// Settings to restore if the process panics while in raw mode.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

/// Resets what a program may have left on: cursor hidden, colours, mouse reporting (and
/// its encodings), bracketed paste, focus reporting, synchronized output, application
/// cursor keys and keypad, xterm's modifyOtherKeys, and the cursor's shape.
const RESET_MODES: &str = "\x1b[?25h\x1b[0m\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\
\x1b[?1006l\x1b[?1015l\x1b[?1016l\x1b[?2004l\x1b[?1004l\x1b[?2026l\x1b[?1l\x1b>\x1b[>4;0m\x1b[0 q";

/// Leaves the alternate screen (and restores the cursor saved on entering it).
const LEAVE_ALT_SCREEN: &str = "\x1b[?1049l";

/// Whether standard input is a terminal.
pub fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

/// The terminal's size, from standard input, else standard output; `None` if neither is a
/// terminal or the size is unknown (zero).
pub fn terminal_size() -> Option<TermSize> {
    let winsize = tcgetwinsize(io::stdin()).or_else(|_| tcgetwinsize(io::stdout()));
    let winsize = winsize.ok()?;
    let size = TermSize {
        rows: winsize.ws_row,
        cols: winsize.ws_col,
    };
    (size.rows > 0 && size.cols > 0).then_some(size)
}

/// What to write after an attach so the user's shell is usable again: the alternate
/// screen's keyboard flags popped, the alternate screen left, the main screen's keyboard
/// flags popped, then every other mode reset.
pub fn reset_sequence(modes: &ScreenModes) -> String {
    let [main, alt] = modes.kitty();
    let mut reset = String::new();
    if modes.alt_screen() {
        reset.push_str(&undo_kitty(alt));
        reset.push_str(LEAVE_ALT_SCREEN);
    }
    reset.push_str(&undo_kitty(main));
    reset.push_str(RESET_MODES);
    reset
}

/// Pops what was pushed onto one screen's kitty keyboard stack, and clears flags set in
/// place (`CSI = 0 ; 1 u`: flags 0 on what is then the top).
fn undo_kitty(kitty: Kitty) -> String {
    let mut undo = String::new();
    if kitty.pushed > 0 {
        undo.push_str(&format!("\x1b[<{}u", kitty.pushed));
    }
    if kitty.set {
        undo.push_str("\x1b[=0;1u");
    }
    undo
}

/// Standard output without the standard library's line buffering.
///
/// `std::io::Stdout` is a `LineWriter`: it cuts every write after its last newline and
/// holds the rest, which then goes out as a second, tiny write. Terminal output is mostly
/// lines, so that doubled the writes to the terminal, each one a wake-up for whatever reads
/// it. This writes each buffer with one `write(2)` on file descriptor 1; put a `BufWriter`
/// in front of it.
#[derive(Debug, Default)]
pub struct RawStdout;

impl io::Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        rustix::io::write(io::stdout(), buf).map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Standard input in raw mode for as long as this guard lives; dropping it restores the
/// settings found when it was made.
#[derive(Debug)]
pub struct RawMode {
    _private: (),
}

impl RawMode {
    /// Switches standard input's terminal to raw mode.
    ///
    /// # Errors
    ///
    /// When standard input is not a terminal or its settings cannot be changed.
    pub fn enable() -> io::Result<RawMode> {
        install_panic_hook();
        let original = tcgetattr(io::stdin())?;
        let mut raw = original.clone();
        raw.make_raw();
        *lock_saved() = Some(original);
        if let Err(err) = tcsetattr(io::stdin(), OptionalActions::Now, &raw) {
            lock_saved().take();
            return Err(err.into());
        }
        Ok(RawMode { _private: () })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore_saved();
    }
}

fn lock_saved() -> std::sync::MutexGuard<'static, Option<Termios>> {
    SAVED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Restores the saved settings, once; later calls do nothing.
fn restore_saved() {
    if let Some(original) = lock_saved().take() {
        // Nothing sensible is left to do if the terminal is gone.
        let _ = tcsetattr(io::stdin(), OptionalActions::Now, &original);
    }
}

/// Makes panics restore the terminal before the default hook prints the message.
fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_saved();
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_leaves_alt_screen_only_when_on_it() {
        let mut modes = ScreenModes::default();
        assert!(!reset_sequence(&modes).contains("1049"));
        assert!(reset_sequence(&modes).contains("\x1b[?25h"));
        assert!(
            !reset_sequence(&modes).contains("u"),
            "no kitty pop unless pushed"
        );
        modes.observe(b"\x1b[>1u\x1b[?1049h\x1b[>3u\x1b[>1u\x1b[=2;1u");
        let reset = reset_sequence(&modes);
        assert!(
            reset.starts_with("\x1b[<2u\x1b[=0;1u\x1b[?1049l\x1b[<1u\x1b[?25h"),
            "{reset:?}"
        );
    }
}
