//! Output throughput (one client) and fan-out (many clients): the session cats a file,
//! then prints a marker; the time runs from the trigger until every client shows the
//! marker.
//!
//! The session waits for a `go` line before it starts, so attaching is not timed: the
//! harness first gets every client attached (the `PONG` handshake), then types `go`.
//! A tool that drops what a slow client cannot take may drop the marker too, or cut an
//! escape sequence so that the terminal swallows the marker into it: once no client has
//! printed anything for [`QUIET`], the clients still without an intact marker are counted
//! as having lost the end of the output (a silent hole), and the time is that of the
//! last client that did show it.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};

use crate::bench::clients::{Clients, PONG};
use crate::bench::cpu::{settled_cpu, total_cpu};
use crate::bench::drain::printable;
use crate::bench::results::Flood;
use crate::bench::sandbox::Sandbox;
use crate::bench::tools::{Session, Tool};

/// Printed after the file. The script prints it in two pieces, so no command line that
/// a tool might display contains it whole.
pub const MARKER: &str = "@END-OF-BENCH-RUN";

/// How long a flood may take before it counts as failed.
const FLOOD_TIMEOUT: Duration = Duration::from_secs(240);
/// How long attaching may take.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// No output for this long ends a flood: a client without the marker lost it.
const QUIET: Duration = Duration::from_secs(3);
/// Let the handshake's output settle before the trigger.
const SETTLE: Duration = Duration::from_millis(300);

/// The session's program: answers each line with [`PONG`] until a `go` line, then cats
/// `file`, prints [`MARKER`] and idles.
pub(super) fn script(file: &Path) -> String {
    format!(
        "while read -r x; do [ \"$x\" = go ] && break; echo PO\"\"NG; done; cat {}; \
         printf '%s%s\\n' '@END-OF-' 'BENCH-RUN'; exec sleep 100000",
        file.display()
    )
}

/// Cats `file` (`size` bytes) in a session of `tool` with `n_clients` clients; with a
/// note saying what a client that lost the end printed last.
///
/// # Errors
///
/// When the session or a client fails, or the marker does not arrive in time.
pub fn flood(
    sandbox: &Sandbox,
    tool: Tool,
    file: &Path,
    size: usize,
    n_clients: usize,
) -> anyhow::Result<(Flood, Option<String>)> {
    ensure!(
        n_clients == 1 || tool.has_server(),
        "{} takes one client",
        tool.name()
    );
    let dir = sandbox.new_dir()?;
    let mut session = Session::start(sandbox, tool, dir, &script(file))?;
    let mut clients = Clients::new(&[PONG, MARKER]);
    for _ in 0..n_clients {
        clients.spawn(session.attach())?;
    }
    clients.wait_ready(READY_TIMEOUT)?;
    std::thread::sleep(SETTLE);

    // The tool's own processes: its server (none for raw) and every client.
    let tool_pids: Vec<u32> = if tool.has_server() {
        let mut pids = vec![session.server_pid(READY_TIMEOUT)?];
        pids.extend(clients.pids());
        pids
    } else {
        Vec::new()
    };
    let cpu_before = total_cpu(&tool_pids);
    let before = clients.bytes();
    let start = Instant::now();
    clients.type_on(0, b"go\r")?;
    let arrivals = clients.wait_found_or_quiet(1, start + FLOOD_TIMEOUT, QUIET);
    let after = clients.bytes();
    let cpu_after = settled_cpu(&tool_pids);
    let lost_marker = arrivals.iter().filter(|at| at.is_none()).count();
    let last = arrivals.iter().flatten().max().copied();
    if last.is_none() && start.elapsed() >= FLOOD_TIMEOUT {
        bail!("no client showed the end marker within {FLOOD_TIMEOUT:?}");
    }
    let mib_per_s = last.map(|last| {
        let seconds = last.duration_since(start).as_secs_f64().max(1e-6);
        size as f64 / (1024.0 * 1024.0) / seconds
    });
    let min_delivered = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a - b) as f64 / size as f64)
        .fold(f64::INFINITY, f64::min);
    let status = session.fugue_status();
    let counter = |key: &str| {
        status
            .as_ref()
            .and_then(|s| s.get(key))
            .and_then(serde_json::Value::as_u64)
    };
    let result = Flood {
        mib_per_s,
        min_delivered,
        lag_events: counter("lag_events"),
        dropped: counter("messages_dropped"),
        pacing_timeouts: counter("pacing_timeouts"),
        cpu_ms_per_mib: match (cpu_before, cpu_after) {
            (Some(before), Some(after)) if tool.has_server() => {
                let mib = n_clients as f64 * size as f64 / (1024.0 * 1024.0);
                Some(after.saturating_sub(before).as_secs_f64() * 1000.0 / mib)
            }
            _ => None,
        },
        lost_marker,
    };
    let tails = clients.close();
    let note = arrivals.iter().position(Option::is_none).map(|index| {
        format!(
            "{lost_marker} of {n_clients} clients lost the end; client {index} last printed `{}`",
            printable(&tails[index]).replace('`', "\\x60")
        )
    });
    session.stop();
    Ok((result, note))
}
