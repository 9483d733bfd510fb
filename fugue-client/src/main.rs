//! `fugue`: the command-line client of the fugue terminal-session server.
//!
//! A thin layer over the `fugue_client` library: `cli/` declares the arguments,
//! `settings.rs` fills in what they leave out from the environment and the configuration
//! file, `commands/` holds one module per subcommand, `attach.rs` runs an attached terminal
//! (with `input.rs`, `forward.rs`, `interrupts.rs`, `reconnect.rs`, `mirror.rs`,
//! `terminal.rs`, `keys.rs` and `modes.rs`), `table.rs` formats listings.
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success; detached from a session |
//! | N | the attached session's program exited with status N (128 + signal if killed); `fugue wait --exit` likewise; `fugue run`: the command's status |
//! | 1 | an error (message on stderr) |
//! | 2 | bad usage (from the argument parser) |
//! | 3 | the server went away or shut down during an attach or a wait |
//! | 4 | `fugue wait --after`: the output after the position is no longer held, or the position is ahead of the output |
//! | 124 | `fugue wait --timeout` or `fugue run --timeout` passed first |
//! | 125 | `fugue run` could not run the command (nothing was typed, or the session ended) |
//! | 128 + N | an attached client was ended by signal N (SIGHUP, SIGINT, SIGTERM) |

mod attach;
mod cli;
mod commands;
mod forward;
mod input;
mod interrupts;
mod keys;
mod mirror;
mod modes;
mod readable;
mod reconnect;
mod settings;
mod table;
mod terminal;

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// How long `main` lets leftover blocking work (a pending stdin read) hold up the exit.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let settings = match settings::Settings::resolve(&cli, &matches) {
        Ok(settings) => settings,
        Err(err) => return fail(&err),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => return fail(&anyhow::Error::new(err).context("cannot start the runtime")),
    };
    let result = runtime.block_on(commands::run(cli, settings));
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => fail(&err),
    }
}

/// The exit status of a process killed by SIGPIPE, as the shell reports it (128 + 13).
const EXIT_STDOUT_CLOSED: u8 = 141;

fn fail(err: &anyhow::Error) -> ExitCode {
    if err.is::<commands::StdoutClosed>() {
        return ExitCode::from(EXIT_STDOUT_CLOSED);
    }
    eprintln!("fugue: {err:#}");
    ExitCode::from(1)
}
