//! What the scenarios measured, per tool, and the medians the report shows.

use std::collections::BTreeMap;

use super::stats::{median, percentile};

/// One flood (throughput or fan-out) run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flood {
    /// File size over the time until the last client that showed the marker did;
    /// `None` when no client showed it.
    pub mib_per_s: Option<f64>,
    /// The smallest share of the file's bytes any client printed (a redrawing tool
    /// prints less; above 1 is the PTY's `\n` to `\r\n`).
    pub min_delivered: f64,
    /// fugue only: times a client fell behind (and got a resync instead of every byte).
    pub lag_events: Option<u64>,
    /// fugue only: output messages not queued for a lagging client.
    pub dropped: Option<u64>,
    /// fugue only: pacing waits that ran to their limit. With every client reading there
    /// should be none; each one stalled the output (a missed wake-up shows here first).
    pub pacing_timeouts: Option<u64>,
    /// Clients that never showed the end marker: the tool dropped output silently.
    pub lost_marker: usize,
    /// CPU time of the tool's server and clients until they are idle again, per MiB of
    /// the program's output and per client; `None` for raw.
    pub cpu_ms_per_mib: Option<f64>,
}

/// One memory run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    /// Server RSS with one idle session and one client, KiB.
    pub one_client_kib: u64,
    /// The anonymous part of that RSS (heap, stacks), KiB.
    pub one_client_anon_kib: u64,
    /// Server RSS with `n_clients` clients, KiB.
    pub many_clients_kib: u64,
    /// How many clients the second reading had.
    pub n_clients: usize,
}

impl Memory {
    /// RSS growth per additional client, KiB.
    pub fn per_client_kib(&self) -> f64 {
        let extra = self.n_clients.saturating_sub(1).max(1) as f64;
        (self.many_clients_kib as f64 - self.one_client_kib as f64) / extra
    }
}

/// One attach run, in milliseconds from starting the attach command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attach {
    /// The first byte on the terminal.
    pub first_byte_ms: Option<f64>,
    /// The last history line visible (screen restored).
    pub restored_ms: Option<f64>,
}

/// Everything measured for one tool.
#[derive(Debug, Clone, Default)]
pub struct ToolResults {
    /// Single-client throughput, one per run.
    pub throughput: Vec<Flood>,
    /// Echo round trips, microseconds.
    pub echo_us: Vec<f64>,
    /// Fan-out runs by client count.
    pub fanout: BTreeMap<usize, Vec<Flood>>,
    /// Memory runs.
    pub memory: Vec<Memory>,
    /// Attach runs.
    pub attach: Vec<Attach>,
    /// Upgrades (fugue).
    pub upgrades: Vec<super::scenarios::UpgradeGap>,
    /// Measurements that failed, with the reason.
    pub failures: Vec<String>,
    /// Things worth knowing about runs that did not fail (a client that lost output).
    pub notes: Vec<String>,
}

