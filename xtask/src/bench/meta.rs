//! The conditions of a run, for the report: date, command, machine, load, versions.

use std::process::Command;

use super::sandbox::Sandbox;
use super::tools::Tool;

/// The 1, 5 and 15 minute load averages at a moment, with a label.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// When it was read (`start`, a scenario's name, `end`).
    pub label: String,
    /// `/proc/loadavg`'s first three fields.
    pub averages: [f64; 3],
}

/// What the report says about the run.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// UTC date and time the run started.
    pub date: String,
    /// The command that made the report.
    pub command: String,
    /// CPU model and core count.
    pub machine: String,
    /// Kernel release.
    pub kernel: String,
    /// The commit measured (`git describe --always --dirty`).
    pub commit: String,
    /// Load averages during the run.
    pub loads: Vec<Load>,
    /// Tool versions, by tool.
    pub versions: Vec<(Tool, String)>,
    /// Tools skipped, with how to install them.
    pub skipped: Vec<String>,
    /// Wall time of the whole run, seconds.
    pub seconds: f64,
}

/// The load averages now.
pub fn load(label: &str) -> Load {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut averages = [f64::NAN; 3];
    for (slot, field) in averages.iter_mut().zip(text.split_whitespace()) {
        *slot = field.parse().unwrap_or(f64::NAN);
    }
    Load {
        label: label.to_owned(),
        averages,
    }
}

/// The current UTC date and time, from `date`.
pub fn date() -> String {
    command_line(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default()
}

/// CPU model and core count.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cores} cores, {model}")
}

/// The commit of the workspace at `root`, `-dirty` when it has changes.
pub fn commit(root: &std::path::Path) -> String {
    let mut cmd = Command::new("git");
    cmd.current_dir(root)
        .args(["describe", "--always", "--dirty"]);
    command_line(&mut cmd).unwrap_or_else(|| "unknown commit".to_owned())
}

/// The kernel release.
pub fn kernel() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("Linux {}", release.trim())
}

/// The version line of `tool`.
pub fn version(sandbox: &Sandbox, tool: Tool) -> Option<String> {
    let mut cmd = match tool {
        Tool::Fugue => sandbox.command(sandbox.fugue_binary("fugue")),
        Tool::Raw => return None,
        Tool::FugueSsh | Tool::SshFugue | Tool::SshTmux => sandbox.command("ssh"),
        other => sandbox.command(other.name()),
    };
    match tool {
        Tool::Fugue => cmd.arg("--version"),
        Tool::Tmux => cmd.arg("-V"),
        Tool::Screen => cmd.arg("-v"),
        Tool::Dtach | Tool::Raw => cmd.arg("--help"),
        Tool::FugueSsh | Tool::SshFugue | Tool::SshTmux => cmd.arg("-V"),
    };
    // For the ssh variants, the transport's version (the report lists each line once).
    command_line(&mut cmd)
}

/// The first line a command prints (on stdout or stderr).
fn command_line(cmd: &mut Command) -> Option<String> {
    let output = cmd.output().ok()?;
    let text = if output.stdout.is_empty() {
        output.stderr
    } else {
        output.stdout
    };
    let line = String::from_utf8_lossy(&text)
        .lines()
        .next()?
        .trim()
        .to_owned();
    Some(line)
}
