//! `Watcher`: a second, read-only connection that follows a session's output from an exact
//! position, rendered as plain text ([`crate::plain`]); and [`Client::wait_after`] on it.

use std::time::Duration;

use fugue_protocol::{Role, TermSize};
use regex::Regex;
use serde::Serialize;
use tokio::time::{Instant, timeout_at};

use crate::client::Client;
use crate::error::ClientError;
use crate::event::{Event, Events};
use crate::options::ConnectOptions;
use crate::plain::{Piece, Plain};

/// The longest unfinished line [`Client::wait_after`] matches before it ends.
const PARTIAL_MATCH_LIMIT: usize = 4096;

/// Where [`Client::wait_after`] matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// The line that matched, as plain text (escape sequences removed).
    pub line: String,
    /// The output position of the chunk that completed the match.
    pub seq: u64,
}

/// Output of one session, from a position on, as it arrives.
///
/// It is a client like any other: one that falls behind (its process starved of CPU on a
/// loaded machine) is resynced by the server. It then connects again and resumes from the
/// last position it saw, which the server still holds unless 4 MiB came meanwhile; only
/// then is the output lost to it.
pub(crate) struct Watcher {
    /// Keeps the connection open.
    _client: Client,
    events: Events,
    /// How to connect again.
    options: ConnectOptions,
    /// The session's id, and its name (for messages).
    id: String,
    session: String,
    plain: Plain,
    resumes: u32,
}

/// How many times a watcher connects again after falling behind before it gives up.
const MAX_RESUMES: u32 = 8;

/// What the watcher saw next.
pub(crate) enum Seen {
    /// A chunk ending at `seq`, rendered into pieces (the line being written stays in
    /// [`Watcher::partial`]).
    Output { seq: u64, pieces: Vec<Piece> },
}

impl Watcher {
    /// Attaches read-only to `session` and follows its output after `after`, or from now
    /// on with `None`; returns the watcher and the position it starts at.
    pub(crate) async fn start(
        client: &Client,
        session: &str,
        after: Option<u64>,
    ) -> Result<(Watcher, u64), ClientError> {
        let options = client.options().clone().with_role(Role::ReadOnly);
        let options = options.with_auto_start(false);
        let (watcher, events, attachment) = attach(&options, session, after).await?;
        let width = attachment.session.size.cols;
        let name = attachment.session.name;
        if let (Some(after), Some(_)) = (after, attachment.snapshot) {
            return Err(if attachment.seq < after {
                ClientError::PositionAhead {
                    session: name,
                    after,
                    current: attachment.seq,
                }
            } else {
                ClientError::OutputGone {
                    session: name,
                    after,
                }
            });
        }
        let watcher = Watcher {
            _client: watcher,
            events,
            options,
            id: attachment.session.id.to_string(),
            session: name,
            plain: Plain::new(width),
            resumes: 0,
        };
        Ok((watcher, after.unwrap_or(attachment.seq)))
    }

    /// Connects again and resumes after `last_seq` (this one fell behind).
    async fn resume(&mut self, last_seq: u64) -> Result<(), ClientError> {
        let gone = || ClientError::OutputGone {
            session: self.session.clone(),
            after: last_seq,
        };
        if self.resumes == MAX_RESUMES {
            return Err(gone());
        }
        self.resumes += 1;
        let (client, events, attachment) = attach(&self.options, &self.id, Some(last_seq)).await?;
        if attachment.snapshot.is_some() {
            return Err(gone());
        }
        // The old connection goes, with whatever it had queued after falling behind.
        self._client = client;
        self.events = events;
        Ok(())
    }

    /// The cursor is at `column` now: what comes next is written from there.
    pub(crate) fn at_column(&mut self, column: u16) {
        self.plain.start_at_column(column);
    }

    /// The line being written.
    fn partial(&mut self) -> String {
        self.plain.partial()
    }

