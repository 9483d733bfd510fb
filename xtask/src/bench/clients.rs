//! A group of client terminals on one session, each with its drain thread, and the
//! readiness handshake the scenarios share.
//!
//! Readiness is tested the same way for every tool: the session's program answers each
//! line typed into it with `PONG`, and a client is attached once `PONG` reaches its
//! terminal (live, or in the restored screen). Typing repeats until every client has
//! seen one, because a line typed before a client attached never reaches that client.

use std::process::Command;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};

use super::drain::{Drain, Event, Seen};
use super::pty::Terminal;

/// The answer of a session program to a typed line; needle 0 of readiness groups.
pub const PONG: &str = "PONG";
/// What the harness types to get a `PONG`.
pub const PING_LINE: &[u8] = b"p\r";
/// How often the ping is typed again while waiting.
const PING_EVERY: Duration = Duration::from_millis(250);

/// What is known about one client.
#[derive(Debug, Clone, Default)]
struct Progress {
    first_byte: Option<Instant>,
    found: Vec<Instant>,
    closed: bool,
}

/// Client terminals started on one session.
#[derive(Debug)]
pub struct Clients {
    needles: Vec<Vec<u8>>,
    terminals: Vec<Terminal>,
    drains: Vec<Drain>,
    progress: Vec<Progress>,
    events_tx: Sender<Seen>,
    events_rx: Receiver<Seen>,
}

impl Clients {
    /// An empty group whose clients are scanned for `needles`, in order.
    pub fn new(needles: &[&str]) -> Clients {
        let (events_tx, events_rx) = channel();
        Clients {
            needles: needles.iter().map(|n| n.as_bytes().to_vec()).collect(),
            terminals: Vec::new(),
            drains: Vec::new(),
            progress: Vec::new(),
            events_tx,
            events_rx,
        }
    }

    /// Starts one more client.
    ///
    /// # Errors
    ///
    /// When its terminal or process cannot be started.
    pub fn spawn(&mut self, cmd: Command) -> anyhow::Result<()> {
        let terminal = Terminal::spawn(cmd)?;
        let index = self.terminals.len();
        let drain = Drain::spawn(
            index,
            terminal.master_clone()?,
            &self.needles,
            self.events_tx.clone(),
        );
        self.terminals.push(terminal);
        self.drains.push(drain);
        self.progress.push(Progress::default());
        Ok(())
    }

    /// How many clients there are.
    pub fn len(&self) -> usize {
        self.terminals.len()
    }

    /// Types `bytes` on client `index`'s keyboard.
    ///
    /// # Errors
    ///
    /// When that terminal is gone.
    pub fn type_on(&self, index: usize, bytes: &[u8]) -> anyhow::Result<()> {
        match self.terminals.get(index) {
            Some(terminal) => terminal.type_bytes(bytes),
            None => bail!("no client {index}"),
        }
    }

    /// The client processes, one per terminal.
    pub fn pids(&self) -> Vec<u32> {
        self.terminals.iter().map(Terminal::pid).collect()
    }

    /// Bytes each client has printed so far.
    pub fn bytes(&self) -> Vec<u64> {
        self.drains.iter().map(Drain::bytes).collect()
    }

    /// Takes events until `deadline` or until `done` holds.
    fn pump(&mut self, deadline: Instant, done: impl Fn(&[Progress]) -> bool) {
        while !done(&self.progress) {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(seen) = self.events_rx.recv_timeout(left) else {
                return;
            };
            let progress = &mut self.progress[seen.client];
            match seen.event {
                Event::FirstByte => progress.first_byte = Some(seen.at),
                Event::Found(_) => progress.found.push(seen.at),
                Event::Closed => progress.closed = true,
            }
        }
    }

    /// Waits until every client has shown needle `needle`; returns when each did.
    ///
    /// # Errors
    ///
    /// When the deadline passes first or a client's terminal closes.
    pub fn wait_found(&mut self, needle: usize, deadline: Instant) -> anyhow::Result<Vec<Instant>> {
        let all_found = |all: &[Progress]| all.iter().all(|p| p.found.len() > needle || p.closed);
        self.pump(deadline, all_found);
        let mut times = Vec::with_capacity(self.len());
        for (index, progress) in self.progress.iter().enumerate() {
            match progress.found.get(needle) {
                Some(at) => times.push(*at),
                None if progress.closed => {
                    bail!("client {index} exited before showing needle {needle}")
                }
                None => bail!(
                    "client {index} did not show needle {needle} in time ({} of {} did)",
                    self.progress
                        .iter()
                        .filter(|p| p.found.len() > needle)
                        .count(),
                    self.len()
                ),
            }
        }
        Ok(times)
    }

    /// Waits until every client has shown needle `needle`, or until no client has
    /// printed anything for `quiet` (the stream is over: a client still without the
    /// needle lost it), or `deadline`. Returns when each client showed it, if it did.
    pub fn wait_found_or_quiet(
        &mut self,
        needle: usize,
        deadline: Instant,
        quiet: Duration,
    ) -> Vec<Option<Instant>> {
        let all_found = |all: &[Progress]| all.iter().all(|p| p.found.len() > needle || p.closed);
        let mut total: u64 = self.bytes().iter().sum();
        let mut changed = Instant::now();
        loop {
            let now = Instant::now();
            self.pump((now + Duration::from_millis(100)).min(deadline), all_found);
            let now = Instant::now();
            if all_found(&self.progress) || now >= deadline {
                break;
            }
            let new_total: u64 = self.bytes().iter().sum();
            if new_total != total {
                (total, changed) = (new_total, now);
            } else if now.duration_since(changed) >= quiet {
                break;
            }
        }
        self.progress
            .iter()
            .map(|p| p.found.get(needle).copied())
            .collect()
    }

    /// Waits until client `index` prints its first byte, or `deadline`.
    pub fn first_byte(&mut self, index: usize, deadline: Instant) -> Option<Instant> {
        self.pump(deadline, |all| {
            all[index].first_byte.is_some() || all[index].closed
        });
        self.progress[index].first_byte
    }

    /// The readiness handshake: types [`PING_LINE`] on client 0 until every client has
    /// shown needle 0 ([`PONG`]).
    ///
    /// # Errors
    ///
    /// When `timeout` passes first or a client exits.
    pub fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        ensure!(self.len() > 0, "no clients to wait for");
        let deadline = Instant::now() + timeout;
        loop {
            self.type_on(0, PING_LINE)?;
            let round = (Instant::now() + PING_EVERY).min(deadline);
            match self.wait_found(0, round) {
                Ok(_) => return Ok(()),
                Err(err)
                    if Instant::now() >= deadline || self.progress.iter().any(|p| p.closed) =>
                {
                    return Err(err.context("waiting for every client to attach"));
                }
                Err(_) => {}
            }
        }
    }

    /// Kills every client and stops the drain threads; returns the last bytes each
    /// client printed.
    pub fn close(mut self) -> Vec<Vec<u8>> {
        for terminal in &mut self.terminals {
            terminal.kill();
        }
        self.drains.drain(..).map(Drain::stop).collect()
    }
}
