//! Getting back to the session when the connection drops while attached.
//!
//! Locally, a dropped connection means the server dropped this client (it was stopped too
//! long, say) or is going away: a few quick attempts, silently. Through ssh it is usually
//! the link (a Wi-Fi change, a suspended laptop, a NAT that forgot the connection): the
//! client tries again with backoff, for as long as it takes, until it is back, the detach
//! key is pressed (exit 0, detached), a signal comes, or a failure that trying again
//! cannot fix (a refused login, no `fugue` there, the session gone). Reconnecting never
//! prompts (ssh's `BatchMode`): the terminal is raw.
//!
//! After a second, a status line (`[reconnecting to HOST… 3s]`) goes over the bottom row;
//! before the resumed output it is taken away again from the [`crate::mirror::Mirror`]'s
//! copy, so the screen is exactly as it was. Without a good copy the status goes in the
//! window title instead (pushed and popped), and the screen is not touched at all.

use std::cell::RefCell;
use std::io::Write;
use std::time::Duration;

use fugue_client::{Attachment, Client, ClientError, ConnectOptions, Events, TermSize};
use tokio::time::{Instant, interval_at, sleep};

use crate::attach::{Outcome, Screen};
use crate::forward::Typing;
use crate::interrupts::Interrupts;
use crate::mirror::Restore;
use crate::terminal::terminal_size;

/// Attempts on this machine before giving up.
const LOCAL_ATTEMPTS: u32 = 5;
/// Pause before the first local attempt; it doubles after each failure.
const LOCAL_BACKOFF: Duration = Duration::from_millis(50);
/// Pause before the first attempt through ssh; it doubles up to [`REMOTE_BACKOFF_MAX`].
const REMOTE_BACKOFF: Duration = Duration::from_millis(250);
/// The longest pause between attempts through ssh.
const REMOTE_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long the link is down before the status line shows, and how often it is updated.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// How to get back to the session: the same server and role, and the session's id.
#[derive(Debug, Clone)]
pub struct Reconnect {
    /// Where and how to connect (never auto-starting: a new server would not have the
    /// session; through ssh, never prompting).
    options: ConnectOptions,
    /// The session's id.
    pub session: String,
}

impl Reconnect {
    /// Reconnects as `options` connected, to `session`.
    pub fn new(options: ConnectOptions, session: String) -> Reconnect {
        let remote = options
            .remote()
            .cloned()
            .map(fugue_client::Remote::non_interactive);
        let options = match remote {
            Some(remote) => options.with_remote(Some(remote)),
            None => options,
        }
        .with_auto_start(false);
        Reconnect { options, session }
    }

    /// Whether the server is reached through ssh.
    pub fn is_remote(&self) -> bool {
        self.options.remote().is_some()
    }
}

/// A new connection, attached again.
pub struct Resumed {
    /// The connection.
    pub client: Client,
    /// Its events.
    pub events: Events,
    /// The attach: no snapshot when the missed output follows as events.
    pub attachment: Attachment,
}

/// Connects again and attaches from the terminal's position, so the terminal gets exactly
/// the output it missed (or one fresh screen if the server no longer has it). `Err` with
/// how the attach ends instead: gone for good (`why` said why the connection was lost, if
/// nothing better is known), detached, or a signal.
pub async fn resume(
    screen: &mut Screen,
    reconnect: &Reconnect,
    interrupts: &mut Interrupts,
    why: Option<String>,
) -> Result<Resumed, Outcome> {
    let started = Instant::now();
    let last_error = RefCell::new(None);
    let attempts = attempts(reconnect, screen.seq, &last_error, why);
    tokio::pin!(attempts);
    let mut status = Status::Hidden;
    let mut tick = interval_at(started + STATUS_EVERY, STATUS_EVERY);
    let host = reconnect
        .options
        .remote()
        .map(|remote| remote.host().to_owned());
    let dropped_before = interrupts.typing.borrow().dropped;
    let this_outage = |typing: Typing| Typing {
        dropped: typing.dropped - dropped_before,
        ..typing
    };
    let result = loop {
        tokio::select! {
            biased;
            outcome = interrupts.next() => break Err(outcome),
            result = &mut attempts => break result,
            _ = tick.tick(), if host.is_some() => {
                let text = status_text(
                    host.as_deref().unwrap_or_default(),
                    started.elapsed(),
                    this_outage(*interrupts.typing.borrow()),
                    last_error.borrow().as_deref(),
                );
                status.show(screen, &text).await;
            }
        }
    };
    status.hide(screen);
    if this_outage(*interrupts.typing.borrow()).dropped > 0 {
        // Typing was dropped: the status line that said so is gone, the bell is not.
        let _ = screen.out.write_all(b"\x07");
    }
    result
}

