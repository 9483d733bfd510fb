//! The browser path: fugue's web viewer (`fugue web`) beside terminado (Jupyter's
//! terminal WebSocket server), both read by the same WebSocket client
//! (`bench/websocket.rs`) on this machine, run by run in turn as the other scenarios are.
//!
//! Throughput: the session runs the throughput scenario's program (`PONG` to each line
//! until `go`, then the throughput file, then the end marker), timed from typing `go`
//! until the marker arrives over the WebSocket. Echo: a raw-mode `cat`, one keystroke at
//! a time, each line blanked after [`LINE`] echoes, as in the latency scenario.
//!
//! fugue: the bench's own daemon and session, `fugue web --json` against it for a URL and
//! a token (`web_server.rs`); the WebSocket client is the session's only client, so the
//! session goes at that client's pace. terminado: a server per measurement whose
//! terminal starts when the client connects (`bench/terminado.rs`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::Bench;
use super::latency::{CYCLE, LINE};
use super::web_server::Server;
use super::{flood, wait_for_file};
use crate::bench::clients::{PING_LINE, PONG};
use crate::bench::cpu::{settled_cpu, total_cpu};
use crate::bench::sandbox::Sandbox;
use crate::bench::scan::Scanner;
use crate::bench::terminado::Terminado;
use crate::bench::tools::Tool;
use crate::bench::web_results::{WebFlood, WebResults, WebTool, WebToolResults};
use crate::bench::websocket::WebClient;

/// How long a flood may take before it counts as failed.
const FLOOD_TIMEOUT: Duration = Duration::from_secs(240);
/// How long the first `PONG`, or the first echo, may take.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Let the handshake's output settle before the trigger.
const SETTLE: Duration = Duration::from_millis(300);
/// How often a probe is typed again while waiting for its answer.
const PROBE_EVERY: Duration = Duration::from_millis(300);
/// How long one echo may take before the run fails.
const ECHO_TIMEOUT: Duration = Duration::from_secs(5);
/// Where terminado's virtual environment lives, under the bench's output directory.
const VENV: &str = "terminado-venv";

const MIB: f64 = 1024.0 * 1024.0;

/// Runs the web scenario: throughput runs of every web tool in turn, then echo runs,
/// recording into `results`. fugue-web is measured when fugue is among the tools.
pub fn run(bench: &Bench<'_>, results: &mut WebResults) {
    let Some(web) = Web::new(bench, results) else {
        return;
    };
    let plan = bench.plan;
    let file = &bench.inputs.flood_file;
    web.each_run(plan.runs, results, |tool, out| {
        let flood = web.throughput(tool, file, plan.flood_bytes)?;
        out.throughput.push(flood);
        Ok(format!("throughput {:.1} MiB/s", flood.mib_per_s))
    });
    let per_run = plan.echo_round_trips.div_ceil(plan.runs);
    web.each_run(plan.runs, results, |tool, out| {
        let samples = web.echo(tool, per_run)?;
        let p50 = crate::bench::stats::percentile(&samples, 50.0).unwrap_or(f64::NAN);
        out.echo_us.extend(samples);
        Ok(format!("echo p50 {p50:.0} us"))
    });
}

/// What the measurements share.
struct Web<'a> {
    sandbox: &'a Sandbox,
    tools: Vec<WebTool>,
    terminado: Option<Terminado>,
    runtime: tokio::runtime::Runtime,
}

impl<'a> Web<'a> {
    /// The tools that can be measured (installing terminado if needed); `None` if none.
    fn new(bench: &Bench<'a>, results: &mut WebResults) -> Option<Web<'a>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let runtime = match runtime {
            Ok(runtime) => runtime,
            Err(err) => {
                results
                    .skipped
                    .push(format!("web: no tokio runtime: {err}"));
                return None;
            }
        };
        let mut tools = Vec::new();
        if bench.tools.contains(&Tool::Fugue) {
            tools.push(WebTool::Fugue);
        } else {
            results
                .skipped
                .push("fugue-web: measured only when fugue is among --tools".to_owned());
        }
        let terminado = match Terminado::install(&bench.scratch.join(VENV)) {
            Ok(terminado) => {
                results.terminado_version = Some(terminado.version().to_owned());
                tools.push(WebTool::Terminado);
                Some(terminado)
            }
            Err(err) => {
                eprintln!("xtask bench: skipping terminado: {err:#}");
                results.skipped.push(format!("terminado: {err:#}"));
                None
            }
        };
        let web = Web {
            sandbox: bench.sandbox,
            tools,
            terminado,
            runtime,
        };
        (!web.tools.is_empty()).then_some(web)
    }

    /// `for run in 0..runs { for tool in tools { measure } }`, with progress on stderr.
    fn each_run(
        &self,
        runs: usize,
        results: &mut WebResults,
        mut measure: impl FnMut(WebTool, &mut WebToolResults) -> anyhow::Result<String>,
    ) {
        for run in 0..runs {
            for &tool in &self.tools {
                let out = results.tools.entry(tool).or_default();
                let label = format!("[web {}/{runs}] {}", run + 1, tool.name());
                match measure(tool, out) {
                    Ok(line) => eprintln!("{label}: {line}"),
                    Err(err) => {
                        eprintln!("{label}: failed: {err:#}");
                        out.failures.push(format!("run {}: {err:#}", run + 1));
                    }
                }
            }
        }
    }

