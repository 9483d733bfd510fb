//! The one place xtask finds cargo, the workspace's target directory, and makes release
//! builds, so that `ci`, `bench`, `soak` and `fuzz` agree on all three.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The cargo running `cargo xtask` (it sets `$CARGO`), so every step uses the same cargo
/// and toolchain; plain `cargo` otherwise.
pub(crate) fn program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

/// `$CARGO_TARGET_DIR` (relative to the workspace root when relative), else `target/` in
/// the workspace.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// Runs `cargo build --release ARGS` in the workspace, saying so first.
///
/// # Errors
///
/// When cargo cannot be started or the build fails.
pub(crate) fn build_release(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    eprintln!("xtask: cargo build --release {}", args.join(" "));
    let status = Command::new(program())
        .current_dir(root)
        .args(["build", "--release"])
        .args(args)
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("the release build failed ({status})");
    }
    Ok(())
}
