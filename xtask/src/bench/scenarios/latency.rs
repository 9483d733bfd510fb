//! Keystroke echo latency: a raw-mode `cat` in the session echoes each byte; one byte is
//! typed on the client's terminal and timed until it is printed back. Timing starts only
//! once the session's terminal and the client's are in raw mode without echo, so the
//! kernel's own echo (a few microseconds) is never what comes back.
//!
//! Each line holds at most [`LINE`] echoes of distinct characters, then the harness
//! blanks the line (untimed), so the terminal never wraps or scrolls and a redraw can
//! never show the awaited character early.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::bench::pty::Terminal;
use crate::bench::sandbox::Sandbox;
use crate::bench::scan::Scanner;
use crate::bench::tools::{Session, Tool};

use super::wait_for_file;

/// The characters typed, in turn; no two on one line are alike.
pub(super) const CYCLE: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Echoes per line before it is blanked.
pub(super) const LINE: usize = 60;
/// How long one echo may take before the run fails.
const ECHO_TIMEOUT: Duration = Duration::from_secs(5);

/// Times `round_trips` echoes through a session of `tool`; microseconds each.
///
/// # Errors
///
/// When the session or client fails or an echo does not come back.
pub fn echo(sandbox: &Sandbox, tool: Tool, round_trips: usize) -> anyhow::Result<Vec<f64>> {
    let dir = sandbox.new_dir()?;
    // The file shows that the terminal's own echo is off: from then on only `cat` echoes.
    let ready = dir.join("raw-mode");
    let script = format!("stty raw -echo; : > {}; exec cat", ready.display());
    let mut session = Session::start(sandbox, tool, dir, &script)?;
    let terminal = Terminal::spawn(session.attach())?;
    wait_for_file(&ready, Duration::from_secs(10))?;
    // The client's own terminal must not echo either (a client through ssh sets raw
    // mode only once logged in): the kernel's echo would come back first.
    wait_for_raw(&terminal, Duration::from_secs(30))?;
    wait_for_echo(&terminal, b"~", Duration::from_secs(30))?;
    let mut samples = Vec::with_capacity(round_trips);
    let mut buf = vec![0; 64 * 1024];
    for index in 0..round_trips {
        if index % LINE == 0 {
            blank_line(&terminal)?;
        }
        let byte = CYCLE[index % LINE % CYCLE.len()];
        let (_, took) = time_echo(&terminal, byte, &mut buf)?;
        samples.push(took.as_secs_f64() * 1e6);
    }
    drop(terminal);
    session.stop();
    Ok(samples)
}

/// Types `byte` and times its echo: when it was typed, and how long it took to come back.
///
/// # Errors
///
/// When the terminal fails or the echo does not come back within [`ECHO_TIMEOUT`].
pub(super) fn time_echo(
    terminal: &Terminal,
    byte: u8,
    buf: &mut [u8],
) -> anyhow::Result<(Instant, Duration)> {
    let mut scanner = Scanner::new([[byte]]);
    let start = Instant::now();
    terminal.type_bytes(&[byte])?;
    while !scanner.done() {
        let n = terminal.read_until(buf, start + ECHO_TIMEOUT)?;
        if n == 0 {
            bail!("an echo did not come back within {ECHO_TIMEOUT:?}");
        }
        scanner.feed(&buf[..n]);
    }
    Ok((start, start.elapsed()))
}

/// Waits until the client's terminal no longer echoes by itself.
fn wait_for_raw(terminal: &Terminal, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while terminal.echoes() {
        if Instant::now() >= deadline {
            bail!("the client did not put its terminal in raw mode within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Types `probe` until it comes back: the client is attached and the program runs.
pub(super) fn wait_for_echo(
    terminal: &Terminal,
    probe: &[u8],
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0; 64 * 1024];
    let mut scanner = Scanner::new([probe]);
    while Instant::now() < deadline {
        terminal.type_bytes(probe)?;
        let round = (Instant::now() + Duration::from_millis(300)).min(deadline);
        loop {
            let n = terminal.read_until(&mut buf, round)?;
            if n == 0 {
                break;
            }
            if scanner.feed(&buf[..n]) > 0 {
                return Ok(());
            }
        }
    }
    bail!("the session did not echo within {timeout:?}")
}

/// Blanks the line and returns to its start (the program echoes it), then waits until
/// the terminal is quiet.
fn blank_line(terminal: &Terminal) -> anyhow::Result<()> {
    let mut blank = vec![b'\r'];
    blank.extend(std::iter::repeat_n(b' ', LINE + 10));
    blank.push(b'\r');
    terminal.type_bytes(&blank)?;
    terminal.drain_until_quiet(Duration::from_millis(150))
}
