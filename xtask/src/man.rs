//! `cargo xtask man`: the man pages of `fugue`, generated from its command-line
//! definitions (clap_mangen, through the hidden `fugue man DIR`), into `target/man/`:
//! `fugue.1` and a `fugue-SUBCOMMAND.1` per subcommand. Read one with `man -l`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// Builds `fugue` and writes its pages.
///
/// # Errors
///
/// When the build or the writing fails.
pub fn run(root: &Path) -> anyhow::Result<()> {
    crate::cargo::build_release(root, &["-p", "fugue-client", "--bin", "fugue"])?;
    let target = crate::cargo::target_dir(root);
    let dir = target.join("man");
    let status = Command::new(target.join("release").join("fugue"))
        .arg("man")
        .arg(&dir)
        .status()
        .context("cannot run fugue")?;
    if !status.success() {
        bail!("`fugue man` failed ({status})");
    }
    eprintln!(
        "xtask man: wrote {} (read with `man -l {}/fugue.1`)",
        dir.display(),
        dir.display()
    );
    Ok(())
}
