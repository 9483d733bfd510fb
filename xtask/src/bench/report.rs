//! The report: a markdown table (printed, and written to `report.md`), the same numbers
//! with every sample in `report.json`, and the chart in `ratios.svg`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::json::to_json;
use super::meta::Meta;
use super::options::Plan;
use super::registry::RegistryBench;
use super::results::Summary;
use super::scenarios::AllResults;
use super::stats::ratio;
use super::svg::{Bar, Group, chart};
use super::targets::{Target, targets};
use super::tools::Tool;
use super::web_results::WebResults;

/// Everything a report is made from.
#[derive(Debug)]
pub struct Report<'a> {
    /// Conditions of the run.
    pub meta: &'a Meta,
    /// Runs and sizes.
    pub plan: &'a Plan,
    /// Raw results.
    pub results: &'a AllResults,
    /// The web scenario's results.
    pub web: &'a WebResults,
    /// Registry microbenchmarks.
    pub registry: &'a [RegistryBench],
}

/// Writes `report.md`, `report.json` and `ratios.svg` to `dir`; returns the markdown.
///
/// # Errors
///
/// When a file cannot be written.
pub fn write(dir: &Path, report: &Report<'_>) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let summaries: BTreeMap<Tool, Summary> = report
        .results
        .iter()
        .map(|(t, r)| (*t, r.summary()))
        .collect();
    let targets = targets(&summaries);
    let markdown = markdown(report, &summaries, &targets);
    let files = [
        ("report.md", markdown.clone()),
        (
            "report.json",
            serde_json::to_string_pretty(&to_json(report, &summaries, &targets))? + "\n",
        ),
        ("ratios.svg", svg(report, &summaries)),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(markdown)
}

fn fmt(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.decimals$}"))
}

