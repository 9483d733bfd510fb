//! `fugue wait`: watch a session read-only until its screen matches a regex or its program
//! exits, checking the screen at most every [`CHECK_INTERVAL`] while output arrives.

use std::time::Duration;

use anyhow::Context as _;
use fugue_client::{
    CaptureFormat, Client, ClientError, DetachReason, Event, Events, Role, TermSize,
};
use regex::{Regex, RegexBuilder};
use tokio::time::{Instant, sleep_until, timeout_at};

use super::{Globals, connect, print};
use crate::attach::EXIT_SERVER_GONE;
use crate::cli::WaitArgs;

/// Exit code when `--timeout` passes first (the code `timeout(1)` uses).
pub const EXIT_TIMEOUT: u8 = 124;

/// Exit code when the output after `--after` cannot be matched exactly: the server no
/// longer holds it, or the position is ahead of the output.
pub const EXIT_OUTPUT_GONE: u8 = 4;

/// The shortest time between two screen checks while output keeps coming.
const CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// Waits as `args` asks; returns 0 on a match, the program's status for `--exit`.
///
/// # Errors
///
/// When the regex is invalid, the server cannot be reached, or the session is unknown.
pub async fn run(globals: &Globals, args: WaitArgs) -> anyhow::Result<u8> {
    let pattern = args.condition.pattern.as_deref();
    let regex = pattern
        .map(|pattern| RegexBuilder::new(pattern).multi_line(true).build())
        .transpose()
        .context("invalid --for regex")?;
    let waiting = async {
        match (args.after, regex.as_ref()) {
            (Some(after), Some(regex)) => after_position(globals, &args, regex, after).await,
            _ => wait(globals, &args.session, regex.as_ref()).await,
        }
    };
    let Some(limit) = args.timeout else {
        return waiting.await;
    };
    match timeout_at(Instant::now() + limit, waiting).await {
        Ok(result) => result,
        Err(_) => {
            let what = match pattern {
                Some(pattern) => format!("/{pattern}/"),
                None => "the program to exit".to_owned(),
            };
            let secs = limit.as_secs_f64();
            eprintln!(
                "fugue: timed out after {secs} s waiting for {what} in {}",
                args.session
            );
            Ok(EXIT_TIMEOUT)
        }
    }
}

/// `--for REGEX --after SEQ`: matches the output after the position, line by line.
async fn after_position(
    globals: &Globals,
    args: &WaitArgs,
    regex: &Regex,
    after: u64,
) -> anyhow::Result<u8> {
    let (client, _events) = connect(globals, Role::Control, false).await?;
    match client.wait_after(&args.session, regex, after).await {
        Ok(found) => {
            if args.json {
                print(&format!("{}\n", serde_json::to_string(&found)?))?;
            }
            Ok(0)
        }
        Err(err @ (ClientError::OutputGone { .. } | ClientError::PositionAhead { .. })) => {
            eprintln!("fugue: {err}");
            Ok(EXIT_OUTPUT_GONE)
        }
        Err(err @ ClientError::SessionEnded { .. }) => {
            eprintln!("fugue: {err} before the output matched");
            Ok(1)
        }
        Err(ClientError::Closed) => {
            eprintln!("fugue: lost connection to fugue-server");
            Ok(EXIT_SERVER_GONE)
        }
        Err(err) => Err(err.into()),
    }
}

async fn wait(globals: &Globals, session: &str, regex: Option<&Regex>) -> anyhow::Result<u8> {
    let (client, mut events) = connect(globals, Role::ReadOnly, false).await?;
    // Viewers never resize the session, so the size asked for here does not matter.
    let attachment = client.attach(session, TermSize::DEFAULT).await?;
    let watched = Watched {
        client: &client,
        key: attachment.session.id.to_string(),
        name: attachment.session.name,
    };
    match regex {
        Some(regex) => watched.until_match(&mut events, regex).await,
        None => watched.until_exit(&mut events).await,
    }
}

/// The session being watched.
struct Watched<'a> {
    client: &'a Client,
    /// The id, stable across renames.
    key: String,
    name: String,
}

