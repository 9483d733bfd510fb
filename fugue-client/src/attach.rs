//! The attached terminal: raw mode, the session's screen on stdout, keystrokes to the
//! server, until a detach, the program's exit, a signal, or the server going away.
//!
//! One `select!` loop handles events, signals and the input forwarder's notices. Output is
//! written as it comes, in batches flushed after each, so heavy output never starves the
//! rest of the loop and input never waits for a drained backlog.

use std::io::{self, BufWriter, Write};

use anyhow::Context as _;
use std::time::Duration;

use fugue_client::{
    Attachment, Client, ClientError, ConnectOptions, DetachReason, Event, Events, ExitStatus,
    TermSize,
};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use crate::input::{InputNotice, InputPolicy, spawn_forwarder};
use crate::modes::ScreenModes;
use crate::terminal::{RawMode, RawStdout, reset_sequence};

/// Exit code when the server went away or shut down during an attach.
pub const EXIT_SERVER_GONE: u8 = 3;

/// Events written per batch before the loop looks at input and signals again.
const EVENTS_PER_BATCH: usize = 64;

/// Attempts to reconnect after the connection drops while the server may still run.
const RECONNECT_ATTEMPTS: u32 = 5;
/// Pause before the first reconnect attempt; it doubles after each failure.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);

/// How to get back to the session if the connection drops (the server dropped a client
/// that was stopped too long, say): the same socket and role, and the session's id.
#[derive(Debug, Clone)]
pub struct Reconnect {
    /// Socket and role of the original connection (never auto-starting: a new server
    /// would not have the session).
    pub options: ConnectOptions,
    /// The session's id.
    pub session: String,
}

/// How an attach ended.
#[derive(Debug)]
enum Outcome {
    Detached(DetachReason),
    Lost(Option<String>),
    Signal(&'static str, i32),
    Failed(anyhow::Error),
}

/// The state the loop keeps while attached.
struct Screen {
    out: BufWriter<RawStdout>,
    modes: ScreenModes,
    name: String,
    exit_status: Option<ExitStatus>,
    server_error: Option<String>,
    /// The session shown: output of any other (one this connection was in before) is not.
    session: Uuid,
    /// The stream position the terminal shows, for resuming after a reconnect.
    seq: u64,
}

impl Screen {
    /// Draws a fresh screen (a resync, a switch, a reconnect that missed too much): first
    /// undoes what the screen before had turned on (keyboard flags, modes), which the
    /// snapshot would otherwise stack on top of, then writes the snapshot.
    fn redraw(&mut self, snapshot: &[u8]) -> io::Result<()> {
        let undo = reset_sequence(&self.modes);
        self.modes = ScreenModes::default();
        self.out.write_all(undo.as_bytes())?;
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
    let mut signals = Signals::new().context("cannot handle signals")?;
    let raw_mode = RawMode::enable().context("cannot put the terminal in raw mode")?;
    let mut screen = Screen {
        out: BufWriter::with_capacity(64 * 1024, RawStdout),
        modes: ScreenModes::default(),
        name: attachment.session.name.clone(),
        session: attachment.session.id,
        exit_status: None,
        server_error: None,
        seq: attachment.seq,
    };
    let (notice_tx, mut notice_rx) = mpsc::channel(1);
    let (clients_tx, clients_rx) = watch::channel(client);
    let forwarder = spawn_forwarder(clients_rx, policy, notice_tx);
    let mut outcome = match attachment.snapshot.as_deref().map(|s| screen.write(s)) {
        Some(Err(err)) => Outcome::Failed(err.into()),
        _ => attached_loop(&mut screen, &mut events, &mut notice_rx, &mut signals).await,
    };
    while let Outcome::Lost(_) = outcome {
        // The session shown, which a switch may have changed.
        reconnect.session = screen.session.to_string();
        let Some((client, new_events, attachment)) = resume(&reconnect, screen.seq).await else {
            break;
        };
        events = new_events;
        let _ = clients_tx.send(client);
        screen.seq = attachment.seq;
        if let Some(Err(err)) = attachment.snapshot.as_deref().map(|s| screen.redraw(s)) {
            outcome = Outcome::Failed(err.into());
            break;
        }
        outcome = attached_loop(&mut screen, &mut events, &mut notice_rx, &mut signals).await;
    }
    forwarder.abort();
    let _ = screen.out.flush();
    drop(raw_mode);
    finish(&mut screen, outcome)
}

/// Connects again and attaches from `seq`, so the terminal gets exactly the output it
/// missed (or one fresh screen if the server no longer has it), never a second redraw.
/// `None` if the server or the session is gone.
async fn resume(reconnect: &Reconnect, seq: u64) -> Option<(Client, Events, Attachment)> {
    let size = crate::terminal::terminal_size().unwrap_or(TermSize::DEFAULT);
    let mut backoff = RECONNECT_BACKOFF;
    for _ in 0..RECONNECT_ATTEMPTS {
        tokio::time::sleep(backoff).await;
        backoff *= 2;
        let Ok((client, events)) = Client::connect(&reconnect.options).await else {
            continue;
        };
        return match client
            .attach_from(&reconnect.session, size, Some(seq))
            .await
        {
            Ok(attachment) => Some((client, events, attachment)),
            Err(_) => None,
        };
    }
    None
}

async fn attached_loop(
    screen: &mut Screen,
    events: &mut Events,
    notice_rx: &mut mpsc::Receiver<InputNotice>,
    signals: &mut Signals,
) -> Outcome {
    // The forwarder ends after its notice; a closed channel must not be polled again.
    let mut notices_open = true;
    loop {
        if let Err(err) = screen.out.flush() {
            return Outcome::Failed(err.into());
        }
        tokio::select! {
            biased;
            signal = signals.recv() => return signal,
            notice = notice_rx.recv(), if notices_open => match notice {
                Some(InputNotice::Detached(reason)) => return Outcome::Detached(reason),
                // A closed connection is reported by the event stream, with more detail.
                Some(InputNotice::Failed(ClientError::Closed)) => {}
                Some(InputNotice::Failed(err)) => return Outcome::Failed(err.into()),
                None => notices_open = false,
            },
            event = events.recv() => {
                let Some(event) = event else { return Outcome::Lost(None) };
                match write_batch(screen, event, events) {
                    Ok(Some(outcome)) => return outcome,
                    Ok(None) => {}
                    Err(err) => return Outcome::Failed(err.into()),
                }
            }
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

/// The signals that end an attach (the terminal is restored on the way out).
struct Signals {
    terminate: Signal,
    hangup: Signal,
    interrupt: Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        Ok(Signals {
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn recv(&mut self) -> Outcome {
        tokio::select! {
            _ = self.terminate.recv() => Outcome::Signal("SIGTERM", 15),
            _ = self.hangup.recv() => Outcome::Signal("SIGHUP", 1),
            _ = self.interrupt.recv() => Outcome::Signal("SIGINT", 2),
        }
    }
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
