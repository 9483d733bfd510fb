//! Tidy checks: house rules for every `.rs` file in the workspace, written as plain tests.
//!
//! Each rule is cheap and textual. A failure lists every offending file at once. The walk
//! covers the whole workspace except `target/` directories (including `fuzz/target`) and
//! hidden directories (`.git`, `.cargo`, ...).

use std::fs;
use std::path::{Path, PathBuf};

/// Files longer than this fail the length check unless they are in [`LONG_FILES`].
const MAX_LINES: usize = 700;

/// Files allowed past [`MAX_LINES`], each with its reason. Prefer splitting the file; an
/// entry that is no longer needed fails the check, so the list only shrinks.
const LONG_FILES: &[(&str, &str)] = &[];

/// A workspace `.rs` file: its path relative to the root (with `/`) and its text.
struct SourceFile {
    path: String,
    text: String,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

fn is_skipped_dir(name: &str) -> bool {
    name == "target" || name.starts_with('.')
}

fn collect_rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|err| panic!("reading {dir:?}: {err}"));
    for entry in entries {
        let entry = entry.unwrap();
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let file_type = entry.file_type().unwrap();
        if file_type.is_dir() && !is_skipped_dir(&name) {
            collect_rs_files(&path, out);
        } else if file_type.is_file() && name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn source_files() -> Vec<SourceFile> {
    let root = workspace_root();
    let mut paths = Vec::new();
    collect_rs_files(&root, &mut paths);
    paths.sort();
    assert!(!paths.is_empty(), "no .rs files under {root:?}");
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path:?}: {err}"));
            let relative = path.strip_prefix(&root).unwrap_or(&path);
            let parts: Vec<_> = relative.iter().map(|part| part.to_string_lossy()).collect();
            SourceFile {
                path: parts.join("/"),
                text,
            }
        })
        .collect()
}

/// Whether `path` holds only test code: anything under a `tests/` or `benches/` directory
/// (integration tests and the end-to-end crate) or a sibling `tests.rs` module.
fn is_test_file(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    let file_name = parts.pop().unwrap_or_default();
    file_name == "tests.rs" || parts.iter().any(|dir| matches!(*dir, "tests" | "benches"))
}

/// The part of `text` before its `#[cfg(test)]` module, which by house style is at the end.
fn non_test_part(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, line)| line.trim() != "#[cfg(test)]")
}

fn fail_with(rule: &str, offenders: &[String]) {
    assert!(
        offenders.is_empty(),
        "{rule}; {} offender(s):\n  {}",
        offenders.len(),
        offenders.join("\n  ")
    );
}

#[test]
fn every_rs_file_starts_with_a_module_doc() {
    let offenders: Vec<String> = source_files()
        .into_iter()
        .filter(|file| !file.text.starts_with("//!"))
        .map(|file| file.path)
        .collect();
    fail_with(
        "the first line of every .rs file must be a `//!` doc line",
        &offenders,
    );
}

#[test]
fn no_debugging_leftovers_in_non_test_code() {
    // Built at run time so that this file does not contain what it looks for.
    let needles: Vec<String> = ["dbg", "todo", "unimplemented"]
        .iter()
        .map(|name| format!("{name}!("))
        .collect();
    let mut offenders = Vec::new();
    for file in source_files()
        .iter()
        .filter(|file| !is_test_file(&file.path))
    {
        for (index, line) in non_test_part(&file.text) {
            if let Some(needle) = needles.iter().find(|needle| line.contains(needle.as_str())) {
                offenders.push(format!("{}:{}: {needle}", file.path, index + 1));
            }
        }
    }
    fail_with("debugging macros left in non-test code", &offenders);
}

#[test]
fn files_stay_within_the_length_budget() {
    let files = source_files();
    let allowed = |path: &str| LONG_FILES.iter().any(|(long, _)| *long == path);
    let mut offenders: Vec<String> = files
        .iter()
        .filter(|file| file.text.lines().count() > MAX_LINES && !allowed(&file.path))
        .map(|file| format!("{} ({} lines)", file.path, file.text.lines().count()))
        .collect();
    for (long, _) in LONG_FILES {
        let still_long = files
            .iter()
            .any(|file| file.path == *long && file.text.lines().count() > MAX_LINES);
        if !still_long {
            offenders.push(format!(
                "{long}: in LONG_FILES but absent or short; remove the entry"
            ));
        }
    }
    fail_with(
        &format!("files over {MAX_LINES} lines (split them, or add a reasoned LONG_FILES entry)"),
        &offenders,
    );
}

#[test]
fn walk_skips_target_and_hidden_dirs_and_finds_this_file() {
    let files = source_files();
    assert!(files.iter().any(|file| file.path == "xtask/src/tidy.rs"));
    for file in &files {
        let dirs: Vec<&str> = file.path.split('/').collect();
        let dirs = &dirs[..dirs.len() - 1];
        assert!(!dirs.iter().any(|dir| is_skipped_dir(dir)), "{}", file.path);
    }
}

#[test]
fn test_files_are_recognised() {
    assert!(is_test_file("fugue-protocol/tests/codec/golden.rs"));
    assert!(is_test_file("tests/src/lib.rs"));
    assert!(is_test_file("fugue-registry/benches/registry.rs"));
    assert!(is_test_file("fugue-server/src/session/tests.rs"));
    assert!(!is_test_file("fugue-server/src/session.rs"));
    assert!(!is_test_file("fugue-protocol/src/tests_support.rs"));
}

#[test]
fn the_cfg_test_module_is_excluded_from_the_leftover_scan() {
    let text = "//! doc\nfn f() {}\n#[cfg(test)]\nmod tests {}\n";
    let kept: Vec<&str> = non_test_part(text).map(|(_, line)| line).collect();
    assert_eq!(kept, ["//! doc", "fn f() {}"]);
}
