//! Attach time: a session has printed 10,000 lines; the time from starting the attach
//! command to its first byte on the terminal, and to the restored screen (the last
//! line visible).
//!
//! `raw` is the floor: `tail` of the same lines, started the same way.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::bench::clients::Clients;
use crate::bench::results::Attach;
use crate::bench::sandbox::Sandbox;
use crate::bench::tools::{Session, Tool};

use super::wait_for_file;

/// How long the attach may take to show the restored screen.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(5);
/// Let the server finish taking in the history before attaching.
const SETTLE: Duration = Duration::from_millis(500);

/// The format of history lines; line N contains `L<N>E`, which no other line does.
pub const LINE_FORMAT: &str = "L%gE the quick brown fox jumps over the lazy dog";

/// Attaches to a session of `tool` that printed `lines` lines (`history` holds the same
/// lines, for `raw`).
///
/// # Errors
///
/// When the session fails or the history is not printed in time.
pub fn attach(
    sandbox: &Sandbox,
    tool: Tool,
    lines: usize,
    history: &Path,
) -> anyhow::Result<Attach> {
    let dir = sandbox.new_dir()?;
    let done = dir.join("done");
    let script = if tool == Tool::Raw {
        format!("exec tail -n 40 {}", history.display())
    } else {
        format!(
            "seq -f '{LINE_FORMAT}' 1 {lines}; : > {}; exec sleep 100000",
            done.display()
        )
    };
    let mut session = Session::start(sandbox, tool, dir, &script)?;
    if tool != Tool::Raw {
        wait_for_file(&done, Duration::from_secs(30))?;
        std::thread::sleep(SETTLE);
    }
    let last_line = format!("L{lines}E");
    let mut clients = Clients::new(&[last_line.as_str()]);
    let start = Instant::now();
    clients.spawn(session.attach())?;
    let deadline = start + RESTORE_TIMEOUT;
    let restored = clients.wait_found(0, deadline).ok().map(|at| at[0]);
    let first = clients.first_byte(0, deadline);
    let ms = |at: Option<Instant>| at.map(|at| at.duration_since(start).as_secs_f64() * 1e3);
    clients.close();
    session.stop();
    Ok(Attach {
        first_byte_ms: ms(first),
        restored_ms: ms(restored),
    })
}