fn markdown(
    report: &Report<'_>,
    summaries: &BTreeMap<Tool, Summary>,
    targets: &[Target],
) -> String {
    let (meta, plan) = (report.meta, report.plan);
    let raw = summaries.get(&Tool::Raw).and_then(|s| s.throughput);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "`{}` on {}, commit {}; {}, {}.",
        meta.command, meta.date, meta.commit, meta.machine, meta.kernel
    );
    let loads: Vec<String> = meta
        .loads
        .iter()
        .map(|l| format!("{} {:.2}", l.label, l.averages[0]))
        .collect();
    let _ = writeln!(
        md,
        "Load average (1 min) through the run: {} (a shared machine: read the ratios).",
        loads.join(", ")
    );
    let mut versions: Vec<String> = Vec::new();
    for (_, version) in &meta.versions {
        if !versions.contains(version) {
            versions.push(version.clone());
        }
    }
    let _ = writeln!(
        md,
        "Medians of {} runs ({} for fan-out and memory), tools alternating run by run; \
         {} MiB throughput file, {} MiB fan-out file, {} echo round trips; TERM=xterm-256color, \
         120x40, no config files. Versions: {}. Took {:.0} s.\n",
        plan.runs,
        plan.heavy_runs,
        plan.flood_bytes >> 20,
        plan.fanout_bytes >> 20,
        plan.echo_round_trips,
        versions.join(", "),
        meta.seconds
    );
    let counts: Vec<String> = plan.fanout_clients.iter().map(usize::to_string).collect();
    let _ = writeln!(
        md,
        "| tool | throughput MiB/s | x raw | delivered | CPU ms/MiB | echo p50 us \
         | echo p99 us | {} clients MiB/s | RSS 1 client | + per client \
         | attach: first byte | attach: restored |",
        counts.join(" / ")
    );
    md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (tool, summary) in summaries {
        let fanout: Vec<String> = plan
            .fanout_clients
            .iter()
            .map(|n| fmt(summary.fanout.get(n).copied(), 1))
            .collect();
        let fanout = if tool.has_server() {
            fanout.join(" / ")
        } else {
            "-".to_owned()
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            tool.name(),
            fmt(summary.throughput, 1),
            fmt(ratio(summary.throughput, raw), 2),
            fmt(summary.throughput_delivered, 2),
            fmt(summary.throughput_cpu_ms_per_mib, 1),
            fmt(summary.echo_p50, 0),
            fmt(summary.echo_p99, 0),
            fanout,
            rss_cell(summary),
            summary
                .rss_per_client_kib
                .map_or("-".to_owned(), |kib| format!("{kib:.0} KiB")),
            summary
                .attach_first_ms
                .map_or("-".to_owned(), |ms| format!("{ms:.1} ms")),
            summary
                .attach_restored_ms
                .map_or("-".to_owned(), |ms| format!("{ms:.1} ms")),
        );
    }
    md.push_str(
        "\n*CPU ms/MiB*: CPU time (kernel and user, every thread) of the tool's server and \
         client from the start of a throughput run until they are idle again, per MiB of \
         the file; the median run. raw has no process of its own.\n",
    );
    if summaries.contains_key(&Tool::Fugue) {
        md.push_str(
            "\n*attach*: fugue attaches with `--history 0`, restoring the screen as the others \
             do; by default it first replays 1,000 lines of the session's scrollback into the \
             terminal's own, which the others do not do at all.\n",
        );
    }
    if summaries.keys().any(|tool| tool.through_ssh()) {
        md.push_str(
            "\n*fugue-ssh, ssh-fugue, ssh-tmux*: the same servers on this machine, the client \
             reaching them through a local OpenSSH server (TCP to 127.0.0.1): `fugue -H \
             ssh://127.0.0.1:PORT attach` (through `fugue proxy`), `ssh -t 127.0.0.1 fugue \
             attach` and `ssh -t 127.0.0.1 tmux attach`. Their CPU counts the server and the \
             local client (fugue, or ssh), not sshd or what runs under it.\n",
        );
    }
    if let Some(timeouts) = summaries.get(&Tool::Fugue).and_then(|s| s.pacing_timeouts) {
        let _ = writeln!(
            md,
            "\nfugue's pacing timeouts (waits for a client's room that ran the full 250 ms, \
             each a stall of the output; with every client reading there should be none): \
             {timeouts} in the worst throughput or fan-out run."
        );
    }
    fanout_table(&mut md, plan, summaries, raw);
    upgrade_paragraph(&mut md, plan, summaries);
    report.web.write_markdown(&mut md);
    md.push_str(
        "\nfugue against the issue's targets:\n\n| target | measured | met |\n|---|---|---|\n",
    );
    for target in targets {
        let met = match target.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        let _ = writeln!(md, "| {} | {} | {met} |", target.goal, target.measured);
    }
    if !report.registry.is_empty() {
        md.push_str("\nRegistry microbenchmarks (criterion `--quick`, median per iteration):\n\n");
        md.push_str("| bench | median | per element |\n|---|---:|---:|\n");
        for bench in report.registry {
            let per = bench
                .elements
                .filter(|&n| n > 0)
                .map(|n| bench.median_ns / n as f64);
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                bench.name,
                nanos(Some(bench.median_ns)),
                nanos(per)
            );
        }
    }
    let mut notes: Vec<String> = meta.skipped.clone();
    for (tool, results) in report.results {
        let failures = results.failures.iter().map(|f| format!("failed: {f}"));
        let all = failures.chain(results.notes.iter().cloned());
        notes.extend(all.map(|note| format!("{}: {note}", tool.name())));
    }
    if !notes.is_empty() {
        md.push_str("\nNotes:\n\n");
        for note in notes {
            let _ = writeln!(md, "- {note}");
        }
    }
    md
}

/// The upgrade scenario's result, if it ran.
fn upgrade_paragraph(md: &mut String, plan: &Plan, summaries: &BTreeMap<Tool, Summary>) {
    let Some(fugue) = summaries.get(&Tool::Fugue) else {
        return;
    };
    let Some((median, worst)) = fugue.upgrade_gap_ms else {
        return;
    };
    let _ = writeln!(
        md,
        "\nUpgrade (`fugue upgrade`, fugue only; {} sessions with a client each, every client \
         typing): the longest a client waited for an echo while an upgrade ran was {median:.1} ms \
         for the median upgrade, {worst:.1} ms at worst ({} upgrades per run; `fugue upgrade` \
         itself took {} ms; an echo otherwise takes {} us).",
        plan.upgrade_clients,
        plan.upgrades,
        fmt(fugue.upgrade_command_ms, 1),
        fmt(fugue.upgrade_echo_us, 0)
    );
}

