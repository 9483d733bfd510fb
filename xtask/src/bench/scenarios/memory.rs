//! Server memory: RSS of the tool's server process with one idle session and one client,
//! then with many clients. With one client, the anonymous part of RSS is read as well: the
//! rest is pages of the binary and shared libraries, which the page cache shares with every
//! process that maps them.

use std::time::Duration;

use anyhow::{Context, ensure};

use crate::bench::clients::{Clients, PONG};
use crate::bench::results::Memory;
use crate::bench::sandbox::Sandbox;
use crate::bench::tools::{Session, Tool};

/// Let allocations settle before reading RSS.
const SETTLE: Duration = Duration::from_secs(1);
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Measures a session of `tool` with 1, then `n_clients` clients.
///
/// # Errors
///
/// When the session or a client fails, or the server's RSS cannot be read.
pub fn memory(sandbox: &Sandbox, tool: Tool, n_clients: usize) -> anyhow::Result<Memory> {
    ensure!(tool.has_server(), "{} has no server", tool.name());
    let dir = sandbox.new_dir()?;
    let script = "while read -r x; do echo PO\"\"NG; done";
    let mut session = Session::start(sandbox, tool, dir, script)?;
    let server = session.server_pid(Duration::from_secs(10))?;
    let mut clients = Clients::new(&[PONG]);
    clients.spawn(session.attach())?;
    clients.wait_ready(READY_TIMEOUT)?;
    std::thread::sleep(SETTLE);
    let one_client_kib = rss_kib(server)?;
    let one_client_anon_kib = status_kib(server, "RssAnon:")?;
    while clients.len() < n_clients {
        clients.spawn(session.attach())?;
    }
    clients.wait_ready(READY_TIMEOUT)?;
    std::thread::sleep(SETTLE);
    let many_clients_kib = rss_kib(server)?;
    clients.close();
    session.stop();
    Ok(Memory {
        one_client_kib,
        one_client_anon_kib,
        many_clients_kib,
        n_clients,
    })
}

/// `VmRSS` of a process, KiB.
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmRSS:")
}

/// A `KEY  1234 kB` line of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, key: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_status_kib(&status, key).with_context(|| format!("no {key} in {path}"))
}

/// The value of the `KEY  1234 kB` line of a `/proc/PID/status` text.
fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tcat\nVmPeak:\t  9000 kB\nVmRSS:\t    1812 kB\nRssAnon:\t 100 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS:"), Some(1812));
        assert_eq!(parse_status_kib(status, "RssAnon:"), Some(100));
        assert_eq!(parse_status_kib("Name:\tcat\n", "VmRSS:"), None);
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }
}
