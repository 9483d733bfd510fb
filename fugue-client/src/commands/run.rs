//! `fugue run`: type a command into a session's shell, print its output as it comes, and
//! exit with its status. Ctrl-C (or `--timeout`) interrupts the command in the session
//! with a Ctrl-C of its own and still waits, briefly, for the shell to report.

use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use fugue_client::{Client, ClientError, Role, RunOutcome};
use serde_json::json;
use tokio::time::{Instant, sleep_until};

use super::wait::EXIT_TIMEOUT;
use super::{Globals, StdoutClosed, connect, print};
use crate::attach::EXIT_SERVER_GONE;
use crate::cli::RunArgs;

/// Exit code when the command could not be run (the code `timeout(1)` uses when it fails).
pub const EXIT_CANNOT_RUN: u8 = 125;

/// How long an interrupted command's shell gets to report its status.
const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

/// Why waiting for the command stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    Interrupted,
    TimedOut,
}

/// Runs the command; returns its status (or a code from the README's table).
///
/// # Errors
///
/// When the server cannot be reached, or standard output fails.
pub async fn run(globals: &Globals, args: RunArgs) -> anyhow::Result<u8> {
    let command = args.command.join(" ");
    let (client, _events) = connect(globals, Role::Control, false).await?;
    let mut out = Output::new(args.json);
    let (result, cut) = {
        let running = client.run_with(&args.session, &command, |text| out.write(text));
        tokio::pin!(running);
        let deadline = args.timeout.map(|limit| Instant::now() + limit);
        let mut cut: Option<(Cut, Instant)> = None;
        let result = loop {
            let grace_over = cut.map(|(_, at)| at + INTERRUPT_GRACE);
            tokio::select! {
                result = &mut running => break result.map(Some),
                _ = tokio::signal::ctrl_c(), if cut.is_none() => {
                    cut = Some((Cut::Interrupted, Instant::now()));
                    interrupt(&client, &args.session).await;
                }
                () = sleep_until(deadline.unwrap_or_else(Instant::now)),
                    if deadline.is_some() && cut.is_none() => {
                    cut = Some((Cut::TimedOut, Instant::now()));
                    interrupt(&client, &args.session).await;
                }
                () = sleep_until(grace_over.unwrap_or_else(Instant::now)), if grace_over.is_some() => {
                    break Ok(None);
                }
            }
        };
        (result, cut.map(|(cut, _)| cut))
    };
    out.finish()?;
    finish(result, cut, &args, out)
}

/// Picks the exit code and says what happened.
fn finish(
    result: Result<Option<RunOutcome>, ClientError>,
    cut: Option<Cut>,
    args: &RunArgs,
    out: Output,
) -> anyhow::Result<u8> {
    let session = &args.session;
    if cut == Some(Cut::TimedOut) {
        let secs = args.timeout.unwrap_or_default().as_secs_f64();
        eprintln!("fugue: timed out after {secs} s; interrupted the command in {session}");
    }
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(err @ (ClientError::CannotRun { .. } | ClientError::SessionEnded { .. })) => {
            eprintln!("fugue: {err}");
            return Ok(EXIT_CANNOT_RUN);
        }
        Err(ClientError::Closed) => {
            eprintln!("fugue: lost connection to fugue-server");
            return Ok(EXIT_SERVER_GONE);
        }
        Err(err) => return Err(err.into()),
    };
    if args.json {
        let doc = json!({
            "status": outcome.as_ref().map(|outcome| outcome.status),
            "output": out.collected,
            "seq_start": outcome.as_ref().map(|outcome| outcome.seq_start),
            "seq_end": outcome.as_ref().map(|outcome| outcome.seq_end),
            "interrupted": cut == Some(Cut::Interrupted),
            "timed_out": cut == Some(Cut::TimedOut),
        });
        print(&format!("{doc}\n"))?;
    }
    Ok(match (cut, outcome) {
        (Some(Cut::TimedOut), _) => EXIT_TIMEOUT,
        (_, Some(outcome)) => u8::try_from(outcome.status.rem_euclid(256)).unwrap_or(1),
        // Interrupted, and the shell did not report in time.
        (_, None) => 130,
    })
}

/// Interrupts the command as a user's Ctrl-C would.
async fn interrupt(client: &Client, session: &str) {
    if let Err(err) = client
        .send_to_session(session, Bytes::from_static(b"\x03"))
        .await
    {
        eprintln!("fugue: could not interrupt the command: {err}");
    }
}

/// Where the command's output goes: standard output as it comes, or collected for JSON.
struct Output {
    json: bool,
    collected: String,
    stdout: std::io::BufWriter<std::io::Stdout>,
    closed: bool,
}

impl Output {
    fn new(json: bool) -> Self {
        Output {
            json,
            collected: String::new(),
            stdout: std::io::BufWriter::new(std::io::stdout()),
            closed: false,
        }
    }

    fn write(&mut self, text: &str) {
        if self.json {
            self.collected.push_str(text);
        } else if !self.closed && self.stdout.write_all(text.as_bytes()).is_err() {
            // The reader went away; the command still runs to its end.
            self.closed = true;
        }
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        if self.closed || self.stdout.flush().is_err() {
            return Err(StdoutClosed.into());
        }
        Ok(())
    }
}
