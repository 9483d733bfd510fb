//! What can end an attach besides the connection: signals (SIGTERM, SIGHUP, SIGINT), and
//! the forwarder's detach or failure.

use fugue_client::ClientError;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{mpsc, watch};

use crate::attach::Outcome;
use crate::forward::{InputNotice, Typing};

/// What can end an attach besides the connection: signals, and the forwarder's detach or
/// failure. Also carries what became of typing, for the reconnect status line.
pub struct Interrupts {
    pub(crate) signals: Signals,
    pub(crate) notice_rx: mpsc::Receiver<InputNotice>,
    pub(crate) notices_open: bool,
    /// What the forwarder did with typing.
    pub typing: watch::Receiver<Typing>,
}

impl Interrupts {
    /// The next signal, detach or failure.
    pub async fn next(&mut self) -> Outcome {
        loop {
            tokio::select! {
                biased;
                signal = self.signals.recv() => return signal,
                // The forwarder ends after its notice; a closed channel is not polled again.
                notice = self.notice_rx.recv(), if self.notices_open => match notice {
                    Some(InputNotice::Detached(reason)) => return Outcome::Detached(reason),
                    // A closed connection is reported by the event stream, with more detail.
                    Some(InputNotice::Failed(ClientError::Closed)) => {}
                    Some(InputNotice::Failed(err)) => return Outcome::Failed(err.into()),
                    None => self.notices_open = false,
                },
            }
        }
    }
}

/// The signals that end an attach (the terminal is restored on the way out).
pub struct Signals {
    terminate: Signal,
    hangup: Signal,
    interrupt: Signal,
}

impl Signals {
    /// Installs the handlers.
    pub fn new() -> anyhow::Result<Signals> {
        Ok(Signals {
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// The next signal, as the outcome it makes.
    pub async fn recv(&mut self) -> Outcome {
        tokio::select! {
            _ = self.terminate.recv() => Outcome::Signal("SIGTERM", 15),
            _ = self.hangup.recv() => Outcome::Signal("SIGHUP", 1),
            _ = self.interrupt.recv() => Outcome::Signal("SIGINT", 2),
        }
    }
}
