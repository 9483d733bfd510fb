//! The service gap of an upgrade (fugue only): sessions running a raw-mode `cat`, one
//! `fugue` client attached to each, every client timing keystroke echoes in a loop of its
//! own, while the server is upgraded (`fugue upgrade`) several times. For each upgrade, the
//! longest echo among those that were under way while it ran is the longest a client went
//! without service.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::bench::pty::Terminal;
use crate::bench::sandbox::Sandbox;
use crate::bench::tools::{Session, Tool, run};

use super::latency::{time_echo, wait_for_echo};
use super::wait_for_file;

/// The raw-mode `cat` every session runs.
const CAT: &str = "stty raw -echo; exec cat";
/// Quiet time before the first upgrade and between two.
const BETWEEN: Duration = Duration::from_millis(300);

/// Echoes one client timed: when each was typed, and how long it took to come back.
type Echoes = Vec<(Instant, Duration)>;

/// One upgrade's measurements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpgradeGap {
    /// The longest echo under way during the upgrade, any client, ms.
    pub gap_ms: f64,
    /// How long `fugue upgrade` took, ms.
    pub command_ms: f64,
    /// The median echo outside upgrades, microseconds.
    pub echo_us: f64,
}

/// Upgrades a server with `clients` sessions and clients `upgrades` times.
///
/// # Errors
///
/// When a session, client or upgrade fails.
pub fn upgrades(
    sandbox: &Sandbox,
    clients: usize,
    upgrades: usize,
) -> anyhow::Result<Vec<UpgradeGap>> {
    let dir = sandbox.new_dir()?;
    let ready = dir.join("raw-mode");
    let first = format!("stty raw -echo; : > {}; exec cat", ready.display());
    let mut session = Session::start(sandbox, Tool::Fugue, dir, &first)?;
    wait_for_file(&ready, Duration::from_secs(10))?;
    let mut terminals = vec![Terminal::spawn(session.attach())?];
    for index in 1..clients {
        let name = format!("bench-{index}");
        run(session
            .fugue()
            .args(["new", "-d", "-s", &name, "--", "/bin/sh", "-c", CAT]))?;
        let mut attach = session.fugue();
        attach.args(["attach", &name]);
        terminals.push(Terminal::spawn(attach)?);
    }
    for terminal in &terminals {
        wait_for_echo(terminal, b"~", Duration::from_secs(30))?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let typists: Vec<JoinHandle<anyhow::Result<Echoes>>> = terminals
        .into_iter()
        .map(|terminal| {
            let stop = stop.clone();
            std::thread::spawn(move || type_until(&terminal, &stop))
        })
        .collect();
    let binary = sandbox.fugue_binary("fugue-server");
    let windows = run_upgrades(&session, &binary, upgrades);
    stop.store(true, Ordering::Release);
    let mut echoes = Vec::new();
    for typist in typists {
        let typed = typist
            .join()
            .map_err(|_| anyhow::anyhow!("a typist panicked"))?;
        echoes.extend(typed?);
    }
    session.stop();
    gaps(&windows?, &echoes)
}

/// Times echoes back to back until `stop`. Unlike the latency scenario, it never pauses
/// to blank its line (a pause would hide a gap): fugue does not redraw during an upgrade,
/// so a wrapped or scrolled line cannot show an echo early.
fn type_until(terminal: &Terminal, stop: &AtomicBool) -> anyhow::Result<Echoes> {
    let mut buf = vec![0; 64 * 1024];
    let mut echoes = Vec::new();
    for byte in b"abcdefghijklmnopqrstuvwxyz".iter().cycle() {
        if stop.load(Ordering::Acquire) {
            break;
        }
        echoes.push(time_echo(terminal, *byte, &mut buf)?);
    }
    Ok(echoes)
}

/// Runs the upgrades, each after a quiet [`BETWEEN`]; when each started and ended.
fn run_upgrades(
    session: &Session<'_>,
    binary: &std::path::Path,
    upgrades: usize,
) -> anyhow::Result<Vec<(Instant, Instant)>> {
    let mut windows = Vec::with_capacity(upgrades);
    for _ in 0..upgrades {
        std::thread::sleep(BETWEEN);
        let start = Instant::now();
        let output = session
            .fugue()
            .arg("upgrade")
            .arg("--server-binary")
            .arg(binary)
            .output()
            .context("cannot run fugue upgrade")?;
        if !output.status.success() {
            bail!(
                "fugue upgrade failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        windows.push((start, Instant::now()));
    }
    std::thread::sleep(BETWEEN);
    Ok(windows)
}

/// For each upgrade window, the longest echo that overlapped it.
fn gaps(
    windows: &[(Instant, Instant)],
    echoes: &[(Instant, Duration)],
) -> anyhow::Result<Vec<UpgradeGap>> {
    let overlaps = |(start, end): (Instant, Instant), (typed, took): (Instant, Duration)| {
        typed < end && typed + took > start
    };
    let mut quiet: Vec<f64> = echoes
        .iter()
        .filter(|&&echo| !windows.iter().any(|&window| overlaps(window, echo)))
        .map(|(_, took)| took.as_secs_f64() * 1e6)
        .collect();
    quiet.sort_by(f64::total_cmp);
    let echo_us = quiet
        .get(quiet.len() / 2)
        .copied()
        .context("no echo outside upgrades")?;
    windows
        .iter()
        .map(|&window| {
            let longest = echoes
                .iter()
                .filter(|&&echo| overlaps(window, echo))
                .map(|(_, took)| took.as_secs_f64() * 1e3)
                .fold(0.0, f64::max);
            Ok(UpgradeGap {
                gap_ms: longest,
                command_ms: (window.1 - window.0).as_secs_f64() * 1e3,
                echo_us,
            })
        })
        .collect()
}
