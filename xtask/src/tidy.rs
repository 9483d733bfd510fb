//! Tidy checks: house rules for every `.rs` file in the workspace (and, for links, every
//! `.md` file), written as plain tests.
//!
//! Each rule is cheap and textual. A failure lists every offending file at once. The walk
//! covers the whole workspace except `target/` directories (including `fuzz/target`) and
//! hidden directories (`.git`, `.cargo`, ...).

use std::fs;
use std::path::{Path, PathBuf};

/// Source files longer than this fail the length check unless they are in [`LONG_FILES`].
const MAX_LINES: usize = 400;
/// The budget of test files (see [`is_test_file`]): tests read top to bottom, and one
/// scenario per function makes them long without making them hard to follow.
const MAX_TEST_LINES: usize = 700;
/// Functions of the server and the client longer than this fail the function check.
const MAX_FN_LINES: usize = 60;
/// Where the function budget applies.
const FN_BUDGET_DIRS: &[&str] = &["fugue-server/src/", "fugue-client/src/"];

/// Files allowed past their budget, each with its reason. Prefer splitting the file; an
/// entry that is no longer needed fails the check, so the list only shrinks.
const LONG_FILES: &[(&str, &str)] = &[];

/// A workspace file: its path relative to the root (with `/`) and its text.
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

fn collect_files(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|err| panic!("reading {dir:?}: {err}"));
    for entry in entries {
        let entry = entry.unwrap();
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let file_type = entry.file_type().unwrap();
        if file_type.is_dir() && !is_skipped_dir(&name) {
            collect_files(&path, extension, out);
        } else if file_type.is_file() && name.ends_with(extension) {
            out.push(path);
        }
    }
}

fn source_files() -> Vec<SourceFile> {
    files_ending_in(".rs")
}

fn files_ending_in(extension: &str) -> Vec<SourceFile> {
    let root = workspace_root();
    let mut paths = Vec::new();
    collect_files(&root, extension, &mut paths);
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

/// The line budget of `path`.
fn budget(path: &str) -> usize {
    if is_test_file(path) {
        MAX_TEST_LINES
    } else {
        MAX_LINES
    }
}

fn over_budget(file: &SourceFile) -> bool {
    file.text.lines().count() > budget(&file.path)
}

#[test]
fn files_stay_within_the_length_budget() {
    let files = source_files();
    let allowed = |path: &str| LONG_FILES.iter().any(|(long, _)| *long == path);
    let mut offenders: Vec<String> = files
        .iter()
        .filter(|file| over_budget(file) && !allowed(&file.path))
        .map(|file| {
            let (n, max) = (file.text.lines().count(), budget(&file.path));
            format!("{} ({n} lines, budget {max})", file.path)
        })
        .collect();
    for (long, _) in LONG_FILES {
        let still_long = files
            .iter()
            .any(|file| file.path == *long && over_budget(file));
        if !still_long {
            offenders.push(format!(
                "{long}: in LONG_FILES but absent or short; remove the entry"
            ));
        }
    }
    fail_with(
        "files over their line budget (split them, or add a reasoned LONG_FILES entry)",
        &offenders,
    );
}

/// The functions in `text` (before its test module): the line each starts on, its name and
/// its length in lines. Textual, for rustfmt's layout: a function ends at the first line
/// that is its own indentation followed by `}`.
fn functions(text: &str) -> Vec<(usize, String, usize)> {
    let lines: Vec<&str> = non_test_part(text).map(|(_, line)| line).collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let Some(name) = fn_name(line) else {
            continue;
        };
        let trimmed = line.trim_end();
        let opens = trimmed.matches('{').count();
        if trimmed.ends_with(';') || (opens > 0 && opens == trimmed.matches('}').count()) {
            continue; // A declaration without a body, or a one-line function.
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        let closing = format!("{indent}}}");
        if let Some(end) = (start + 1..lines.len()).find(|&at| lines[at] == closing) {
            found.push((start + 1, name, end - start + 1));
        }
    }
    found
}

/// The name of the function a line declares, if it starts one.
fn fn_name(line: &str) -> Option<String> {
    const QUALIFIERS: &[&str] = &[
        "pub",
        "pub(crate)",
        "pub(super)",
        "const",
        "async",
        "unsafe",
    ];
    let mut words = line
        .split_whitespace()
        .skip_while(|word| QUALIFIERS.contains(word));
    if words.next() != Some("fn") {
        return None;
    }
    let name: String = words
        .next()?
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

#[test]
fn server_and_client_functions_stay_within_the_length_budget() {
    let offenders: Vec<String> = source_files()
        .iter()
        .filter(|file| {
            FN_BUDGET_DIRS.iter().any(|dir| file.path.starts_with(dir)) && !is_test_file(&file.path)
        })
        .flat_map(|file| {
            functions(&file.text)
                .into_iter()
                .filter(|(_, _, len)| *len > MAX_FN_LINES)
                .map(move |(line, name, len)| format!("{}:{line}: {name} ({len} lines)", file.path))
        })
        .collect();
    fail_with(
        &format!("functions over {MAX_FN_LINES} lines in the server or the client"),
        &offenders,
    );
}

#[test]
fn function_lengths_are_measured_from_signature_to_closing_brace() {
    let text = "//! doc\nfn one() {}\npub(crate) async fn two(\n    a: u8,\n) -> u8 {\n    a\n}\n\
                impl X {\n    pub fn three(&self) {\n        if x {\n        }\n    }\n}\n\
                trait T {\n    fn four(&self);\n}\n#[cfg(test)]\nmod tests {\n    fn five() {\n    }\n}\n";
    let found: Vec<(usize, String, usize)> = functions(text);
    let expected = [(3, "two".to_owned(), 5), (9, "three".to_owned(), 4)];
    assert_eq!(found, expected);
}

#[test]
fn no_references_to_documents_outside_the_repository() {
    // Built at run time so that this file does not contain what it looks for.
    let needles: Vec<String> = [
        "../".to_owned() + "shared",
        "DESIGN".to_owned() + ".md",
        "STYLE".to_owned() + ".md",
        "DEPENDENCIES".to_owned() + ".md",
    ]
    .into_iter()
    .collect();
    let mut offenders = Vec::new();
    for file in source_files().iter().chain(&files_ending_in(".md")) {
        for (index, line) in file.text.lines().enumerate() {
            if let Some(needle) = needles.iter().find(|needle| line.contains(needle.as_str())) {
                offenders.push(format!("{}:{}: {needle}", file.path, index + 1));
            }
        }
    }
    fail_with(
        "references to documents outside the repository (say what they said instead)",
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
