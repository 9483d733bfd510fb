//! `cargo xtask ci`: the checks CI runs, in the order it runs them.
//!
//! Each step is one cargo command run from the workspace root; the first failure stops the
//! run, so the message names the step to fix. The test step is `cargo test --workspace`,
//! which includes xtask's own tidy tests.

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

/// The steps, cheapest first, so a formatting slip fails in seconds.
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
    Step {
        what: "tests",
        args: &["test", "--workspace"],
    },
];

/// Runs every CI step from `root`, stopping at the first that fails.
///
/// # Errors
///
/// When a step cannot be started or exits unsuccessfully.
pub fn run(root: &Path) -> anyhow::Result<()> {
    run_steps(&crate::cargo::program(), root, STEPS)?;
    eprintln!("xtask ci: all {} steps passed", STEPS.len());
    Ok(())
}

fn run_steps(program: &OsString, root: &Path, steps: &[Step]) -> anyhow::Result<()> {
    for (index, step) in steps.iter().enumerate() {
        let command_line = format!("{} {}", program.to_string_lossy(), step.args.join(" "));
        eprintln!("xtask ci [{}/{}]: {command_line}", index + 1, steps.len());
        let status = Command::new(program)
            .args(step.args)
            .current_dir(root)
            .status()
            .with_context(|| format!("cannot run `{command_line}`"))?;
        if !status.success() {
            bail!(
                "step {}/{} failed: {} (`{command_line}` exited with {status})",
                index + 1,
                steps.len(),
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
    fn steps_are_fmt_then_clippy_then_test() {
        let lines: Vec<String> = STEPS.iter().map(|step| step.args.join(" ")).collect();
        assert_eq!(
            lines,
            [
                "fmt --all -- --check",
                "clippy --workspace --all-targets -- -D warnings",
                // The README names this exact command; keep them in step.
                "test --workspace",
            ]
        );
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
        let err = run_steps(&OsString::from("sh"), &dir, &steps).unwrap_err();
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
        let err = run_steps(&program, Path::new("."), &steps).unwrap_err();
        assert!(err.to_string().starts_with("cannot run"), "{err}");
    }
}
