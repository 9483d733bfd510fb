//! `cargo xtask soak [--minutes N] [--clients K] [--seed S]`: a soak of a release server
//! (not part of CI).
//!
//! Builds `fugue-server` and the soak driver (`tests/examples/soak.rs`) in release mode,
//! then runs the driver against the server for N minutes (default 3). The driver lets K
//! clients attach, detach, type and disconnect at random, prints its figures (cycles,
//! bytes, errors, final client count, the server's fds and RSS before and after) and fails
//! if anything was lost or left behind.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::cargo;

const USAGE: &str = "\
usage: cargo xtask soak [--minutes N] [--clients K] [--seed S]

Soaks a release fugue-server for N minutes (default 3) with K clients (default 16)
attaching, detaching, typing and disconnecting at random; prints the figures.";

/// Parses the arguments after `soak`, builds, and runs the driver.
///
/// # Errors
///
/// Bad arguments, a failed build, or a soak that found a problem.
pub(crate) fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let driver_args = parse(args)?;
    cargo::build_release(
        root,
        &[
            "-p",
            "fugue-server",
            "-p",
            "fugue-tests",
            "--example",
            "soak",
            "--bin",
            "fugue-server",
        ],
    )?;
    let release = cargo::target_dir(root).join("release");
    let status = Command::new(release.join("examples").join("soak"))
        .current_dir(root)
        .arg("--server")
        .arg(release.join("fugue-server"))
        .args(&driver_args)
        .status()
        .context("cannot run the soak driver")?;
    if !status.success() {
        bail!("the soak failed (see its figures above)");
    }
    Ok(())
}

/// Checks the arguments and passes them on to the driver.
fn parse(args: &[String]) -> anyhow::Result<Vec<String>> {
    let mut driver_args = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--minutes" | "--clients" | "--seed" => {
                let value = args
                    .next()
                    .with_context(|| format!("{arg} needs a value\n\n{USAGE}"))?;
                if value.parse::<f64>().is_err() {
                    bail!("{arg} {value}: not a number\n\n{USAGE}");
                }
                driver_args.extend([arg.clone(), value.clone()]);
            }
            "-h" | "--help" => bail!("{USAGE}"),
            other => bail!("unexpected argument `{other}`\n\n{USAGE}"),
        }
    }
    Ok(driver_args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn passes_known_options_on_and_refuses_others() {
        assert!(parse(&args(&[])).unwrap().is_empty());
        assert_eq!(
            parse(&args(&["--minutes", "0.5", "--clients", "4"])).unwrap(),
            args(&["--minutes", "0.5", "--clients", "4"])
        );
        assert!(parse(&args(&["--minutes"])).is_err());
        assert!(parse(&args(&["--minutes", "soon"])).is_err());
        assert!(parse(&args(&["--fast"])).is_err());
    }
}
