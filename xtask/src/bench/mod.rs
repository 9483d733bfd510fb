//! `cargo xtask bench`: fugue side by side with tmux, screen, dtach and `raw` (the
//! program writing straight to the terminal), under identical conditions.
//!
//! The harness owns every client's terminal: a 120x40 PTY per client, drained by a
//! thread of its own (`pty.rs`, `drain.rs`, `clients.rs`). Each tool starts sessions its
//! own way (`tools.rs`) in a clean environment (`sandbox.rs`). The scenarios
//! (`scenarios/`) alternate tools run by run and record samples (`results.rs`); the
//! report (`report.rs`, `targets.rs`, `svg.rs`) shows medians. The web scenario reads
//! fugue's browser viewer and terminado through a WebSocket client instead of a terminal
//! (`websocket.rs`, `terminado.rs`, `web_results.rs`). Nothing here asserts a timing: the
//! numbers are read, not tested.

mod clients;
mod cpu;
mod drain;
mod json;
mod meta;
mod options;
mod pty;
mod registry;
mod report;
mod results;
mod sandbox;
mod scan;
mod scenarios;
mod stats;
mod svg;
mod targets;
mod terminado;
mod textgen;
mod tools;
mod web_results;
mod websocket;

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use options::{Options, USAGE};

use meta::Meta;
use sandbox::Sandbox;
use scenarios::{AllResults, Bench, Inputs, LINE_FORMAT};
use tools::Tool;
use web_results::WebResults;

/// The seed of the generated text, fixed so every run cats the same bytes.
const SEED: u64 = 0x00f0_9e00_b3c4_0001;

/// Runs the bench from the workspace `root`; `args` are the arguments after `bench`.
///
/// # Errors
///
/// When the build fails, no tool is available, or the report cannot be written.
pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        print_report(USAGE);
        return Ok(());
    }
    let options = Options::parse(args)?;
    if cfg!(debug_assertions) {
        // `cargo xtask` builds unoptimised; the harness's drain threads must outrun every
        // tool, so the measuring is done by an optimised build of this same program.
        return rerun_optimised(root, args);
    }
    let plan = options.plan();
    let started = Instant::now();
    let target_dir = crate::cargo::target_dir(root);
    let out_dir = target_dir.join("bench");
    let mut meta = Meta {
        date: meta::date(),
        command: ["cargo xtask bench"]
            .into_iter()
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        machine: meta::machine(),
        kernel: meta::kernel(),
        commit: meta::commit(root),
        loads: vec![meta::load("start")],
        ..Meta::default()
    };

    let mut tools = Vec::new();
    for &tool in &options.tools {
        if tool.available() {
            tools.push(tool);
        } else {
            eprintln!("xtask bench: skipping {}", tool.install_hint());
            meta.skipped.push(tool.install_hint());
        }
    }
    if tools.is_empty() {
        bail!("none of the tools asked for is available");
    }
    if tools.contains(&Tool::Fugue) {
        build(root)?;
    }

    let sandbox = Sandbox::create(&target_dir.join("release"))?;
    meta.versions = tools
        .iter()
        .filter_map(|&t| Some((t, meta::version(&sandbox, t)?)))
        .collect();
    let inputs = make_inputs(&sandbox, &plan)?;
    let bench = Bench {
        plan: &plan,
        sandbox: &sandbox,
        tools: &tools,
        inputs: &inputs,
        scratch: &out_dir,
    };
    let mut results = AllResults::new();
    let mut web_results = WebResults::default();
    for &scenario in &options.scenarios {
        meta.loads.push(meta::load(scenario.name()));
        bench.run(scenario, &mut results, &mut web_results);
    }

    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let registry = if options.registry {
        meta.loads.push(meta::load("registry"));
        eprintln!(
            "xtask bench: registry microbenchmarks (cargo bench -p fugue-registry -- --quick)"
        );
        registry::run(root, &target_dir, &out_dir.join("registry.log")).unwrap_or_else(|err| {
            eprintln!("xtask bench: registry benches failed: {err:#}");
            meta.skipped
                .push(format!("registry microbenchmarks failed: {err:#}"));
            Vec::new()
        })
    } else {
        Vec::new()
    };
    meta.loads.push(meta::load("end"));
    meta.seconds = started.elapsed().as_secs_f64();

    let report = report::Report {
        meta: &meta,
        plan: &plan,
        results: &results,
        web: &web_results,
        registry: &registry,
    };
    let markdown = report::write(&out_dir, &report)?;
    print_report(&markdown);
    eprintln!(
        "xtask bench: wrote {}/report.md, report.json and ratios.svg",
        out_dir.display()
    );
    Ok(())
}

#[expect(
    clippy::print_stdout,
    reason = "the report table (or usage) is what `bench` outputs"
)]
fn print_report(markdown: &str) {
    print!("{markdown}");
}

/// Runs `cargo run --release -p xtask -- bench ARGS` and passes its result on.
fn rerun_optimised(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let status = Command::new(crate::cargo::program())
        .current_dir(root)
        .args(["run", "--quiet", "--release", "-p", "xtask", "--", "bench"])
        .args(args)
        .status()
        .context("running the optimised bench")?;
    if !status.success() {
        bail!("the optimised bench failed ({status})");
    }
    Ok(())
}

/// Builds the release binaries of fugue.
fn build(root: &Path) -> anyhow::Result<()> {
    crate::cargo::build_release(root, &["-p", "fugue-server", "-p", "fugue-client"])
}

/// Writes the flood files and the history file into the sandbox.
fn make_inputs(sandbox: &Sandbox, plan: &options::Plan) -> anyhow::Result<Inputs> {
    let inputs = Inputs {
        flood_file: sandbox.root().join("flood.txt"),
        fanout_file: sandbox.root().join("fanout.txt"),
        history_file: sandbox.root().join("history.txt"),
    };
    for (path, size) in [
        (&inputs.flood_file, plan.flood_bytes),
        (&inputs.fanout_file, plan.fanout_bytes),
    ] {
        let mut file = BufWriter::new(std::fs::File::create(path)?);
        textgen::write_text(SEED, size, &mut file)?;
        file.flush()?;
    }
    let mut history = BufWriter::new(std::fs::File::create(&inputs.history_file)?);
    for line in 1..=plan.history_lines {
        writeln!(history, "{}", LINE_FORMAT.replace("%g", &line.to_string()))?;
    }
    history.flush()?;
    Ok(inputs)
}
