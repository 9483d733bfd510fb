//! xtask: fugue's development automation, written in Rust and run as `cargo xtask <task>`.
//!
//! The `cargo xtask` alias (in `.cargo/config.toml`) builds and runs this binary, so the
//! automation needs nothing but cargo and behaves the same on a laptop and in CI. Tasks:
//!
//! - `bench`: fugue against tmux, screen, dtach and raw output, with a report (`bench/`).
//! - `ci`: format check, clippy, then `test`: exactly what CI runs (`ci.rs`).
//! - `fuzz`: the fuzz targets in `fuzz/` for a set time each (`fuzz.rs`).
//! - `help`: usage.
//! - `man`: the man pages of `fugue`, into `target/man/` (`man.rs`).
//! - `soak`: minutes of random clients against a release server, with figures (`soak.rs`).
//! - `test`: install what the tests need, then run every test (`test.rs`).
//!
//! The house rules that are cheap to check (a `//!` line atop every file, no leftover
//! `dbg!`, a file-length budget) are plain `#[test]`s in `tidy.rs`, so `cargo test
//! --workspace`, and therefore `ci`, runs them.

mod bench;
mod cargo;
mod ci;
mod fuzz;
mod man;
mod soak;
mod test;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  bench   measure fugue against tmux, screen and dtach (`cargo xtask bench --help`)
  ci      check formatting, run clippy with warnings denied, then `test`
          (what CI runs: if it passes here, CI is green)
  fuzz    run the fuzz targets for a set time (`cargo xtask fuzz --help`)
  help    print this message
  man     write the man pages of `fugue` into target/man
  soak    soak a release server with random clients (`cargo xtask soak --help`)
  test    install what the tests need (tmux, vim, ...), then run every test
";

/// A task named on the command line.
#[derive(Debug, PartialEq, Eq)]
enum Task {
    /// `bench` and its own arguments.
    Bench(Vec<String>),
    Ci,
    /// `fuzz` and its own arguments.
    Fuzz(Vec<String>),
    Help,
    Man,
    /// `soak` and its own arguments.
    Soak(Vec<String>),
    Test,
    // New tasks go here, with an arm in `parse_task` and `main`, a line in `USAGE` and a
    // module of their own.
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = parse_task(&args).and_then(|task| match task {
        Task::Bench(args) => bench::run(&workspace_root()?, &args),
        Task::Ci => ci::run(&workspace_root()?),
        Task::Fuzz(args) => fuzz::run(&workspace_root()?, &args),
        Task::Man => man::run(&workspace_root()?),
        Task::Soak(args) => soak::run(&workspace_root()?, &args),
        Task::Test => test::run(&workspace_root()?),
        Task::Help => {
            print_usage();
            Ok(())
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_task(args: &[String]) -> anyhow::Result<Task> {
    let task = match args.first().map(String::as_str) {
        Some("bench") => return Ok(Task::Bench(args[1..].to_vec())),
        Some("ci") => Task::Ci,
        Some("fuzz") => return Ok(Task::Fuzz(args[1..].to_vec())),
        Some("soak") => return Ok(Task::Soak(args[1..].to_vec())),
        Some("test") => Task::Test,
        Some("man") => Task::Man,
        Some("help" | "--help" | "-h") => Task::Help,
        Some(other) => bail!("unknown task `{other}`\n\n{USAGE}"),
        None => bail!("no task given\n\n{USAGE}"),
    };
    if let Some(extra) = args.get(1) {
        bail!("unexpected argument `{extra}` after the task\n\n{USAGE}");
    }
    Ok(task)
}

#[expect(clippy::print_stdout, reason = "usage is what `help` outputs")]
fn print_usage() {
    print!("{USAGE}");
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask's manifest directory has no parent")?;
    Ok(root.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn parses_each_task() {
        assert_eq!(parse_task(&args(&["ci"])).unwrap(), Task::Ci);
        assert_eq!(parse_task(&args(&["test"])).unwrap(), Task::Test);
        for help in ["help", "--help", "-h"] {
            assert_eq!(parse_task(&args(&[help])).unwrap(), Task::Help);
        }
        let bench = parse_task(&args(&["bench", "--quick"])).unwrap();
        assert_eq!(bench, Task::Bench(args(&["--quick"])));
    }

    #[test]
    fn rejects_unknown_missing_and_extra_arguments() {
        let err = parse_task(&args(&["bogus"])).unwrap_err().to_string();
        assert!(err.starts_with("unknown task `bogus`"), "{err}");
        assert!(err.contains("usage: cargo xtask"), "{err}");
        let err = parse_task(&args(&[])).unwrap_err().to_string();
        assert!(err.starts_with("no task given"), "{err}");
        let err = parse_task(&args(&["ci", "--fast"]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("unexpected argument `--fast`"), "{err}");
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = workspace_root().unwrap().join("Cargo.toml");
        let text = std::fs::read_to_string(manifest).unwrap();
        assert!(text.contains("[workspace]"));
    }
}
