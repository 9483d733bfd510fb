//! CPU time of the tool's own processes during a flood: a steadier measure than the wall
//! clock on a shared machine, and the one a change to fugue's forwarding path moves.
//!
//! It is read from `/proc/PID/task/*/schedstat` (nanoseconds on a CPU, kernel and user,
//! per thread), summed over the threads alive when it is read; a flood is measured between
//! two readings while the server, its screen-model threads and the clients all run. The
//! second waits until the processes have gone idle, so work a tool does once the output
//! has stopped (fugue's screen model catches up then) counts too.

use std::path::Path;
use std::time::{Duration, Instant};

/// How often [`settled_cpu`] looks.
const SETTLE_STEP: Duration = Duration::from_millis(100);
/// CPU time per [`SETTLE_STEP`] below which the processes count as idle.
const IDLE_CPU: Duration = Duration::from_millis(2);
/// The longest [`settled_cpu`] waits.
const SETTLE_LIMIT: Duration = Duration::from_secs(3);

/// Time on a CPU so far of every live thread of process `pid`; `None` if the process is
/// gone. A thread that ends while they are read is left out.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let tasks = Path::new("/proc").join(pid.to_string()).join("task");
    let total = std::fs::read_dir(tasks)
        .ok()?
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|schedstat| on_cpu_ns(&schedstat))
        .sum();
    Some(Duration::from_nanos(total))
}

/// Time on a CPU of all of `pids` together; `None` if any cannot be read.
pub fn total_cpu(pids: &[u32]) -> Option<Duration> {
    pids.iter().map(|&pid| process_cpu(pid)).sum()
}

/// [`total_cpu`] once `pids` have used less than [`IDLE_CPU`] in a [`SETTLE_STEP`] (or
/// after [`SETTLE_LIMIT`]).
pub fn settled_cpu(pids: &[u32]) -> Option<Duration> {
    let limit = Instant::now() + SETTLE_LIMIT;
    let mut last = total_cpu(pids)?;
    while Instant::now() < limit {
        std::thread::sleep(SETTLE_STEP);
        let now = total_cpu(pids)?;
        if now.saturating_sub(last) < IDLE_CPU {
            return Some(now);
        }
        last = now;
    }
    Some(last)
}

/// The first field of a `schedstat` line: nanoseconds spent on a CPU.
fn on_cpu_ns(schedstat: &str) -> Option<u64> {
    schedstat.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_time_on_cpu() {
        assert_eq!(on_cpu_ns("605056 0 1\n"), Some(605_056));
        assert_eq!(on_cpu_ns(""), None);
        let mine = process_cpu(std::process::id()).expect("own schedstat");
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        let later = process_cpu(std::process::id()).expect("own schedstat");
        assert!(later > mine, "{later:?} after {mine:?}");
        assert_eq!(total_cpu(&[]), Some(Duration::ZERO));
        assert_eq!(total_cpu(&[u32::MAX]), None, "no such process");
    }
}
