//! The targets for fugue, read off the medians: each with what was measured and
//! whether it is met. The bench only reports; nothing here fails a build.

use std::collections::BTreeMap;

use super::results::Summary;
use super::stats::ratio;
use super::tools::Tool;

/// One target and where fugue stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The target, as the issue states it.
    pub goal: &'static str,
    /// What was measured (with the reference it is compared to).
    pub measured: String,
    /// Met, missed, or `None` when a number is missing.
    pub met: Option<bool>,
}

/// The share of the file that counts as all of it (`\n` to `\r\n` makes a whole delivery
/// about 1.01).
const WHOLE: f64 = 0.999;

fn x(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.2}x"))
}

fn num(value: Option<f64>, unit: &str) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v < 10.0 => format!("{v:.1} {unit}"),
        Some(v) => format!("{v:.0} {unit}"),
    }
}

/// The targets, from each tool's summary (fugue's, raw's and the peers').
pub fn targets(summaries: &BTreeMap<Tool, Summary>) -> Vec<Target> {
    let none = Summary::default();
    let get = |tool| summaries.get(&tool).unwrap_or(&none);
    let (fugue, raw, tmux) = (get(Tool::Fugue), get(Tool::Raw), get(Tool::Tmux));
    let at_least = |value: Option<f64>, bound: f64| value.map(|v| v >= bound);
    let mut out = Vec::new();

    let vs_raw = ratio(fugue.throughput, raw.throughput);
    // A run that skipped part of the file (a lagging client resynced) is not counted as
    // fast: the target is for every byte delivered.
    let whole = fugue.throughput_delivered.map(|d| d >= WHOLE);
    out.push(Target {
        goal: "throughput >= 0.9x raw, every byte delivered",
        measured: format!(
            "{} ({} vs {}; least delivered {})",
            x(vs_raw),
            num(fugue.throughput, "MiB/s"),
            num(raw.throughput, "MiB/s"),
            fugue
                .throughput_delivered
                .map_or("-".to_owned(), |d| format!("{d:.2}")),
        ),
        met: at_least(vs_raw, 0.9).map(|fast| fast && whole != Some(false)),
    });
    let vs_tmux = ratio(fugue.throughput, tmux.throughput);
    out.push(Target {
        goal: "throughput >= 3x tmux",
        measured: format!("{} tmux ({})", x(vs_tmux), num(tmux.throughput, "MiB/s")),
        met: at_least(vs_tmux, 3.0),
    });
    let fan32 = fugue.fanout.get(&32).copied();
    let fan_raw = ratio(fan32, raw.throughput);
    let lag = fugue.fanout_lag_events.get(&32).copied();
    out.push(Target {
        goal: "32 clients >= 0.5x raw, every byte or a resync",
        measured: format!(
            "{} raw, {} tmux ({}; {} lag events)",
            x(fan_raw),
            x(ratio(fan32, tmux.fanout.get(&32).copied())),
            num(fan32, "MiB/s"),
            lag.map_or("-".to_owned(), |n| n.to_string()),
        ),
        met: at_least(fan_raw, 0.5),
    });
    let echo_raw = ratio(fugue.echo_p50, raw.echo_p50);
    out.push(Target {
        goal: "echo p50 <= 1.5x raw",
        measured: format!(
            "{} ({} vs {})",
            x(echo_raw),
            num(fugue.echo_p50, "us"),
            num(raw.echo_p50, "us")
        ),
        met: echo_raw.map(|r| r <= 1.5),
    });
    let peers: Vec<f64> = [Tool::Tmux, Tool::Screen, Tool::Dtach]
        .iter()
        .filter_map(|tool| summaries.get(tool)?.echo_p50)
        .collect();
    let best_peer = peers.iter().copied().reduce(f64::min);
    out.push(Target {
        goal: "echo p50 below every peer",
        measured: format!(
            "{} vs best peer {}",
            num(fugue.echo_p50, "us"),
            num(best_peer, "us")
        ),
        met: fugue.echo_p50.zip(best_peer).map(|(f, p)| f < p),
    });
    out.push(Target {
        goal: "echo p99 <= tmux's",
        measured: format!(
            "{} vs {}",
            num(fugue.echo_p99, "us"),
            num(tmux.echo_p99, "us")
        ),
        met: fugue.echo_p99.zip(tmux.echo_p99).map(|(f, t)| f <= t),
    });
    out.push(Target {
        goal: "server RSS, 1 session + 1 client <= 2 MiB",
        measured: match (fugue.rss_one_kib, fugue.rss_one_anon_kib) {
            (Some(kib), Some(anon)) => format!(
                "{:.1} MiB, of which {:.1} MiB anonymous (the rest: pages of the binary and libc)",
                kib / 1024.0,
                anon / 1024.0
            ),
            (Some(kib), None) => format!("{:.1} MiB", kib / 1024.0),
            (None, _) => "-".to_owned(),
        },
        met: fugue.rss_one_kib.map(|kib| kib <= 2048.0),
    });
    out.push(Target {
        goal: "<= 64 KiB per additional idle client",
        measured: num(fugue.rss_per_client_kib, "KiB"),
        met: fugue.rss_per_client_kib.map(|kib| kib <= 64.0),
    });
    out.push(Target {
        goal: "attach, 10,000 lines, screen restored: no slower than tmux",
        measured: format!(
            "{} vs tmux {} (first byte {} vs {})",
            ms(fugue.attach_restored_ms),
            ms(tmux.attach_restored_ms),
            ms(fugue.attach_first_ms),
            ms(tmux.attach_first_ms)
        ),
        met: fugue
            .attach_restored_ms
            .zip(tmux.attach_restored_ms)
            .map(|(f, t)| f <= t),
    });
    out.push(Target {
        goal: "a stated byte bound on what a lagging client can hold",
        measured: "not measured here: read it from fugue-server's config".to_owned(),
        met: None,
    });
    out
}

fn ms(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.1} ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_targets_off_the_summaries() {
        let mut summaries = BTreeMap::new();
        let fugue = Summary {
            throughput: Some(95.0),
            throughput_delivered: Some(1.01),
            echo_p50: Some(160.0),
            rss_one_kib: Some(3000.0),
            ..Summary::default()
        };
        summaries.insert(Tool::Fugue, fugue);
        let raw = Summary {
            throughput: Some(100.0),
            echo_p50: Some(150.0),
            ..Summary::default()
        };
        summaries.insert(Tool::Raw, raw);
        summaries.insert(
            Tool::Tmux,
            Summary {
                throughput: Some(40.0),
                echo_p50: Some(300.0),
                ..Summary::default()
            },
        );
        let targets = targets(&summaries);
        let met = |goal: &str| {
            targets
                .iter()
                .find(|t| t.goal.starts_with(goal))
                .unwrap()
                .met
        };
        assert_eq!(met("throughput >= 0.9x raw"), Some(true));
        let mut skipped = summaries.clone();
        if let Some(fugue) = skipped.get_mut(&Tool::Fugue) {
            fugue.throughput_delivered = Some(0.8);
        }
        let skipped = super::targets(&skipped);
        assert_eq!(
            skipped[0].met,
            Some(false),
            "fast by skipping output is not fast"
        );
        assert_eq!(met("throughput >= 3x tmux"), Some(false));
        assert_eq!(met("echo p50 <= 1.5x raw"), Some(true));
        assert_eq!(met("echo p50 below every peer"), Some(true));
        assert_eq!(met("server RSS"), Some(false));
        // Nothing measured, nothing claimed.
        assert_eq!(met("32 clients"), None);
        assert_eq!(met("attach"), None);
    }
}
