//! The attached terminal: raw mode, the session's screen on stdout, keystrokes to the
//! server, until a detach, the program's exit, a signal, or the server going away.
//!
//! One `select!` loop handles events, signals and the input forwarder's notices. Output is
//! written as it comes, in batches flushed after each, so heavy output never starves the
//! rest of the loop and input never waits for a drained backlog.

use std::io::{self, BufWriter, Write};

use anyhow::Context as _;
use fugue_client::{Attachment, Client, DetachReason, Event, Events, ExitStatus};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use crate::forward::{Forwarding, InputPolicy, Typing, spawn_forwarder};
use crate::interrupts::{Interrupts, Signals};
use crate::mirror::Mirror;
use crate::modes::ScreenModes;
use crate::reconnect::{Reconnect, Resumed, Watchdog};
use crate::terminal::{RawMode, RawStdout, reset_sequence, terminal_size};

/// Exit code when the server went away or shut down during an attach.
pub const EXIT_SERVER_GONE: u8 = 3;

/// Events written per batch before the loop looks at input and signals again.
const EVENTS_PER_BATCH: usize = 64;

/// How an attach ended.
#[derive(Debug)]
pub enum Outcome {
    Detached(DetachReason),
    Lost(Option<String>),
    Signal(&'static str, i32),
    Failed(anyhow::Error),
}

/// The state the loop keeps while attached.
pub struct Screen {
    /// The terminal.
    pub out: BufWriter<RawStdout>,
    modes: ScreenModes,
    name: String,
    exit_status: Option<ExitStatus>,
    server_error: Option<String>,
    /// The session shown: output of any other (one this connection was in before) is not.
    pub session: Uuid,
    /// The stream position the terminal shows, for resuming after a reconnect.
    pub seq: u64,
    /// A copy of the terminal's screen, through ssh only (see `mirror.rs`).
    pub mirror: Option<Mirror>,
}

impl Screen {
    /// Draws a fresh screen (a resync, a switch, a reconnect that missed too much): first
    /// undoes what the screen before had turned on (keyboard flags, modes), which the
    /// snapshot would otherwise stack on top of, then writes the snapshot.
    pub fn redraw(&mut self, snapshot: &[u8]) -> io::Result<()> {
        let undo = reset_sequence(&self.modes);
        self.modes = ScreenModes::default();
        self.out.write_all(undo.as_bytes())?;
        if let (Some(mirror), Some(size)) = (&mut self.mirror, terminal_size()) {
            mirror.reset(size, snapshot);
        }
        self.write(snapshot)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.modes.observe(bytes);
        self.out.write_all(bytes)
    }

