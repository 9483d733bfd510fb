//! `report.json`: the report's numbers with every sample, for scripts and for comparing
//! runs.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::report::Report;
use super::results::{Flood, Summary, ToolResults};
use super::targets::Target;
use super::tools::Tool;

/// The whole report as JSON.
pub fn to_json(
    report: &Report<'_>,
    summaries: &BTreeMap<Tool, Summary>,
    targets: &[Target],
) -> Value {
    let (meta, plan) = (report.meta, report.plan);
    let tools: Map<String, Value> = report
        .results
        .iter()
        .map(|(tool, results)| (tool.name().to_owned(), tool_json(results, &summaries[tool])))
        .collect();
    let loads: Vec<Value> = meta
        .loads
        .iter()
        .map(|load| json!({ "at": load.label, "loadavg": load.averages }))
        .collect();
    let versions: Map<String, Value> = meta
        .versions
        .iter()
        .map(|(tool, version)| (tool.name().to_owned(), json!(version)))
        .collect();
    let targets: Vec<Value> = targets
        .iter()
        .map(|t| json!({ "goal": t.goal, "measured": t.measured, "met": t.met }))
        .collect();
    let registry: Vec<Value> = report
        .registry
        .iter()
        .map(|b| json!({ "name": b.name, "median_ns": b.median_ns, "elements": b.elements }))
        .collect();
    json!({
        "command": meta.command,
        "date": meta.date,
        "commit": meta.commit,
        "machine": meta.machine,
        "kernel": meta.kernel,
        "seconds": meta.seconds,
        "load": loads,
        "versions": versions,
        "skipped": meta.skipped,
        "plan": {
            "runs": plan.runs,
            "heavy_runs": plan.heavy_runs,
            "flood_bytes": plan.flood_bytes,
            "fanout_bytes": plan.fanout_bytes,
            "fanout_clients": plan.fanout_clients,
            "echo_round_trips": plan.echo_round_trips,
            "memory_clients": plan.memory_clients,
            "history_lines": plan.history_lines,
        },
        "tools": tools,
        "targets": targets,
        "web": report.web.to_json(),
        "registry": registry,
    })
}

fn tool_json(results: &ToolResults, summary: &Summary) -> Value {
    let fanout: Map<String, Value> = results
        .fanout
        .iter()
        .map(|(n, runs)| (n.to_string(), floods_json(runs)))
        .collect();
    let fanout_medians: Map<String, Value> = summary
        .fanout
        .iter()
        .map(|(n, mib)| (n.to_string(), json!(mib)))
        .collect();
    let memory: Vec<Value> = results
        .memory
        .iter()
        .map(|m| {
            json!({
                "one_client_kib": m.one_client_kib,
                "one_client_anon_kib": m.one_client_anon_kib,
                "many_clients_kib": m.many_clients_kib,
                "n_clients": m.n_clients,
            })
        })
        .collect();
    let attach: Vec<Value> = results
        .attach
        .iter()
        .map(|a| json!({ "first_byte_ms": a.first_byte_ms, "restored_ms": a.restored_ms }))
        .collect();
    json!({
        "summary": {
            "throughput_mib_per_s": summary.throughput,
            "throughput_least_delivered": summary.throughput_delivered,
            "echo_p50_us": summary.echo_p50,
            "echo_p99_us": summary.echo_p99,
            "fanout_mib_per_s": fanout_medians,
            "rss_one_client_kib": summary.rss_one_kib,
            "rss_one_client_anon_kib": summary.rss_one_anon_kib,
            "rss_per_client_kib": summary.rss_per_client_kib,
            "attach_first_byte_ms": summary.attach_first_ms,
            "attach_restored_ms": summary.attach_restored_ms,
            "upgrade_gap_median_ms": summary.upgrade_gap_ms.map(|(median, _)| median),
            "upgrade_gap_worst_ms": summary.upgrade_gap_ms.map(|(_, worst)| worst),
            "upgrade_command_ms": summary.upgrade_command_ms,
        },
        "throughput": floods_json(&results.throughput),
        "echo_us": results.echo_us,
        "fanout": fanout,
        "memory": memory,
        "attach": attach,
        "failures": results.failures,
        "notes": results.notes,
    })
}

fn floods_json(runs: &[Flood]) -> Value {
    runs.iter()
        .map(|f| {
            json!({
                "mib_per_s": f.mib_per_s,
                "min_delivered": f.min_delivered,
                "lost_marker": f.lost_marker,
                "lag_events": f.lag_events,
                "messages_dropped": f.dropped,
                "pacing_timeouts": f.pacing_timeouts,
                "cpu_ms_per_mib": f.cpu_ms_per_mib,
            })
        })
        .collect()
}
