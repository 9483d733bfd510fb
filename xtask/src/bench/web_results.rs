//! What the web scenario measured (`scenarios/web.rs`): per tool, its throughput runs and
//! echo samples; their medians and percentiles, and how the report shows them (a table
//! of its own, and a `web` object in `report.json`).
//!
//! The web tools are not [`super::tools::Tool`]s: they are measured in this scenario
//! only, through a WebSocket client rather than a terminal.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::stats::{median, percentile};

/// A server measured through the WebSocket client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WebTool {
    /// fugue's browser viewer (`fugue web`), the session attached by the client alone.
    Fugue,
    /// terminado, Jupyter's terminal WebSocket server (tornado).
    Terminado,
}

impl WebTool {
    /// The name used in progress lines and reports.
    pub fn name(self) -> &'static str {
        match self {
            WebTool::Fugue => "fugue-web",
            WebTool::Terminado => "terminado",
        }
    }
}

/// One throughput run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebFlood {
    /// File size over the time from typing `go` until the end marker arrived.
    pub mib_per_s: f64,
    /// Output bytes received over the file's size (about 1.01 when every byte arrived,
    /// as `\n` becomes `\r\n`; below 1 the server dropped or redrew).
    pub delivered: f64,
    /// CPU time of the server process (not the session's program, not the client) from
    /// the trigger until it is idle again, per MiB of the file.
    pub cpu_ms_per_mib: Option<f64>,
    /// fugue only: `resync` messages (output dropped for the client, a fresh screen sent).
    pub resyncs: u64,
}

/// Everything measured for one web tool.
#[derive(Debug, Clone, Default)]
pub struct WebToolResults {
    /// Throughput runs.
    pub throughput: Vec<WebFlood>,
    /// Echo round trips, microseconds.
    pub echo_us: Vec<f64>,
    /// Measurements that failed, with the reason.
    pub failures: Vec<String>,
}

/// The web scenario's results.
#[derive(Debug, Clone, Default)]
pub struct WebResults {
    /// By tool.
    pub tools: BTreeMap<WebTool, WebToolResults>,
    /// terminado's version line (with tornado's and Python's), when it was installed.
    pub terminado_version: Option<String>,
    /// Tools that could not be measured, and why.
    pub skipped: Vec<String>,
}

/// The medians of one web tool's results.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WebSummary {
    /// Median MiB/s.
    pub throughput: Option<f64>,
    /// Smallest delivered share of any run.
    pub delivered: Option<f64>,
    /// Median server CPU per MiB, ms.
    pub cpu_ms_per_mib: Option<f64>,
    /// Echo p50, microseconds.
    pub echo_p50: Option<f64>,
    /// Echo p90, microseconds.
    pub echo_p90: Option<f64>,
    /// Resyncs over all runs (fugue).
    pub resyncs: u64,
}

impl WebToolResults {
    /// The medians and percentiles.
    pub fn summary(&self) -> WebSummary {
        let runs = &self.throughput;
        let speeds: Vec<f64> = runs.iter().map(|f| f.mib_per_s).collect();
        let cpu: Vec<f64> = runs.iter().filter_map(|f| f.cpu_ms_per_mib).collect();
        WebSummary {
            throughput: median(&speeds),
            delivered: runs.iter().map(|f| f.delivered).reduce(f64::min),
            cpu_ms_per_mib: median(&cpu),
            echo_p50: percentile(&self.echo_us, 50.0),
            echo_p90: percentile(&self.echo_us, 90.0),
            resyncs: runs.iter().map(|f| f.resyncs).sum(),
        }
    }
}

fn fmt(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.decimals$}"))
}

