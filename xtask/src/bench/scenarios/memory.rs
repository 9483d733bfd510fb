//! Server memory: RSS of the tool's server process with one idle session and one client,
//! then with many clients.

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
        many_clients_kib,
        n_clients,
    })
}

/// `VmRSS` of a process, KiB.
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_vm_rss(&status).with_context(|| format!("no VmRSS in {path}"))
}

/// The `VmRSS:  1234 kB` line of `/proc/PID/status`.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tcat\nVmPeak:\t  9000 kB\nVmRSS:\t    1812 kB\nRssAnon:\t 100 kB\n";
        assert_eq!(parse_vm_rss(status), Some(1812));
        assert_eq!(parse_vm_rss("Name:\tcat\n"), None);
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }
}
