//! `--daemon`: start the server detached, and return once its socket accepts.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::settings::Settings;

/// How long the parent waits for the daemon's socket.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Re-executes this binary without `--daemon`, in a new session, with stdio on /dev/null
/// and logs in a file; waits until the socket accepts or the child fails.
pub(crate) fn start(settings: &Settings) -> Result<()> {
    let socket_path = settings.socket_path.as_path();
    if std::os::unix::net::UnixStream::connect(socket_path).is_ok() {
        bail!(
            "fugue-server is already running on {}",
            socket_path.display()
        );
    }
    let dir = socket_path.parent().unwrap_or(Path::new("."));
    fugue_server::socket::prepare_dir(dir)?;
    let log_file = settings
        .log_file
        .clone()
        .unwrap_or_else(|| dir.join("fugue-server.log"));
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let mut cmd = Command::new(exe);
    cmd.arg("--socket")
        .arg(socket_path)
        .arg("--log-file")
        .arg(&log_file)
        .arg("--max-clients")
        .arg(settings.max_clients.to_string())
        .arg("--idle-timeout")
        .arg(settings.idle_timeout.to_string())
        .arg("--scrollback")
        .arg(settings.scrollback.to_string())
        .arg("--idle-after")
        .arg(settings.idle_after.to_string())
        .args((!settings.shell_integration).then_some("--no-shell-integration"))
        .args((!settings.agent_link).then_some("--no-agent-link"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir("/");
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent; it is the
    // only thing that runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| rustix::process::setsid().map(drop).map_err(Into::into));
    }
    let mut child = cmd.spawn().context("cannot start the daemon")?;
    let started = Instant::now();
    loop {
        if std::os::unix::net::UnixStream::connect(socket_path).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait().context("cannot watch the daemon")? {
            bail!("the daemon exited ({status}); see {}", log_file.display());
        }
        if started.elapsed() > READY_TIMEOUT {
            bail!(
                "the daemon did not open {} in time; see {}",
                socket_path.display(),
                log_file.display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