impl WebResults {
    /// Appends the scenario's paragraph and table to the report; nothing if it did not run.
    pub fn write_markdown(&self, md: &mut String) {
        if self.tools.is_empty() && self.skipped.is_empty() {
            return;
        }
        let version = self.terminado_version.as_deref().unwrap_or("terminado");
        let _ = writeln!(
            md,
            "\nBrowser path (`web`): fugue's web viewer (`fugue web`, its WebSocket on \
             127.0.0.1) beside {version}, both read by the same WebSocket client of this \
             harness. Throughput: the session cats the throughput file, timed from the \
             keystroke that starts it until the end marker arrives over the WebSocket; \
             fugue's session has no other client, so it goes at this client's pace (it \
             acknowledges every 64 KiB), while terminado has no flow control. Echo: one \
             keystroke to a raw-mode `cat`, timed until its echo arrives. *Server CPU*: the \
             server process alone (fugue-server, or terminado's Python), per MiB.\n\n\
             | tool | throughput MiB/s | delivered | server CPU ms/MiB | echo p50 us \
             | echo p90 us |\n|---|---:|---:|---:|---:|---:|"
        );
        let mut notes = self.skipped.clone();
        for (tool, results) in &self.tools {
            let summary = results.summary();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                tool.name(),
                fmt(summary.throughput, 1),
                fmt(summary.delivered, 2),
                fmt(summary.cpu_ms_per_mib, 1),
                fmt(summary.echo_p50, 0),
                fmt(summary.echo_p90, 0),
            );
            if summary.resyncs > 0 {
                notes.push(format!(
                    "{}: {} resync(s): the server dropped output for its only client",
                    tool.name(),
                    summary.resyncs
                ));
            }
            let failures = results.failures.iter();
            notes.extend(failures.map(|f| format!("{}: failed: {f}", tool.name())));
        }
        if !notes.is_empty() {
            md.push('\n');
            for note in notes {
                let _ = writeln!(md, "- {note}");
            }
        }
    }

    /// The scenario's samples and summaries, for `report.json`.
    pub fn to_json(&self) -> Value {
        let tools: serde_json::Map<String, Value> = self
            .tools
            .iter()
            .map(|(tool, results)| (tool.name().to_owned(), tool_json(results)))
            .collect();
        json!({
            "terminado_version": self.terminado_version,
            "skipped": self.skipped,
            "tools": tools,
        })
    }
}

fn tool_json(results: &WebToolResults) -> Value {
    let summary = results.summary();
    let throughput: Vec<Value> = results
        .throughput
        .iter()
        .map(|f| {
            json!({
                "mib_per_s": f.mib_per_s,
                "delivered": f.delivered,
                "cpu_ms_per_mib": f.cpu_ms_per_mib,
                "resyncs": f.resyncs,
            })
        })
        .collect();
    json!({
        "summary": {
            "throughput_mib_per_s": summary.throughput,
            "least_delivered": summary.delivered,
            "server_cpu_ms_per_mib": summary.cpu_ms_per_mib,
            "echo_p50_us": summary.echo_p50,
            "echo_p90_us": summary.echo_p90,
            "resyncs": summary.resyncs,
        },
        "throughput": throughput,
        "echo_us": results.echo_us,
        "failures": results.failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flood(mib_per_s: f64) -> WebFlood {
        WebFlood {
            mib_per_s,
            delivered: 1.01,
            cpu_ms_per_mib: Some(2.0),
            resyncs: 0,
        }
    }

    #[test]
    fn summary_takes_medians_and_echo_percentiles() {
        let results = WebToolResults {
            throughput: vec![flood(10.0), flood(30.0), flood(20.0)],
            echo_us: (1..=100).map(f64::from).collect(),
            failures: Vec::new(),
        };
        let summary = results.summary();
        assert_eq!(summary.throughput, Some(20.0));
        assert_eq!(
            (summary.echo_p50, summary.echo_p90),
            (Some(50.0), Some(90.0))
        );
        assert_eq!(summary.delivered, Some(1.01));
    }

    #[test]
    fn the_table_has_a_row_per_tool_and_nothing_when_the_scenario_did_not_run() {
        let mut md = String::new();
        WebResults::default().write_markdown(&mut md);
        assert!(md.is_empty());
        let mut results = WebResults::default();
        results
            .tools
            .entry(WebTool::Terminado)
            .or_default()
            .throughput
            .push(flood(12.5));
        results.write_markdown(&mut md);
        assert!(
            md.contains("| terminado | 12.5 | 1.01 | 2.0 | - | - |"),
            "{md}"
        );
        assert!(!md.contains("fugue-web |"), "{md}");
    }
}