    /// Writes one event; returns the outcome if the event ends the attach.
    fn apply(&mut self, event: Event) -> io::Result<Option<Outcome>> {
        match event {
            Event::Output { session, data, seq } => {
                if session == self.session {
                    self.seq = seq;
                    if let Some(mirror) = &mut self.mirror {
                        mirror.output(&data);
                    }
                    self.write(&data)?;
                }
            }
            Event::Resync { snapshot, seq } => {
                self.seq = seq;
                self.redraw(&snapshot)?;
            }
            Event::Switched(attachment) => {
                self.session = attachment.session.id;
                self.name = attachment.session.name;
                self.seq = attachment.seq;
                if let Some(snapshot) = attachment.snapshot {
                    self.redraw(&snapshot)?;
                }
            }
            // Not subscribed: no session events come.
            Event::OutputLost { .. } | Event::Session(_) | Event::EventsLost { .. } => {}
            Event::SessionExited { session, status } => {
                self.name = session;
                self.exit_status = Some(status);
            }
            Event::Detached { reason } => return Ok(Some(Outcome::Detached(reason))),
            Event::ServerError { message, .. } => self.server_error = Some(message),
            Event::Closed { error } => {
                let why = self
                    .server_error
                    .take()
                    .or(error.map(|err| err.to_string()));
                return Ok(Some(Outcome::Lost(why)));
            }
        }
        Ok(None)
    }
}

/// Runs an attach that the server has just confirmed; returns the exit code.
///
/// # Errors
///
/// When the terminal cannot be put in raw mode or written to, or the connection fails in
/// an unexpected way; the terminal is restored first.
pub async fn run(
    client: Client,
    mut events: Events,
    attachment: Attachment,
    policy: InputPolicy,
    mut reconnect: Reconnect,
) -> anyhow::Result<u8> {
    // Handlers first: a signal between raw mode and the handlers would kill the process
    // with the terminal left raw.
    let signals = Signals::new().context("cannot handle signals")?;
    let raw_mode = RawMode::enable().context("cannot put the terminal in raw mode")?;
    let snapshot = attachment.snapshot.as_deref().unwrap_or_default();
    let mirror = match (reconnect.is_remote(), terminal_size()) {
        (true, Some(size)) => Mirror::start(size, snapshot),
        _ => None,
    };
    let mut screen = Screen {
        out: BufWriter::with_capacity(64 * 1024, RawStdout),
        modes: ScreenModes::default(),
        name: attachment.session.name.clone(),
        session: attachment.session.id,
        exit_status: None,
        server_error: None,
        seq: attachment.seq,
        mirror,
    };
    let watchdog = Watchdog::new(&client, &reconnect);
    let (forwarder, clients_tx, mut interrupts) = start_forwarding(client, policy, signals);
    let outcome = match screen.write(snapshot) {
        Err(err) => Outcome::Failed(err.into()),
        Ok(()) => attached_loop(&mut screen, &mut events, &mut interrupts, watchdog).await,
    };
    let outcome = match outcome {
        Outcome::Lost(why) => {
            let mut attached = Attached {
                screen: &mut screen,
                interrupts: &mut interrupts,
                clients_tx: &clients_tx,
            };
            attached.reconnect(&mut reconnect, why).await
        }
        other => other,
    };
    forwarder.abort();
    let _ = screen.out.flush();
    drop(raw_mode);
    finish(&mut screen, outcome)
}

/// Starts the forwarder on `client`; returns it, where to publish the next connection,
/// and what to watch besides the connection.
fn start_forwarding(
    client: Client,
    policy: InputPolicy,
    signals: Signals,
) -> (
    tokio::task::JoinHandle<()>,
    watch::Sender<Option<Client>>,
    Interrupts,
) {
    let (notice_tx, notice_rx) = mpsc::channel(1);
    let (clients_tx, clients) = watch::channel(Some(client));
    let (typing, typing_rx) = watch::channel(Typing::default());
    let channels = Forwarding {
        clients,
        notice_tx,
        typing,
    };
    let forwarder = spawn_forwarder(channels, policy);
    let interrupts = Interrupts {
        signals,
        notice_rx,
        notices_open: true,
        typing: typing_rx,
    };
    (forwarder, clients_tx, interrupts)
}

/// An attach whose connection was lost, and what it needs to carry on.
struct Attached<'a> {
    screen: &'a mut Screen,
    interrupts: &'a mut Interrupts,
    clients_tx: &'a watch::Sender<Option<Client>>,
}

impl Attached<'_> {
    /// Reconnects and carries on, as often as the connection is lost; returns how the
    /// attach ended.
    async fn reconnect(&mut self, reconnect: &mut Reconnect, why: Option<String>) -> Outcome {
        let mut why = why;
        loop {
            let _ = self.clients_tx.send(None);
            // The session shown, which a switch may have changed.
            reconnect.session = self.screen.session.to_string();
            let resumed =
                crate::reconnect::resume(self.screen, reconnect, self.interrupts, why.take());
            let Resumed {
                client,
                mut events,
                attachment,
            } = match resumed.await {
                Ok(resumed) => resumed,
                Err(ended) => return ended,
            };
            let watchdog = Watchdog::new(&client, reconnect);
            let _ = self.clients_tx.send(Some(client));
            self.screen.seq = attachment.seq;
            if let Some(Err(err)) = attachment
                .snapshot
                .as_deref()
                .map(|s| self.screen.redraw(s))
            {
                return Outcome::Failed(err.into());
            }
            match attached_loop(self.screen, &mut events, self.interrupts, watchdog).await {
                Outcome::Lost(lost) => why = lost,
                other => return other,
            }
        }
    }
}

