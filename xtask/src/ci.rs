//! `cargo xtask ci`: the checks CI runs, in the order it runs them.
//!
//! Formatting and clippy are one cargo command each, run from the workspace root; then
//! `cargo xtask test` (install what the tests need, `cargo test --workspace`, which
//! includes xtask's own tidy tests). The first failure stops the run, so the message names
//! the step to fix. rustfmt and clippy are added with rustup when they are missing.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// One CI step: the arguments given to cargo.
#[derive(Debug)]
struct Step {
    /// What the step checks, for the failure message.
    what: &'static str,
    args: &'static [&'static str],
}

/// The checks before the tests, cheapest first, so a formatting slip fails in seconds.
const STEPS: &[Step] = &[
    Step {
        what: "formatting (run `cargo fmt --all` to fix)",
        args: &["fmt", "--all", "--", "--check"],
    },
    Step {
        what: "clippy lints",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    },
];

/// Runs every CI step from `root`, stopping at the first that fails.
///
/// # Errors
///
/// When a step cannot be started or exits unsuccessfully.
pub fn run(root: &Path) -> anyhow::Result<()> {
    add_components()?;
    let total = STEPS.len() + 1;
    run_steps(&crate::cargo::program(), root, STEPS, total)?;
    eprintln!("xtask ci [{total}/{total}]: cargo xtask test");
    crate::test::run(root)?;
    eprintln!("xtask ci: all {total} steps passed");
    Ok(())
}

/// Adds rustfmt and clippy with rustup if cargo does not know them.
fn add_components() -> anyhow::Result<()> {
    let cargo = crate::cargo::program();
    let known = |tool: &str| {
        Command::new(&cargo)
            .args([tool, "--version"])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if known("fmt") && known("clippy") {
        return Ok(());
    }
    eprintln!("xtask ci: rustup component add rustfmt clippy");
    let status = Command::new("rustup")
        .args(["component", "add", "rustfmt", "clippy"])
        .status()
        .context("cannot run rustup to add rustfmt and clippy")?;
    if !status.success() {
        bail!("`rustup component add rustfmt clippy` failed ({status})");
    }
    Ok(())
}

/// Runs `steps` in order, numbered out of `total`, stopping at the first that fails.
fn run_steps(program: &OsString, root: &Path, steps: &[Step], total: usize) -> anyhow::Result<()> {
    for (index, step) in steps.iter().enumerate() {
        let command_line = format!("{} {}", program.to_string_lossy(), step.args.join(" "));
        eprintln!("xtask ci [{}/{total}]: {command_line}", index + 1);
        let status = Command::new(program)
            .args(step.args)
            .current_dir(root)
            .status()
            .with_context(|| format!("cannot run `{command_line}`"))?;
        if !status.success() {
            bail!(
                "step {}/{total} failed: {} (`{command_line}` exited with {status})",
                index + 1,
                step.what,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_fmt_then_clippy_then_the_tests() {
        let lines: Vec<String> = STEPS.iter().map(|step| step.args.join(" ")).collect();
        assert_eq!(
            lines,
            [
                "fmt --all -- --check",
                "clippy --workspace --all-targets -- -D warnings",
            ]
        );
        // The README names this exact command; keep them in step.
        assert_eq!(crate::test::TEST_ARGS.join(" "), "test --workspace");
    }

    #[test]
    fn stops_at_the_first_failing_step() {
        let dir = std::env::temp_dir().join(format!("xtask-ci-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let steps = [
            Step {
                what: "first",
                args: &["-c", "touch first"],
            },
            Step {
                what: "second",
                args: &["-c", "exit 3"],
            },
            Step {
                what: "third",
                args: &["-c", "touch third"],
            },
        ];
        let err = run_steps(&OsString::from("sh"), &dir, &steps, 3).unwrap_err();
        let message = err.to_string();
        let ran_first = dir.join("first").exists();
        let ran_third = dir.join("third").exists();
        std::fs::remove_dir_all(&dir).unwrap();

        assert!(message.starts_with("step 2/3 failed: second"), "{message}");
        assert!(message.contains("exit status: 3"), "{message}");
        assert!(ran_first, "steps run in the given directory, in order");
        assert!(!ran_third, "no step runs after a failure");
    }

    #[test]
    fn a_missing_program_is_an_error_not_a_panic() {
        let steps = [Step {
            what: "nothing",
            args: &[],
        }];
        let program = OsString::from("xtask-no-such-program");
        let err = run_steps(&program, Path::new("."), &steps, 1).unwrap_err();
        assert!(err.to_string().starts_with("cannot run"), "{err}");
    }
}