/// Tries until attached again, or a failure that trying cannot fix; `why` the connection
/// was lost ends a local attach that could not get back.
async fn attempts(
    reconnect: &Reconnect,
    seq: u64,
    last_error: &RefCell<Option<String>>,
    why: Option<String>,
) -> Result<Resumed, Outcome> {
    let remote = reconnect.is_remote();
    let (mut backoff, most, limit) = if remote {
        (REMOTE_BACKOFF, REMOTE_BACKOFF_MAX, u32::MAX)
    } else {
        (LOCAL_BACKOFF, LOCAL_BACKOFF * 16, LOCAL_ATTEMPTS)
    };
    for _ in 0..limit {
        sleep(backoff).await;
        backoff = (backoff * 2).min(most);
        match attempt(reconnect, seq).await {
            Ok(resumed) => return Ok(resumed),
            Err(Failure::Retry(err)) => *last_error.borrow_mut() = Some(err.to_string()),
            Err(Failure::Final(err)) if remote => {
                return Err(Outcome::Lost(Some(err.to_string())));
            }
            Err(Failure::Final(_)) => break,
        }
    }
    // Locally, the failed attempts say less than why the connection was lost.
    Err(Outcome::Lost(why))
}

/// Why an attempt failed: worth another, or not.
enum Failure {
    Retry(ClientError),
    Final(ClientError),
}

async fn attempt(reconnect: &Reconnect, seq: u64) -> Result<Resumed, Failure> {
    let remote = reconnect.is_remote();
    let size = terminal_size().unwrap_or(TermSize::DEFAULT);
    let (client, events) = Client::connect(&reconnect.options).await.map_err(|err| {
        match !remote || err.is_transient() {
            true => Failure::Retry(err),
            false => Failure::Final(err),
        }
    })?;
    let attachment = client
        .attach_from(&reconnect.session, size, Some(seq))
        .await
        .map_err(|err| match remote && err.is_transient() {
            true => Failure::Retry(err),
            false => Failure::Final(err),
        })?;
    Ok(Resumed {
        client,
        events,
        attachment,
    })
}

/// `[reconnecting to HOST… 3s]`, then what became of typing and the last failure.
fn status_text(host: &str, down: Duration, typing: Typing, error: Option<&str>) -> String {
    let mut text = format!("[reconnecting to {host}… {}s]", down.as_secs());
    if typing.held > 0 {
        text.push_str(&format!(" typing held: {} bytes", typing.held));
    }
    if typing.dropped > 0 {
        text.push_str(&format!(" dropped: {} bytes", typing.dropped));
    }
    if let Some(error) = error {
        text.push_str(" · ");
        text.push_str(error);
    }
    text
}

/// How long a link goes without a word from the server before the attached terminal
/// says so (the keepalive makes a live server answer within a few seconds).
const SILENCE_SHOWN: Duration = Duration::from_secs(4);

/// While attached through ssh: after [`SILENCE_SHOWN`] without a word from the server, a
/// status line says so, until something comes (it is taken away first) or the silence
/// limit ends the connection and the reconnecting status takes over.
pub struct Watchdog {
    /// The connection watched and its host; `None` on this machine (never shows).
    watched: Option<(Client, String)>,
    status: Status,
    tick: tokio::time::Interval,
}

