//! `fugue run`: type a command into a session's shell, print its output as it comes, and
//! exit with its status. Ctrl-C, SIGTERM, SIGHUP or `--timeout` interrupt the command in
//! the session with a Ctrl-C of its own (and still wait, briefly, for the shell to report
//! its status); before the command is typed they just stop, and nothing is typed.

use std::cell::Cell;
use std::io::Write as _;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use bytes::Bytes;
use fugue_client::{Client, ClientError, Role, RunOutcome, RunProgress};
use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::{Instant, sleep_until};

use super::wait::EXIT_TIMEOUT;
use super::{Globals, StdoutClosed, connect, print};
use crate::attach::EXIT_SERVER_GONE;
use crate::cli::RunArgs;

/// Exit code when the command could not be run (the code `timeout(1)` uses when it fails).
pub const EXIT_CANNOT_RUN: u8 = 125;

/// How long an interrupted command's shell gets to report its status.
const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

/// Why waiting for the command stopped early, and the exit code that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// By a signal: 128 + its number.
    Signal(u8),
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
    let mut out = Output::start(args.json);
    let typing = Cell::new(false);
    let (result, cut) = {
        let progress = |progress: RunProgress<'_>| match progress {
            RunProgress::Typing => typing.set(true),
            RunProgress::Output(text) => out.write(text),
        };
        let running = client.run_with(&args.session, &command, progress);
        let deadline = args.timeout.map(|limit| Instant::now() + limit);
        wait(running, deadline, || typing.get(), &client, &args.session).await?
    };
    let collected = out.finish()?;
    finish(result, cut, &args, collected)
}

/// Waits for the run, interrupting it on a signal or at `deadline`.
async fn wait(
    running: impl Future<Output = Result<RunOutcome, ClientError>>,
    deadline: Option<Instant>,
    typed: impl Fn() -> bool,
    client: &Client,
    session: &str,
) -> anyhow::Result<(Result<Option<RunOutcome>, ClientError>, Option<Cut>)> {
    tokio::pin!(running);
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut cut: Option<(Cut, Instant)> = None;
    loop {
        let grace_over = cut.map(|(_, at)| at + INTERRUPT_GRACE);
        let now_cut = tokio::select! {
            result = &mut running => return Ok((result.map(Some), cut.map(|(cut, _)| cut))),
            _ = tokio::signal::ctrl_c(), if cut.is_none() => Cut::Signal(2),
            _ = terminate.recv(), if cut.is_none() => Cut::Signal(15),
            _ = hangup.recv(), if cut.is_none() => Cut::Signal(1),
            () = sleep_until(deadline.unwrap_or_else(Instant::now)),
                if deadline.is_some() && cut.is_none() => Cut::TimedOut,
            () = sleep_until(grace_over.unwrap_or_else(Instant::now)), if grace_over.is_some() => {
                return Ok((Ok(None), cut.map(|(cut, _)| cut)));
            }
        };
        if !typed() {
            // Nothing typed yet: stop here, and nothing will be.
            return Ok((Ok(None), Some(now_cut)));
        }
        cut = Some((now_cut, Instant::now()));
        interrupt(client, session).await;
    }
}

/// Picks the exit code and says what happened.
fn finish(
    result: Result<Option<RunOutcome>, ClientError>,
    cut: Option<Cut>,
    args: &RunArgs,
    output: String,
) -> anyhow::Result<u8> {
    let session = &args.session;
    if cut == Some(Cut::TimedOut) {
        let secs = args.timeout.unwrap_or_default().as_secs_f64();
        eprintln!("fugue: timed out after {secs} s; the command in {session} was interrupted");
    }
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(ClientError::Closed) => {
            eprintln!("fugue: lost connection to fugue-server");
            return Ok(EXIT_SERVER_GONE);
        }
        Err(err @ ClientError::OutputGone { .. }) => return Err(err.into()),
        // Refused, unknown or ended session, nothing typed or cancelled.
        Err(err) => {
            eprintln!("fugue: {err}");
            return Ok(EXIT_CANNOT_RUN);
        }
    };
    if args.json {
        let doc = json!({
            "status": outcome.as_ref().map(|outcome| outcome.status),
            "output": output,
            "seq_start": outcome.as_ref().map(|outcome| outcome.seq_start),
            "seq_end": outcome.as_ref().map(|outcome| outcome.seq_end),
            "interrupted": matches!(cut, Some(Cut::Signal(_))),
            "timed_out": cut == Some(Cut::TimedOut),
        });
        print(&format!("{doc}\n"))?;
    }
    Ok(match (cut, outcome) {
        (Some(Cut::TimedOut), _) => EXIT_TIMEOUT,
        (_, Some(outcome)) => u8::try_from(outcome.status.rem_euclid(256)).unwrap_or(1),
        // Interrupted before the shell reported (or before anything was typed).
        (Some(Cut::Signal(number)), None) => 128 + number,
        (None, None) => 1,
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

/// Where the command's output goes: collected for JSON, or written to standard output by
/// a thread of its own, so that a slow reader of it never holds up following the session
/// (which would make the server drop output for this client).
enum Output {
    Collected(String),
    Streamed {
        tx: Option<std_mpsc::Sender<String>>,
        writer: std::thread::JoinHandle<bool>,
    },
}

impl Output {
    fn start(json: bool) -> Self {
        if json {
            return Output::Collected(String::new());
        }
        let (tx, rx) = std_mpsc::channel::<String>();
        let writer = std::thread::spawn(move || {
            let mut stdout = std::io::stdout().lock();
            while let Ok(text) = rx.recv() {
                if stdout.write_all(text.as_bytes()).is_err() {
                    return false;
                }
                // Whatever else came meanwhile goes in the same flush.
                for text in rx.try_iter() {
                    if stdout.write_all(text.as_bytes()).is_err() {
                        return false;
                    }
                }
                if stdout.flush().is_err() {
                    return false;
                }
            }
            true
        });
        Output::Streamed {
            tx: Some(tx),
            writer,
        }
    }

    fn write(&mut self, text: &str) {
        match self {
            Output::Collected(all) => all.push_str(text),
            // A closed reader is noticed at the end; the command still runs to its end.
            Output::Streamed { tx: Some(tx), .. } => {
                let _ = tx.send(text.to_owned());
            }
            Output::Streamed { tx: None, .. } => {}
        }
    }

    /// Waits for the writer; returns what was collected.
    fn finish(self) -> anyhow::Result<String> {
        match self {
            Output::Collected(all) => Ok(all),
            Output::Streamed { tx, writer } => {
                drop(tx);
                match writer.join() {
                    Ok(true) => Ok(String::new()),
                    _ => Err(StdoutClosed.into()),
                }
            }
        }
    }
}