fn fanout_table(
    md: &mut String,
    plan: &Plan,
    summaries: &BTreeMap<Tool, Summary>,
    raw: Option<f64>,
) {
    if summaries.values().all(|s| s.fanout.is_empty()) {
        return;
    }
    md.push_str(
        "\nFan-out, every client drained. *Least delivered*: the smallest share of the file's \
         bytes one client printed (below 1 the tool redrew or dropped; `\\n` to `\\r\\n` adds \
         about 1%). *Lost the end*: clients that never showed the end marker intact in the \
         worst run (a silent hole: the marker was dropped, or a drop cut the escape sequence \
         before it and the terminal took the marker into that sequence). *Lag events*: \
         fugue's count of clients that fell behind and got a resync instead of every byte. \
         *CPU ms/MiB*: the tool's CPU time per MiB of the file and per client.\n\n\
         | tool | clients | MiB/s | x raw | least delivered | lost the end | lag events \
         | CPU ms/MiB |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (tool, summary) in summaries.iter().filter(|(t, _)| t.has_server()) {
        for n in &plan.fanout_clients {
            let Some(&mib) = summary.fanout.get(n) else {
                continue;
            };
            let lost = summary.fanout_lost.get(n).copied().unwrap_or(0);
            let _ = writeln!(
                md,
                "| {} | {n} | {mib:.1} | {} | {} | {} | {} | {} |",
                tool.name(),
                fmt(ratio(Some(mib), raw), 2),
                fmt(summary.fanout_delivered.get(n).copied(), 2),
                if lost == 0 {
                    "0".to_owned()
                } else {
                    format!("**{lost} of {n}**")
                },
                summary
                    .fanout_lag_events
                    .get(n)
                    .map_or("-".to_owned(), u64::to_string),
                fmt(summary.fanout_cpu_ms_per_mib.get(n).copied(), 1),
            );
        }
    }
}

/// RSS with one client, and its anonymous part: "4.5 MiB (anon 0.5)".
fn rss_cell(summary: &Summary) -> String {
    match (summary.rss_one_kib, summary.rss_one_anon_kib) {
        (None, _) => "-".to_owned(),
        (Some(kib), None) => format!("{:.1} MiB", kib / 1024.0),
        (Some(kib), Some(anon)) => format!("{:.1} MiB (anon {:.1})", kib / 1024.0, anon / 1024.0),
    }
}

fn nanos(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(ns) if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        Some(ns) if ns >= 1e3 => format!("{:.2} us", ns / 1e3),
        Some(ns) => format!("{ns:.1} ns"),
    }
}

fn svg(report: &Report<'_>, summaries: &BTreeMap<Tool, Summary>) -> String {
    let raw = summaries.get(&Tool::Raw).and_then(|s| s.throughput);
    let bars = |mib_of: &dyn Fn(&Summary) -> Option<f64>, lost_of: &dyn Fn(&Summary) -> usize| {
        summaries
            .iter()
            .filter_map(|(tool, s)| {
                let mib = mib_of(s)?;
                let lost = lost_of(s);
                Some(Bar {
                    tool: *tool,
                    ratio: ratio(Some(mib), raw)?,
                    mib,
                    note: if lost == 0 {
                        String::new()
                    } else {
                        format!(", {lost} client(s) lost the end")
                    },
                })
            })
            .collect::<Vec<_>>()
    };
    let mut groups = vec![Group {
        title: "output throughput, 1 client".to_owned(),
        target: Some(0.9),
        bars: bars(&|s| s.throughput, &|_| 0),
    }];
    for &n in &report.plan.fanout_clients {
        groups.push(Group {
            title: format!("fan-out, {n} client{}", if n == 1 { "" } else { "s" }),
            target: (n == 32).then_some(0.5),
            bars: bars(&|s| s.fanout.get(&n).copied(), &|s| {
                s.fanout_lost.get(&n).copied().unwrap_or(0)
            }),
        });
    }
    groups.retain(|group| !group.bars.is_empty());
    let meta = report.meta;
    let subtitle = format!("{}; {}; {}", meta.command, meta.date, meta.machine);
    chart(
        "Throughput as a multiple of raw (the program writing straight to the terminal)",
        &subtitle,
        &groups,
    )
}