    /// Reads output until there has been none for `quiet`, or for at most `limit`.
    ///
    /// # Errors
    ///
    /// As for [`Watcher::next`].
    pub(crate) async fn settle(
        &mut self,
        quiet: Duration,
        limit: Duration,
        mut last_seq: u64,
    ) -> Result<(), ClientError> {
        let give_up = Instant::now() + limit;
        loop {
            let until = (Instant::now() + quiet).min(give_up);
            match timeout_at(until, self.next(last_seq)).await {
                Ok(seen) => {
                    let Seen::Output { seq, .. } = seen?;
                    last_seq = seq;
                }
                Err(_) => return Ok(()),
            }
        }
    }

    /// The next chunk of output.
    ///
    /// # Errors
    ///
    /// [`ClientError::SessionEnded`] when the session's program exits,
    /// [`ClientError::OutputGone`] when this watcher fell behind and lost output after
    /// `last_seq`, [`ClientError::Closed`] when the server went away.
    pub(crate) async fn next(&mut self, last_seq: u64) -> Result<Seen, ClientError> {
        let mut status = None;
        loop {
            match self.events.recv().await {
                Some(Event::Output { seq, data, .. }) => {
                    let mut pieces = Vec::new();
                    self.plain.feed(&data, &mut pieces);
                    return Ok(Seen::Output { seq, pieces });
                }
                Some(Event::Resync { .. } | Event::OutputLost { .. }) => {
                    self.resume(last_seq).await?;
                }
                Some(Event::SessionExited { status: exit, .. }) => status = Some(exit),
                Some(Event::Detached { reason }) => {
                    return Err(match reason {
                        fugue_protocol::DetachReason::ServerShutdown => ClientError::Closed,
                        _ => ClientError::SessionEnded {
                            session: self.session.clone(),
                            status,
                        },
                    });
                }
                Some(Event::Closed { .. }) | None => return Err(ClientError::Closed),
                // A read-only watcher is never switched.
                Some(
                    Event::ServerError { .. }
                    | Event::Session(_)
                    | Event::EventsLost { .. }
                    | Event::Switched(_),
                ) => {}
            }
        }
    }
}

/// A read-only connection attached to `session`, resuming after `after` if given.
async fn attach(
    options: &ConnectOptions,
    session: &str,
    after: Option<u64>,
) -> Result<(Client, Events, crate::Attachment), ClientError> {
    let (client, events) = Client::connect(options).await?;
    // Viewers never resize the session, so the size asked for does not matter.
    let attachment = client
        .attach_from(session, TermSize::DEFAULT, after)
        .await?;
    Ok((client, events, attachment))
}

impl Client {
    /// Waits until a line of the session's output produced after position `after` matches
    /// `regex` (plain text, escape sequences removed; the line being written counts too, so
    /// a prompt matches before its line ends). Output that was on the screen before `after`
    /// never matches. Typical use: `after` is what [`Client::send_to_session`] returned.
    ///
    /// Opens a second, read-only connection for the watching. Bound the wait with
    /// `tokio::time::timeout`.
    ///
    /// # Errors
    ///
    /// [`ClientError::PositionAhead`] when `after` is beyond the output so far,
    /// [`ClientError::OutputGone`] when the server no longer holds the output after it,
    /// [`ClientError::SessionEnded`] when the session ends first, [`ClientError::Server`]
    /// with `UnknownSession`.
    pub async fn wait_after(
        &self,
        session: &str,
        regex: &Regex,
        after: u64,
    ) -> Result<Match, ClientError> {
        let (mut watcher, mut last) = Watcher::start(self, session, Some(after)).await?;
        loop {
            let Seen::Output { seq, pieces } = watcher.next(last).await?;
            last = seq;
            let lines = pieces.into_iter().filter_map(|piece| match piece {
                Piece::Line(line) => Some(line),
                Piece::Mark(..) => None,
            });
            // The line being written counts too (a prompt has no line end), while it is
            // short: a long unfinished line is looked at once it ends, not at every chunk.
            let partial = watcher.partial();
            let partial = (partial.len() <= PARTIAL_MATCH_LIMIT).then_some(partial);
            for line in lines.chain(partial) {
                if regex.is_match(&line) {
                    return Ok(Match { line, seq });
                }
            }
        }
    }
}