    /// One throughput run of `tool`: `file` (`size` bytes) through a fresh server.
    fn throughput(&self, tool: WebTool, file: &Path, size: usize) -> anyhow::Result<WebFlood> {
        let dir = self.sandbox.new_dir()?;
        let script = flood::script(file);
        let mut server = Server::start(tool, self.sandbox, self.terminado.as_ref(), dir, &script)?;
        let pid = server.pid()?;
        let measured = self.runtime.block_on(async {
            let mut client = server.connect().await?;
            let flood = flood_through(&mut client, pid, size).await?;
            client.close().await;
            Ok::<_, anyhow::Error>(flood)
        });
        server.stop();
        measured
    }

    /// One echo run of `tool`: `round_trips` echoes, microseconds each.
    fn echo(&self, tool: WebTool, round_trips: usize) -> anyhow::Result<Vec<f64>> {
        let dir = self.sandbox.new_dir()?;
        // The file shows that the terminal's own echo is off: from then on only `cat` echoes.
        let ready = dir.join("raw-mode");
        let script = format!("stty raw -echo; : > {}; exec cat", ready.display());
        let mut server = Server::start(tool, self.sandbox, self.terminado.as_ref(), dir, &script)?;
        let measured = self.runtime.block_on(async {
            let mut client = server.connect().await?;
            // terminado starts the program only now, on connecting.
            wait_for_file(&ready, Duration::from_secs(10))?;
            let samples = echoes(&mut client, round_trips).await?;
            client.close().await;
            Ok::<_, anyhow::Error>(samples)
        });
        server.stop();
        measured
    }
}

/// The flood: the `PONG` handshake, a settle, then `go` and the time until the marker.
async fn flood_through(client: &mut WebClient, pid: u32, size: usize) -> anyhow::Result<WebFlood> {
    wait_for(client, PING_LINE, PONG, READY_TIMEOUT).await?;
    drain_until_quiet(client, SETTLE).await?;
    let cpu_before = total_cpu(&[pid]);
    let start = Instant::now();
    client.type_bytes(b"go\r").await?;
    let mut scanner = Scanner::new([flood::MARKER]);
    let mut received = 0;
    while !scanner.done() {
        let Some(bytes) = client.output(start + FLOOD_TIMEOUT).await? else {
            bail!("the end marker did not arrive within {FLOOD_TIMEOUT:?} ({received} bytes did)");
        };
        received += bytes.len();
        scanner.feed(&bytes);
    }
    let seconds = start.elapsed().as_secs_f64().max(1e-6);
    let cpu_after = settled_cpu(&[pid]);
    let mib = size as f64 / MIB;
    Ok(WebFlood {
        mib_per_s: mib / seconds,
        delivered: received as f64 / size as f64,
        cpu_ms_per_mib: match (cpu_before, cpu_after) {
            (Some(before), Some(after)) => {
                Some(after.saturating_sub(before).as_secs_f64() * 1e3 / mib)
            }
            _ => None,
        },
        resyncs: client.resyncs(),
    })
}

/// `round_trips` echoes through a raw-mode `cat`, microseconds each.
async fn echoes(client: &mut WebClient, round_trips: usize) -> anyhow::Result<Vec<f64>> {
    wait_for(client, b"~", "~", READY_TIMEOUT).await?;
    let mut samples = Vec::with_capacity(round_trips);
    for index in 0..round_trips {
        if index % LINE == 0 {
            blank_line(client).await?;
        }
        let byte = CYCLE[index % LINE % CYCLE.len()];
        samples.push(time_echo(client, byte).await?);
    }
    Ok(samples)
}

/// Types `byte` and times its echo, in microseconds.
async fn time_echo(client: &mut WebClient, byte: u8) -> anyhow::Result<f64> {
    let mut scanner = Scanner::new([[byte]]);
    let start = Instant::now();
    client.type_bytes(&[byte]).await?;
    while !scanner.done() {
        let Some(bytes) = client.output(start + ECHO_TIMEOUT).await? else {
            bail!("an echo did not come back within {ECHO_TIMEOUT:?}");
        };
        scanner.feed(&bytes);
    }
    Ok(start.elapsed().as_secs_f64() * 1e6)
}

/// Types `probe` every [`PROBE_EVERY`] until `needle` comes back.
async fn wait_for(
    client: &mut WebClient,
    probe: &[u8],
    needle: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut scanner = Scanner::new([needle]);
    while Instant::now() < deadline {
        client.type_bytes(probe).await?;
        let round = (Instant::now() + PROBE_EVERY).min(deadline);
        while let Some(bytes) = client.output(round).await? {
            if scanner.feed(&bytes) > 0 {
                return Ok(());
            }
        }
    }
    bail!("`{needle}` did not come back within {timeout:?}")
}

/// Blanks the line and returns to its start (`cat` echoes it), then waits until the
/// output is quiet.
async fn blank_line(client: &mut WebClient) -> anyhow::Result<()> {
    let mut blank = vec![b'\r'];
    blank.extend(std::iter::repeat_n(b' ', LINE + 10));
    blank.push(b'\r');
    client.type_bytes(&blank).await?;
    drain_until_quiet(client, Duration::from_millis(150)).await
}

/// Reads (and acknowledges) output until none arrives for `quiet`.
async fn drain_until_quiet(client: &mut WebClient, quiet: Duration) -> anyhow::Result<()> {
    while client.output(Instant::now() + quiet).await?.is_some() {}
    Ok(())
}
