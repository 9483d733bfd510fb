//! `cargo xtask fuzz [--seconds N] [TARGET]`: runs the fuzz targets in `fuzz/` with
//! `cargo fuzz` (libFuzzer) for a set time each.
//!
//! The seed corpus kept in the repository (`fuzz/corpus/<target>/`) is read but never
//! written: what libFuzzer finds goes to a scratch corpus under `fuzz/target/corpus/`,
//! crashes to `fuzz/artifacts/<target>/`. cargo-fuzz passes nightly-only compiler flags
//! (`-Zsanitizer=address`); on a stable toolchain `RUSTC_BOOTSTRAP=1` allows them.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::cargo;

/// The targets, in the order they run.
const TARGETS: &[&str] = &["frame_decoder", "router"];

/// Seconds per target when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 60;

const USAGE: &str = "\
usage: cargo xtask fuzz [--seconds N] [TARGET]

Runs each fuzz target (frame_decoder, router), or only TARGET, for N seconds
(default 60) with cargo fuzz. Needs `cargo install cargo-fuzz`.";

/// Parses the arguments after `fuzz` and runs the targets.
///
/// # Errors
///
/// Bad arguments, a missing cargo-fuzz, or a target that fails (a crash or a build error).
pub(crate) fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let (seconds, targets) = parse(args)?;
    let installed = Command::new(cargo::program())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !installed {
        bail!("cargo-fuzz is not installed; run `cargo install cargo-fuzz`");
    }
    let mut failed = Vec::new();
    for target in &targets {
        let scratch = root.join("fuzz/target/corpus").join(target);
        std::fs::create_dir_all(&scratch)
            .with_context(|| format!("cannot create {}", scratch.display()))?;
        let seeds = root.join("fuzz/corpus").join(target);
        eprintln!("xtask: fuzzing {target} for {seconds} s");
        let status = Command::new(cargo::program())
            .current_dir(root)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", target])
            .arg(&scratch)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1")
            .status()
            .context("cannot run cargo fuzz")?;
        if !status.success() {
            failed.push(target.as_str());
        }
    }
    if !failed.is_empty() {
        bail!(
            "fuzzing failed for {}; crashing inputs are in fuzz/artifacts/",
            failed.join(", ")
        );
    }
    eprintln!("xtask: no crash in {} target(s)", targets.len());
    Ok(())
}

fn parse(args: &[String]) -> anyhow::Result<(u64, Vec<String>)> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().context("--seconds needs a value")?;
                seconds = value
                    .parse()
                    .with_context(|| format!("--seconds {value}: not a number"))?;
            }
            "-h" | "--help" => bail!("{USAGE}"),
            target if TARGETS.contains(&target) => targets.push(target.to_owned()),
            other => bail!("unexpected argument `{other}`\n\n{USAGE}"),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|target| (*target).to_owned()).collect();
    }
    Ok((seconds, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn parses_seconds_and_targets() {
        let (seconds, targets) = parse(&args(&[])).unwrap();
        assert_eq!(seconds, DEFAULT_SECONDS);
        assert_eq!(targets, TARGETS);
        let (seconds, targets) = parse(&args(&["--seconds", "5", "router"])).unwrap();
        assert_eq!(seconds, 5);
        assert_eq!(targets, ["router"]);
        assert!(parse(&args(&["--seconds"])).is_err());
        assert!(parse(&args(&["nope"])).is_err());
    }
}
