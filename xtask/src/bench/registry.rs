//! The registry microbenchmarks: runs fugue-registry's criterion bench in quick mode and
//! reads criterion's results (`target/criterion/**/new/{benchmark,estimates}.json`).

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::SystemTime;

use anyhow::{Context, bail};
use serde_json::Value;

/// One criterion benchmark's result.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryBench {
    /// Criterion's id, `group/function/parameter`.
    pub name: String,
    /// The median time per iteration, nanoseconds.
    pub median_ns: f64,
    /// Elements per iteration, when the bench declares a throughput.
    pub elements: Option<u64>,
}

/// Runs the bench (output to `log`) and returns the results it wrote.
///
/// # Errors
///
/// When cargo fails.
pub fn run(root: &Path, target_dir: &Path, log: &Path) -> anyhow::Result<Vec<RegistryBench>> {
    let started = SystemTime::now();
    let log_file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let status = Command::new(crate::cargo::program())
        .current_dir(root)
        .args([
            "bench",
            "-p",
            "fugue-registry",
            "--bench",
            "registry",
            "--",
            "--quick",
        ])
        .stdout(Stdio::from(log_file.try_clone()?))
        .stderr(Stdio::from(log_file))
        .status()
        .context("running cargo bench")?;
    if !status.success() {
        bail!(
            "cargo bench -p fugue-registry failed ({status}); see {}",
            log.display()
        );
    }
    let mut benches = Vec::new();
    collect(&target_dir.join("criterion"), started, &mut benches);
    benches.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(benches)
}

/// Reads every `new/` result under `dir` written since `since` (older ones belong to
/// benches this run did not make).
fn collect(dir: &Path, since: SystemTime, out: &mut Vec<RegistryBench>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() || entry.file_name() == "report" {
            continue;
        }
        if entry.file_name() != "new" {
            collect(&path, since, out);
            continue;
        }
        let estimates = path.join("estimates.json");
        let fresh = std::fs::metadata(&estimates)
            .and_then(|meta| meta.modified())
            .is_ok_and(|modified| modified >= since);
        let read = |name: &str| std::fs::read_to_string(path.join(name)).ok();
        if fresh
            && let (Some(benchmark), Some(estimates)) =
                (read("benchmark.json"), read("estimates.json"))
            && let Some(bench) = parse(&benchmark, &estimates)
        {
            out.push(bench);
        }
    }
}

/// One result from criterion's two files.
fn parse(benchmark: &str, estimates: &str) -> Option<RegistryBench> {
    let benchmark: Value = serde_json::from_str(benchmark).ok()?;
    let estimates: Value = serde_json::from_str(estimates).ok()?;
    Some(RegistryBench {
        name: benchmark.get("full_id")?.as_str()?.to_owned(),
        median_ns: estimates.get("median")?.get("point_estimate")?.as_f64()?,
        elements: benchmark
            .get("throughput")
            .and_then(|t| t.get("Elements"))
            .and_then(Value::as_u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_criterion_files() {
        let benchmark = r#"{"group_id":"broadcast_send","function_id":"registry","value_str":"100",
            "throughput":{"Elements":100},"full_id":"broadcast_send/registry/100"}"#;
        let estimates = r#"{"mean":{"point_estimate":7000.5},"median":{"point_estimate":6769.0}}"#;
        let bench = parse(benchmark, estimates).unwrap();
        assert_eq!(bench.name, "broadcast_send/registry/100");
        assert_eq!(bench.median_ns, 6769.0);
        assert_eq!(bench.elements, Some(100));
        let no_throughput = r#"{"full_id":"contention_churn/registry"}"#;
        assert_eq!(parse(no_throughput, estimates).unwrap().elements, None);
        assert!(parse("{}", estimates).is_none());
    }
}