impl Watched<'_> {
    async fn until_match(&self, events: &mut Events, regex: &Regex) -> anyhow::Result<u8> {
        let mut schedule = CheckSchedule::default();
        if self.matches(regex).await? {
            return Ok(0);
        }
        schedule.checked(Instant::now());
        loop {
            let due = schedule.due();
            tokio::select! {
                event = events.recv() => match event {
                    Some(Event::Output { .. } | Event::Resync { .. } | Event::OutputLost { .. }) => {
                        schedule.output_arrived(Instant::now());
                    }
                    Some(Event::SessionExited { .. } | Event::Detached { .. }) => {
                        // One last look: the final output may hold the match.
                        if self.matches(regex).await.unwrap_or(false) {
                            return Ok(0);
                        }
                        return Ok(self.ended(event, "before the screen matched"));
                    }
                    Some(Event::ServerError { .. } | Event::Session(_) | Event::EventsLost { .. } | Event::Switched(_)) => {}
                    Some(Event::Closed { .. }) | None => return Ok(self.ended(None, "")),
                },
                () = sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    schedule.checked(Instant::now());
                    if self.matches(regex).await? {
                        return Ok(0);
                    }
                }
            }
        }
    }

    async fn until_exit(&self, events: &mut Events) -> anyhow::Result<u8> {
        loop {
            match events.recv().await {
                Some(Event::SessionExited { status, .. }) => {
                    return Ok(u8::try_from(status.shell_code()).unwrap_or(1));
                }
                Some(event @ Event::Detached { .. }) => return Ok(self.ended(Some(event), "")),
                Some(Event::Closed { .. }) | None => return Ok(self.ended(None, "")),
                Some(_) => {}
            }
        }
    }

    async fn matches(&self, regex: &Regex) -> anyhow::Result<bool> {
        let capture = self
            .client
            .capture(&self.key, CaptureFormat::Plain, 0)
            .await?;
        Ok(regex.is_match(&capture.text))
    }

    /// Reports why watching stopped without success and picks the exit code.
    fn ended(&self, event: Option<Event>, suffix: &str) -> u8 {
        let name = &self.name;
        let (what, code) = match event {
            Some(Event::SessionExited { status, .. }) => (
                format!("session {name} exited with status {}", status.shell_code()),
                1,
            ),
            Some(Event::Detached {
                reason: DetachReason::ServerShutdown,
            }) => ("fugue-server shut down".to_owned(), EXIT_SERVER_GONE),
            Some(Event::Detached {
                reason: DetachReason::SessionEnded,
            }) => (format!("session {name} ended"), 1),
            Some(_) => (format!("detached from session {name}"), 1),
            None => (
                "lost connection to fugue-server".to_owned(),
                EXIT_SERVER_GONE,
            ),
        };
        let sep = if suffix.is_empty() { "" } else { " " };
        eprintln!("fugue: {what}{sep}{suffix}");
        code
    }
}

/// When to look at the screen again: as soon as output arrives, but never sooner than
/// [`CHECK_INTERVAL`] after the last look, so bursts of output cost one capture.
#[derive(Debug, Default)]
struct CheckSchedule {
    last_check: Option<Instant>,
    due: Option<Instant>,
}

impl CheckSchedule {
    fn output_arrived(&mut self, now: Instant) {
        if self.due.is_none() {
            let earliest = self.last_check.map_or(now, |last| last + CHECK_INTERVAL);
            self.due = Some(earliest.max(now));
        }
    }

    fn checked(&mut self, now: Instant) {
        self.last_check = Some(now);
        self.due = None;
    }

    fn due(&self) -> Option<Instant> {
        self.due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_output_is_checked_at_once() {
        let now = Instant::now();
        let mut schedule = CheckSchedule::default();
        schedule.output_arrived(now);
        assert_eq!(schedule.due(), Some(now));
    }

    #[test]
    fn output_soon_after_a_check_waits_for_the_interval() {
        let start = Instant::now();
        let mut schedule = CheckSchedule::default();
        schedule.checked(start);
        schedule.output_arrived(start + Duration::from_millis(10));
        schedule.output_arrived(start + Duration::from_millis(40));
        assert_eq!(schedule.due(), Some(start + CHECK_INTERVAL));
    }

    #[test]
    fn nothing_is_due_without_output() {
        let mut schedule = CheckSchedule::default();
        schedule.checked(Instant::now());
        assert_eq!(schedule.due(), None);
    }

    #[test]
    fn screen_regex_matches_per_line() {
        let regex = RegexBuilder::new(r"^\$ $")
            .multi_line(true)
            .build()
            .unwrap();
        assert!(regex.is_match("output\n$ \nmore"));
        assert!(!regex.is_match("a $ b"));
    }
}
