//! What `run` types into a session's shell, and the checks before: the command as it is
//! for a shell that marks its commands, else through `eval` with a mark of its own; and,
//! for fish, whether it can parse the line at all.

use fugue_protocol::SessionInfo;

use super::SETTLE_LIMIT;
use super::cut::Framing;
use crate::error::ClientError;

/// Shells that take `CMD; printf …` as one command line (fish's status is `$status`).
const KNOWN_SHELLS: &[&str] = &[
    "bash", "zsh", "fish", "sh", "dash", "ash", "ksh", "mksh", "yash", "busybox",
];

/// The line to type for `command`, and how its end will show.
///
/// # Errors
///
/// [`ClientError::CannotRun`] when the program marks no commands and is not a shell this
/// knows how to type a mark into (typing into `cat` would never end).
pub(super) fn typed_line(
    info: &SessionInfo,
    command: &str,
) -> Result<(String, Framing), ClientError> {
    if info.shell_marks {
        return Ok((format!("{command}\r"), Framing { token: None }));
    }
    let program = program_name(info.command.first().map_or("", String::as_str));
    if !KNOWN_SHELLS.contains(&program) {
        return Err(ClientError::CannotRun {
            session: info.name.clone(),
            reason: format!(
                "its program, `{program}`, is not a shell that marks its commands' ends \
                 (OSC 133) nor one of {}",
                KNOWN_SHELLS.join(", ")
            ),
        });
    }
    let token = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let fish = program == "fish";
    let status = if fish { "$status" } else { "$?" };
    // Through `eval`, so that a comment, a trailing `&` or an incomplete line in the
    // command cannot swallow the mark or leave the shell waiting for more.
    let quoted = single_quoted(command, fish);
    let line = format!("eval {quoted}; printf '\\033]133;D;%s;fugue={token}\\007' \"{status}\"\r");
    Ok((line, Framing { token: Some(token) }))
}

/// `text` in single quotes, for a POSIX shell or for fish (whose single quotes take `\'`
/// and `\\` as escapes).
fn single_quoted(text: &str, fish: bool) -> String {
    if fish {
        format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// fish does not run a line it cannot parse, nor show a prompt after an incomplete one
/// (it waits for more): such a line would never end. So it is checked first, with the
/// session's own fish (`--no-execute`, which prints what is wrong).
pub(super) async fn check_fish_syntax(
    info: &SessionInfo,
    command: &str,
) -> Result<(), ClientError> {
    let Some(fish) = info
        .command
        .first()
        .filter(|program| program_name(program) == "fish")
    else {
        return Ok(());
    };
    let checked = tokio::process::Command::new(fish)
        .args(["--no-config", "--no-execute", "--command", command])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .output();
    // A fish that cannot be run or hangs here is no reason not to try.
    let Ok(Ok(output)) = tokio::time::timeout(SETTLE_LIMIT, checked).await else {
        return Ok(());
    };
    let complaint = String::from_utf8_lossy(&output.stderr);
    match complaint.lines().next() {
        Some(first) if !output.status.success() || !first.trim().is_empty() => {
            Err(ClientError::CannotRun {
                session: info.name.clone(),
                reason: format!(
                    "fish cannot parse it ({})",
                    first.trim_start_matches("fish: ")
                ),
            })
        }
        _ => Ok(()),
    }
}

/// The file name of a session's program.
fn program_name(program: &str) -> &str {
    let name = program.rsplit('/').next().unwrap_or(program);
    name.trim_start_matches('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_quoted_for_eval() {
        assert_eq!(single_quoted("echo 'a' b", false), r"'echo '\''a'\'' b'");
        assert_eq!(single_quoted(r"echo 'a' \", true), r"'echo \'a\' \\'");
    }

    #[test]
    fn program_names_ignore_paths_and_login_dashes() {
        assert_eq!(program_name("/usr/bin/fish"), "fish");
        assert_eq!(program_name("-bash"), "bash");
        assert_eq!(program_name(""), "");
    }
}
