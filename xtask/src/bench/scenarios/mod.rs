//! The scenarios, and the loop that runs them: for each run, every tool in turn (A B C
//! A B C ...), so drift on a shared machine hits every tool alike. The web scenario
//! (`web.rs`) measures its own tools (fugue's viewer and terminado, through a WebSocket
//! client) the same way, into results of its own.

mod attach;
mod flood;
mod latency;
mod memory;
mod upgrade;
mod web;
mod web_server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::bail;

use super::options::{Plan, Scenario};
use super::results::{Flood, ToolResults};
use super::sandbox::Sandbox;
use super::tools::Tool;
use super::web_results::WebResults;

pub use attach::LINE_FORMAT;
pub use upgrade::UpgradeGap;

/// The files the sessions print.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The throughput file (`Plan::flood_bytes`).
    pub flood_file: PathBuf,
    /// The fan-out file (`Plan::fanout_bytes`).
    pub fanout_file: PathBuf,
    /// `Plan::history_lines` lines in `LINE_FORMAT`, for the raw attach floor.
    pub history_file: PathBuf,
}

/// Where the scenarios run and what they use.
#[derive(Debug)]
pub struct Bench<'a> {
    /// Runs and sizes.
    pub plan: &'a Plan,
    /// The scratch directory and environment.
    pub sandbox: &'a Sandbox,
    /// The tools to measure, in order.
    pub tools: &'a [Tool],
    /// The files.
    pub inputs: &'a Inputs,
    /// The bench's output directory, where what is installed for it is kept.
    pub scratch: &'a Path,
}

/// Results by tool.
pub type AllResults = BTreeMap<Tool, ToolResults>;

impl Bench<'_> {
    /// Runs `scenario` for every tool, recording into `results` (the web scenario into
    /// `web_results`). A failed measurement is recorded as a failure and the bench goes on.
    pub fn run(&self, scenario: Scenario, results: &mut AllResults, web_results: &mut WebResults) {
        let plan = self.plan;
        let with_server: Vec<Tool> = self
            .tools
            .iter()
            .copied()
            .filter(|t| t.has_server() && !t.through_ssh())
            .collect();
        // Through ssh: throughput and echo only; the rest measures the server.
        let local: Vec<Tool> = self
            .tools
            .iter()
            .copied()
            .filter(|t| !t.through_ssh())
            .collect();
        match scenario {
            Scenario::Throughput => {
                self.each_run(plan.runs, self.tools, scenario, results, |tool, out| {
                    let (flood, note) = flood::flood(
                        self.sandbox,
                        tool,
                        &self.inputs.flood_file,
                        plan.flood_bytes,
                        1,
                    )?;
                    out.throughput.push(flood);
                    out.notes
                        .extend(note.map(|note| format!("throughput: {note}")));
                    Ok(describe(&flood))
                })
            }
            Scenario::Latency => {
                let per_run = plan.echo_round_trips.div_ceil(plan.runs);
                self.each_run(plan.runs, self.tools, scenario, results, |tool, out| {
                    let samples = latency::echo(self.sandbox, tool, per_run)?;
                    let p50 = super::stats::percentile(&samples, 50.0).unwrap_or(f64::NAN);
                    out.echo_us.extend(samples);
                    Ok(format!("p50 {p50:.0} us"))
                });
            }
            Scenario::Web => web::run(self, web_results),
            Scenario::Fanout => {
                for &n_clients in &plan.fanout_clients {
                    self.each_run(
                        plan.heavy_runs,
                        &with_server,
                        scenario,
                        results,
                        |tool, out| {
                            let file = &self.inputs.fanout_file;
                            let (flood, note) = flood::flood(
                                self.sandbox,
                                tool,
                                file,
                                plan.fanout_bytes,
                                n_clients,
                            )?;
                            out.fanout.entry(n_clients).or_default().push(flood);
                            out.notes
                                .extend(note.map(|note| format!("fan-out: {note}")));
                            Ok(format!("{n_clients} clients: {}", describe(&flood)))
                        },
                    );
                }
            }
            Scenario::Memory => self.each_run(
                plan.heavy_runs,
                &with_server,
                scenario,
                results,
                |tool, out| {
                    let memory = memory::memory(self.sandbox, tool, plan.memory_clients)?;
                    out.memory.push(memory);
                    Ok(format!(
                        "{} KiB ({} KiB anonymous), +{:.0} KiB per client",
                        memory.one_client_kib,
                        memory.one_client_anon_kib,
                        memory.per_client_kib()
                    ))
                },
            ),
            Scenario::Upgrade => {
                let fugue: Vec<Tool> = self
                    .tools
                    .iter()
                    .copied()
                    .filter(|&t| t == Tool::Fugue)
                    .collect();
                self.each_run(plan.heavy_runs, &fugue, scenario, results, |_, out| {
                    let gaps =
                        upgrade::upgrades(self.sandbox, plan.upgrade_clients, plan.upgrades)?;
                    let worst = gaps.iter().map(|g| g.gap_ms).fold(0.0, f64::max);
                    out.upgrades.extend(gaps);
                    Ok(format!(
                        "longest wait for an echo during an upgrade {worst:.1} ms"
                    ))
                });
            }
            Scenario::Attach => self.each_run(plan.runs, &local, scenario, results, |tool, out| {
                let history = &self.inputs.history_file;
                let attach = attach::attach(self.sandbox, tool, plan.history_lines, history)?;
                out.attach.push(attach);
                let show = |ms: Option<f64>| ms.map_or("-".to_owned(), |ms| format!("{ms:.1} ms"));
                Ok(format!(
                    "first byte {}, restored {}",
                    show(attach.first_byte_ms),
                    show(attach.restored_ms)
                ))
            }),
        }
    }

    /// `for run in 0..runs { for tool in tools { measure } }`, with progress on stderr.
    fn each_run(
        &self,
        runs: usize,
        tools: &[Tool],
        scenario: Scenario,
        results: &mut AllResults,
        mut measure: impl FnMut(Tool, &mut ToolResults) -> anyhow::Result<String>,
    ) {
        for run in 0..runs {
            for &tool in tools {
                let out = results.entry(tool).or_default();
                let label = format!("[{} {}/{runs}] {}", scenario.name(), run + 1, tool.name());
                match measure(tool, out) {
                    Ok(line) => eprintln!("{label}: {line}"),
                    Err(err) => {
                        eprintln!("{label}: failed: {err:#}");
                        out.failures
                            .push(format!("{} run {}: {err:#}", scenario.name(), run + 1));
                    }
                }
            }
        }
    }
}

/// A flood's progress line.
fn describe(flood: &Flood) -> String {
    let speed = flood
        .mib_per_s
        .map_or("no client got the end".to_owned(), |mib| {
            format!("{mib:.1} MiB/s")
        });
    match flood.lost_marker {
        0 => speed,
        lost => format!("{speed}, {lost} client(s) lost the end"),
    }
}

/// Waits for a file a session's script creates to say it got somewhere.
///
/// # Errors
///
/// When it does not appear within `timeout`.
fn wait_for_file(path: &Path, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        if Instant::now() >= deadline {
            bail!("{} did not appear within {timeout:?}", path.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}