/// The medians of one tool's results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Median single-client MiB/s.
    pub throughput: Option<f64>,
    /// Smallest share of the throughput file one run delivered to its client (about 1.01
    /// when every byte arrived, as `\n` becomes `\r\n`).
    pub throughput_delivered: Option<f64>,
    /// Median CPU time of the tool's processes per MiB of the file, throughput runs, ms.
    pub throughput_cpu_ms_per_mib: Option<f64>,
    /// Echo p50, microseconds.
    pub echo_p50: Option<f64>,
    /// Echo p99, microseconds.
    pub echo_p99: Option<f64>,
    /// Median MiB/s by client count.
    pub fanout: BTreeMap<usize, f64>,
    /// Smallest delivered share over all runs, by client count.
    pub fanout_delivered: BTreeMap<usize, f64>,
    /// Median CPU time of the tool's processes per MiB of the file and per client, by
    /// client count, ms.
    pub fanout_cpu_ms_per_mib: BTreeMap<usize, f64>,
    /// Largest lag-event count over all runs, by client count (fugue).
    pub fanout_lag_events: BTreeMap<usize, u64>,
    /// Largest pacing-timeout count of any throughput or fan-out run (fugue).
    pub pacing_timeouts: Option<u64>,
    /// Most clients that lost the end marker in one run, by client count.
    pub fanout_lost: BTreeMap<usize, usize>,
    /// Median RSS with one client, KiB.
    pub rss_one_kib: Option<f64>,
    /// Median anonymous RSS with one client, KiB.
    pub rss_one_anon_kib: Option<f64>,
    /// Median RSS growth per extra client, KiB.
    pub rss_per_client_kib: Option<f64>,
    /// Median attach time to the first byte, ms.
    pub attach_first_ms: Option<f64>,
    /// Median attach time to the restored screen, ms.
    pub attach_restored_ms: Option<f64>,
    /// Longest a client waited for an echo during an upgrade: the median upgrade and the
    /// worst, ms (fugue).
    pub upgrade_gap_ms: Option<(f64, f64)>,
    /// Median `fugue upgrade` command time, ms.
    pub upgrade_command_ms: Option<f64>,
    /// Median echo outside upgrades in the same runs, microseconds.
    pub upgrade_echo_us: Option<f64>,
}

fn median_of<T>(items: &[T], value: impl Fn(&T) -> Option<f64>) -> Option<f64> {
    median(&items.iter().filter_map(value).collect::<Vec<_>>())
}

impl ToolResults {
    /// The medians (and percentiles, for echo).
    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            throughput: median_of(&self.throughput, |f| f.mib_per_s),
            throughput_delivered: self
                .throughput
                .iter()
                .map(|f| f.min_delivered)
                .reduce(f64::min),
            throughput_cpu_ms_per_mib: median_of(&self.throughput, |f| f.cpu_ms_per_mib),
            echo_p50: percentile(&self.echo_us, 50.0),
            echo_p99: percentile(&self.echo_us, 99.0),
            rss_one_kib: median_of(&self.memory, |m| Some(m.one_client_kib as f64)),
            rss_one_anon_kib: median_of(&self.memory, |m| Some(m.one_client_anon_kib as f64)),
            rss_per_client_kib: median_of(&self.memory, |m| Some(m.per_client_kib())),
            attach_first_ms: median_of(&self.attach, |a| a.first_byte_ms),
            attach_restored_ms: median_of(&self.attach, |a| a.restored_ms),
            upgrade_gap_ms: median_of(&self.upgrades, |u| Some(u.gap_ms)).map(|median| {
                let worst = self.upgrades.iter().map(|u| u.gap_ms).fold(0.0, f64::max);
                (median, worst)
            }),
            upgrade_command_ms: median_of(&self.upgrades, |u| Some(u.command_ms)),
            upgrade_echo_us: median_of(&self.upgrades, |u| Some(u.echo_us)),
            pacing_timeouts: self
                .throughput
                .iter()
                .chain(self.fanout.values().flatten())
                .filter_map(|f| f.pacing_timeouts)
                .max(),
            ..Summary::default()
        };
        for (&n, runs) in &self.fanout {
            if let Some(mib) = median_of(runs, |f| f.mib_per_s) {
                summary.fanout.insert(n, mib);
            }
            if let Some(cpu) = median_of(runs, |f| f.cpu_ms_per_mib) {
                summary.fanout_cpu_ms_per_mib.insert(n, cpu);
            }
            let delivered = runs.iter().map(|f| f.min_delivered).reduce(f64::min);
            if let Some(delivered) = delivered {
                summary.fanout_delivered.insert(n, delivered);
            }
            if let Some(lag) = runs.iter().filter_map(|f| f.lag_events).max() {
                summary.fanout_lag_events.insert(n, lag);
            }
            let lost = runs.iter().map(|f| f.lost_marker).max().unwrap_or(0);
            summary.fanout_lost.insert(n, lost);
        }
        summary
    }
}
