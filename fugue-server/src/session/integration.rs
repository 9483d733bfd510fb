//! Shell integration: a shell fugue knows (bash, zsh, fish, sh), started with no
//! arguments, gets a few lines of startup code that mark each command's start and end with
//! its status (OSC 133 `C` and `D;N`), which `fugue run` reads to tell when a command
//! finished and how. The user's own startup files are read first, as the shell would read
//! them, and the user's hooks still see the command's status; terminals ignore the marks.
//!
//! The scripts (in `integration/`) are written to a directory of their own next to the
//! socket, private like it, when a session needs them.

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The scripts, by file name (zsh's under `zsh/`, as zsh wants them named).
const SCRIPTS: [(&str, &str); 6] = [
    ("bashrc", include_str!("integration/bashrc.bash")),
    ("fish.fish", include_str!("integration/fish.fish")),
    ("sh.sh", include_str!("integration/sh.sh")),
    ("zsh/.zshenv", include_str!("integration/zshenv.zsh")),
    ("zsh/.zprofile", include_str!("integration/zprofile.zsh")),
    ("zsh/.zshrc", include_str!("integration/zshrc.zsh")),
];

/// How to start a shell with the integration: arguments to add, environment to set.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Integration {
    pub(super) args: Vec<String>,
    pub(super) env: Vec<(String, OsString)>,
}

/// The integration for `command` run with `env` on top of the server's environment, with
/// its scripts in `dir`; `None` for a program that is not a bare shell fugue knows.
///
/// # Errors
///
/// When the scripts cannot be written.
pub(super) fn for_command(
    command: &[String],
    env: &[(String, String)],
    dir: &Path,
) -> io::Result<Option<Integration>> {
    let [program] = command else {
        return Ok(None);
    };
    let shell = Path::new(program)
        .file_name()
        .and_then(|name| name.to_str());
    let script = |name: &str| dir.join(name).to_string_lossy().into_owned();
    // What the program will see for `name`: the session's value, else the server's.
    let inherited = |name: &str| {
        let session = env.iter().find(|(key, _)| key == name);
        session
            .map(|(_, value)| OsString::from(value))
            .or_else(|| std::env::var_os(name))
    };
    let integration = match shell {
        Some("bash") => Integration {
            args: vec!["--rcfile".into(), script("bashrc")],
            env: Vec::new(),
        },
        Some("zsh") => Integration {
            args: Vec::new(),
            env: with_saved("ZDOTDIR", dir.join("zsh").into(), inherited("ZDOTDIR")),
        },
        Some("fish") => Integration {
            args: vec![
                "--init-command".into(),
                format!("source {}", fish_quote(&script("fish.fish"))),
            ],
            env: Vec::new(),
        },
        Some("sh" | "dash" | "ash") => Integration {
            args: Vec::new(),
            env: with_saved("ENV", script("sh.sh").into(), inherited("ENV")),
        },
        _ => return Ok(None),
    };
    write_scripts(dir)?;
    Ok(Some(integration))
}

/// Sets `name` to `value`, keeping the value the shell would have had in `FUGUE_<name>`
/// for the script to restore.
fn with_saved(name: &str, value: OsString, saved: Option<OsString>) -> Vec<(String, OsString)> {
    let mut env = vec![(name.to_owned(), value)];
    env.extend(saved.map(|saved| (format!("FUGUE_{name}"), saved)));
    env
}

/// `text` as one fish word.
fn fish_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Writes the scripts into `dir` (made private if new), leaving files that already say
/// the same.
fn write_scripts(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir.join("zsh"))?;
    for (name, text) in SCRIPTS {
        let path = dir.join(name);
        if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
            continue;
        }
        // Written aside and renamed over, so a shell starting meanwhile reads either.
        let partial: PathBuf = dir.join(format!("{name}.{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)?;
        io::Write::write_all(&mut file, text.as_bytes())?;
        std::fs::rename(&partial, &path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_known_shells_get_the_integration() {
        let dir = std::env::temp_dir().join(format!("fugue-integration-{}", std::process::id()));
        let of = |command: &[&str]| {
            let command: Vec<String> = command.iter().map(|s| (*s).to_owned()).collect();
            for_command(&command, &[("ENV".into(), "/u/env".into())], &dir).unwrap()
        };
        let bash = of(&["/bin/bash"]).unwrap();
        assert_eq!(
            bash.args,
            ["--rcfile", &dir.join("bashrc").to_string_lossy()]
        );
        let sh = of(&["sh"]).unwrap();
        assert_eq!(
            sh.env[1],
            ("FUGUE_ENV".to_owned(), OsString::from("/u/env"))
        );
        assert!(
            of(&["zsh"]).unwrap().env[0]
                .1
                .to_string_lossy()
                .ends_with("/zsh")
        );
        assert!(of(&["fish"]).unwrap().args[1].starts_with("source '"));
        assert_eq!(of(&["bash", "-l"]), None);
        assert_eq!(of(&["python3"]), None);
        assert!(dir.join("zsh/.zshrc").is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
