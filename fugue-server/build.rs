//! Fetches xterm.js for the browser viewer's page (feature `viewer`, on by default): runs
//! `npm ci` on `web/package-lock.json` in `OUT_DIR`, so the pinned packages come from the
//! npm registry at build time and nothing of theirs is kept in the repository.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=web/package.json");
    println!("cargo::rerun-if-changed=web/package-lock.json");
    println!("cargo::rerun-if-changed=web/index.html");
    println!("cargo::rerun-if-changed=web/app.js");
    println!("cargo::rerun-if-changed=web/app.css");
    if std::env::var_os("CARGO_FEATURE_VIEWER").is_none() {
        return;
    }
    if let Err(why) = fetch() {
        eprintln!(
            "error: the browser viewer needs xterm.js from npm: {why}\n\
             Install Node.js and npm (Debian: `apt-get install npm`), or build without the \
             viewer's page: `cargo build --no-default-features`."
        );
        std::process::exit(1);
    }
}

fn fetch() -> Result<(), String> {
    let out = std::env::var("OUT_DIR").map_err(|err| format!("no OUT_DIR: {err}"))?;
    let dir = Path::new(&out).join("npm");
    let marker = dir.join("node_modules/.package-lock.json");
    let lock = Path::new("web/package-lock.json");
    let wanted = std::fs::read(lock).map_err(|err| format!("cannot read {lock:?}: {err}"))?;
    if std::fs::read(dir.join("package-lock.json")).ok().as_ref() == Some(&wanted)
        && marker.exists()
    {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(|err| format!("cannot create {dir:?}: {err}"))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(Path::new("web").join(file), dir.join(file))
            .map_err(|err| format!("cannot copy web/{file}: {err}"))?;
    }
    let status = Command::new("npm")
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .current_dir(&dir)
        .status()
        .map_err(|err| format!("cannot run npm: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`npm ci` failed ({status})"))
    }
}