impl Watchdog {
    /// Watches `client` if `reconnect` goes through ssh.
    pub fn new(client: &Client, reconnect: &Reconnect) -> Watchdog {
        let host = reconnect
            .options
            .remote()
            .map(|remote| remote.host().to_owned());
        Watchdog {
            watched: host.map(|host| (client.clone(), host)),
            status: Status::Hidden,
            tick: tokio::time::interval(STATUS_EVERY),
        }
    }

    /// Waits for the next look at the link (never, on this machine).
    pub async fn tick(&mut self) {
        match self.watched {
            Some(_) => {
                self.tick.tick().await;
            }
            None => std::future::pending().await,
        }
    }

    /// Shows or updates the status if the link has been silent long enough.
    pub async fn look(&mut self, screen: &mut Screen) {
        let Some((client, host)) = &self.watched else {
            return;
        };
        let silence = client.silence();
        if silence >= SILENCE_SHOWN {
            let text = format!("[no word from {host} for {}s]", silence.as_secs());
            self.status.show(screen, &text).await;
        }
    }

    /// Takes the status away, before anything else is written.
    pub fn clear(&mut self, screen: &mut Screen) {
        self.status.hide(screen);
    }
}

/// Where the status is shown.
enum Status {
    Hidden,
    /// Over the bottom row of a terminal of this size, which `Restore` puts back.
    Row(Restore, TermSize),
    /// In the window title (pushed first, popped after).
    Title,
}

impl Status {
    /// Shows `text`: over the bottom row if the mirror can take it away again, else in
    /// the title. Write errors are left for the attach loop to meet.
    async fn show(&mut self, screen: &mut Screen, text: &str) {
        let size = terminal_size().unwrap_or(TermSize::DEFAULT);
        if matches!(self, Status::Row(_, shown_at) if *shown_at != size) {
            // Resized meanwhile: the row is put back where it was, and the title takes over.
            self.hide(screen);
            let _ = screen.out.write_all(b"\x1b[22;0t");
            *self = Status::Title;
        }
        if let Status::Hidden = self {
            let restore = match &screen.mirror {
                Some(mirror) => mirror.restore(size).await,
                None => None,
            };
            *self = match restore {
                Some(restore) => Status::Row(restore, size),
                None => {
                    let _ = screen.out.write_all(b"\x1b[22;0t");
                    Status::Title
                }
            };
        }
        let shown: String = text
            .chars()
            .filter(|c| !c.is_control())
            .take(usize::from(size.cols.saturating_sub(1)))
            .collect();
        let _ = match self {
            Status::Row(restore, _) => {
                let row = format!("\x1b[{};1H\x1b[0;7m\x1b[2K{shown}\x1b[0m", size.rows);
                screen
                    .out
                    .write_all(row.as_bytes())
                    .and_then(|()| screen.out.write_all(&restore.cursor))
            }
            Status::Title => write!(screen.out, "\x1b]2;{shown}\x07"),
            Status::Hidden => Ok(()),
        };
        let _ = screen.out.flush();
    }

    /// Takes the status away: the bottom row as it was, or the title popped.
    fn hide(&mut self, screen: &mut Screen) {
        let _ = match std::mem::replace(self, Status::Hidden) {
            Status::Row(restore, _) => screen
                .out
                .write_all(&restore.row)
                .and_then(|()| screen.out.write_all(&restore.cursor)),
            Status::Title => screen.out.write_all(b"\x1b[23;0t"),
            Status::Hidden => Ok(()),
        };
        let _ = screen.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_says_how_long_and_what_became_of_typing() {
        let typing = Typing {
            held: 3,
            dropped: 0,
            last_sent: None,
        };
        assert_eq!(
            status_text("build", Duration::from_millis(3400), typing, None),
            "[reconnecting to build… 3s] typing held: 3 bytes"
        );
        let typing = Typing {
            held: 4096,
            dropped: 10,
            last_sent: None,
        };
        assert_eq!(
            status_text(
                "b",
                Duration::ZERO,
                typing,
                Some("ssh to b failed: refused")
            ),
            "[reconnecting to b… 0s] typing held: 4096 bytes dropped: 10 bytes · ssh to b \
             failed: refused"
        );
    }
}
