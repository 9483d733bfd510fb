//! Checking a new binary before the old server lets go: it must exist, be executable, be a
//! fugue-server, read this server's handoff format and speak every protocol version the
//! connected clients speak. Asked with `NEW --handoff-probe`, which prints one line:
//! `fugue-server VERSION formats F1,F2,.. protocols MIN-MAX`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use fugue_protocol::{MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};
use tokio::io::AsyncReadExt;

use super::state::{FORMAT, FORMATS_READ};
use crate::refusal::Refusal;

/// How long a binary gets to answer the probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a binary's answer is read: the line is a few dozen bytes.
const MAX_ANSWER: u64 = 4096;

/// This binary's answer to the probe.
pub(crate) fn answer() -> String {
    let formats: Vec<String> = FORMATS_READ.iter().map(u32::to_string).collect();
    format!(
        "fugue-server {} formats {} protocols {MIN_PROTOCOL_VERSION}-{PROTOCOL_VERSION}\n",
        env!("CARGO_PKG_VERSION"),
        formats.join(",")
    )
}

/// What a binary said it is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) version: String,
    formats: Vec<u32>,
    protocols: (u32, u32),
}

/// Parses an answer; `None` if it is not one.
fn parse(line: &str) -> Option<Answer> {
    let mut words = line.split_whitespace();
    let ("fugue-server", version, "formats", formats, "protocols", protocols, None) = (
        words.next()?,
        words.next()?,
        words.next()?,
        words.next()?,
        words.next()?,
        words.next()?,
        words.next(),
    ) else {
        return None;
    };
    let formats = formats
        .split(',')
        .map(str::parse)
        .collect::<Result<Vec<u32>, _>>()
        .ok()?;
    let (min, max) = protocols.split_once('-')?;
    Some(Answer {
        version: version.to_owned(),
        formats,
        protocols: (min.parse().ok()?, max.parse().ok()?),
    })
}

/// Runs `binary --handoff-probe`; its exit status and the start of what it printed (a
/// binary that prints more is cut off; one that outlives the caller's timeout is killed).
async fn run(binary: &Path) -> std::io::Result<(std::process::ExitStatus, Vec<u8>)> {
    let mut child = tokio::process::Command::new(binary)
        .arg("--handoff-probe")
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdout = Vec::new();
    if let Some(pipe) = child.stdout.take() {
        pipe.take(MAX_ANSWER).read_to_end(&mut stdout).await?;
    }
    Ok((child.wait().await?, stdout))
}

/// Probes `binary`; `versions` are the protocol versions connected clients speak.
///
/// # Errors
///
/// A refusal saying what is wrong with the binary.
pub(crate) async fn probe(binary: &Path, versions: &[u32]) -> Result<Answer, Refusal> {
    let refuse = |why: String| Refusal::Upgrade(format!("{}: {why}", binary.display()));
    let meta = std::fs::metadata(binary).map_err(|err| refuse(err.to_string()))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(refuse("not an executable file".into()));
    }
    let (status, stdout) = tokio::time::timeout(PROBE_TIMEOUT, run(binary))
        .await
        .map_err(|_| refuse("it did not answer the probe in time".into()))?
        .map_err(|err| refuse(format!("cannot run it: {err}")))?;
    let text = String::from_utf8_lossy(&stdout);
    let answer = match (status.success(), parse(&text)) {
        (true, Some(answer)) => answer,
        _ => {
            return Err(refuse(
                "not a fugue-server (it did not answer the probe)".into(),
            ));
        }
    };
    if !answer.formats.contains(&FORMAT) {
        return Err(refuse(format!(
            "fugue-server {} cannot read this server's state (format {FORMAT}; it reads {:?})",
            answer.version, answer.formats
        )));
    }
    let (min, max) = answer.protocols;
    if let Some(version) = versions.iter().find(|&&v| v < min || v > max) {
        return Err(refuse(format!(
            "fugue-server {} does not speak protocol {version}, which a connected client speaks",
            answer.version
        )));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_binary_answers_what_it_reads() {
        let answer = parse(&answer()).expect("our own answer parses");
        assert_eq!(answer.version, env!("CARGO_PKG_VERSION"));
        assert!(answer.formats.contains(&FORMAT));
        assert_eq!(answer.protocols, (MIN_PROTOCOL_VERSION, PROTOCOL_VERSION));
    }

    #[test]
    fn other_answers_are_not_probes() {
        for line in [
            "",
            "fugue-server 1.0",
            "fugue-server 1.0 formats x protocols 3-5",
            "fugue-server 1.0 formats 1 protocols 5",
            "fugue-server 1.0 formats 1 protocols 3-5 extra",
            "bash 5.2 formats 1 protocols 3-5",
        ] {
            assert_eq!(parse(line), None, "{line:?}");
        }
        assert!(parse("fugue-server 2.0 formats 1,2 protocols 3-7\n").is_some());
    }
}