async fn attached_loop(
    screen: &mut Screen,
    events: &mut Events,
    interrupts: &mut Interrupts,
    mut watchdog: Watchdog,
) -> Outcome {
    loop {
        if let Err(err) = screen.out.flush() {
            return Outcome::Failed(err.into());
        }
        tokio::select! {
            biased;
            outcome = interrupts.next() => {
                watchdog.clear(screen);
                return outcome;
            }
            event = events.recv() => {
                watchdog.clear(screen);
                let Some(event) = event else { return Outcome::Lost(None) };
                match write_batch(screen, event, events) {
                    Ok(Some(outcome)) => return outcome,
                    Ok(None) => {}
                    Err(err) => return Outcome::Failed(err.into()),
                }
            }
            () = watchdog.tick() => watchdog.look(screen).await,
        }
    }
}

/// Applies `first` and whatever else is ready, up to a batch.
fn write_batch(
    screen: &mut Screen,
    first: Event,
    events: &mut Events,
) -> io::Result<Option<Outcome>> {
    if let Some(outcome) = screen.apply(first)? {
        return Ok(Some(outcome));
    }
    for _ in 1..EVENTS_PER_BATCH {
        let Some(event) = events.try_recv() else {
            break;
        };
        if let Some(outcome) = screen.apply(event)? {
            return Ok(Some(outcome));
        }
    }
    Ok(None)
}

/// Resets the terminal, says how the attach ended, and picks the exit code.
fn finish(screen: &mut Screen, outcome: Outcome) -> anyhow::Result<u8> {
    let name = &screen.name;
    let (message, code) = match outcome {
        Outcome::Detached(DetachReason::SessionEnded) => match screen.exit_status {
            Some(status) => {
                let code = status.shell_code();
                (
                    format!("[{name} exited with status {code}]"),
                    exit_byte(code),
                )
            }
            None => (format!("[{name} ended]"), 0),
        },
        Outcome::Detached(DetachReason::Requested) => (format!("[detached from {name}]"), 0),
        Outcome::Detached(DetachReason::Replaced) => (
            format!("[detached from {name}: another client took over]"),
            0,
        ),
        Outcome::Detached(DetachReason::TooSlow) => (
            format!("[detached from {name}: the terminal could not keep up]"),
            1,
        ),
        Outcome::Detached(DetachReason::ServerShutdown) => {
            ("[fugue-server shut down]".to_owned(), EXIT_SERVER_GONE)
        }
        Outcome::Lost(None) => (
            "[lost connection to fugue-server]".to_owned(),
            EXIT_SERVER_GONE,
        ),
        Outcome::Lost(Some(why)) => (
            format!("[lost connection to fugue-server: {why}]"),
            EXIT_SERVER_GONE,
        ),
        Outcome::Signal(name, number) => (
            format!("[{name} received, detached]"),
            exit_byte(128 + number),
        ),
        Outcome::Failed(err) => {
            let _ = write!(screen.out, "{}\r\n", reset_sequence(&screen.modes));
            let _ = screen.out.flush();
            return Err(err);
        }
    };
    let reset = reset_sequence(&screen.modes);
    // The terminal is cooked again, so `\n` is a full line break.
    let _ = write!(screen.out, "{reset}\n{message}\n");
    let _ = screen.out.flush();
    Ok(code)
}

/// An exit code as the byte a process can return; out-of-range codes become 1.
fn exit_byte(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}
