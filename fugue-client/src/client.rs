//! `Client`: one connection to the server with typed, concurrent requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use fugue_protocol::{
    CaptureFormat, ClientCodec, ClientMessage, DetachReason, ErrorCode, FALLBACK_PROTOCOL_VERSION,
    PROTOCOL_VERSION, RequestId, ServerMessage, SessionInfo, SessionSpec, TermSize,
};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

use crate::chunk::chunks;
use crate::error::ClientError;
use crate::event::Events;
use crate::handshake::{Welcome, handshake};
use crate::link::Link;
use crate::options::ConnectOptions;
use crate::pending::Pending;
use crate::replies::{Capture, check, unexpected};
use crate::{reader, writer};

/// A lock per session id (see [`Client::run_locks`]).
pub(crate) type RunLocks =
    std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

/// Capacity of the event channel (the reader keeps a small backlog in front of it).
const EVENT_CAPACITY: usize = 64;
/// Capacity of the queue of messages waiting for the writer.
const REQUEST_CAPACITY: usize = 32;
/// Capacity of the queue of pongs owed to the server.
const PONG_CAPACITY: usize = 8;

/// A connection to a fugue server.
///
/// Cheap to clone: clones share the connection. Requests may run concurrently from several
/// tasks; each reply is matched to its request by id. Events (output, exits, detaches) come
/// through the [`Events`] returned by [`Client::connect`]. When the last clone is dropped
/// the client shuts down its side of the socket.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    request_tx: mpsc::Sender<ClientMessage>,
    pending: Arc<Pending>,
    next_request_id: AtomicU32,
    welcome: Welcome,
    /// How it connected, for the second connections of `wait_after` and `run`.
    options: ConnectOptions,
    /// Per session id, the turn `run`s on this connection take.
    runs: RunLocks,
    /// When the reader last heard from the server.
    heard: Arc<reader::Heard>,
}

/// Opens a link and shakes hands speaking protocol `version`.
async fn shake(
    options: &ConnectOptions,
    version: u32,
) -> Result<(Framed<Link, ClientCodec>, Welcome), ClientError> {
    let link = crate::connect::open(options).await?;
    let mut framed = Framed::new(link, ClientCodec::new());
    match handshake(&mut framed, options, version).await {
        Ok(welcome) => Ok((framed, welcome)),
        // A link that broke is explained by how ssh ended; a refusal speaks for itself.
        Err(err) if err.server_code().is_some() => Err(err),
        Err(err) => match framed.into_inner() {
            Link::Ssh(ssh) => Err(ssh.failure(err).await),
            Link::Unix(_) => Err(err),
        },
    }
}

impl Client {
    /// Connects (auto-starting the server if the options say so) and shakes hands.
    ///
    /// # Errors
    ///
    /// [`ClientError::NotRunning`] when nothing listens and auto-start is off,
    /// [`ClientError::StartServer`] when auto-start failed, [`ClientError::Connect`] for
    /// other socket errors, [`ClientError::Refused`] when the server turned the client away,
    /// [`ClientError::Handshake`] or [`ClientError::Codec`] when the handshake broke down.
    pub async fn connect(options: &ConnectOptions) -> Result<(Client, Events), ClientError> {
        let (framed, welcome) = match shake(options, PROTOCOL_VERSION).await {
            // A server one protocol older (running since before an upgrade, say): this
            // client speaks its version too, minus what came later.
            Err(err) if err.server_code() == Some(ErrorCode::VersionMismatch) => {
                shake(options, FALLBACK_PROTOCOL_VERSION)
                    .await
                    .map_err(|_| err)?
            }
            other => other?,
        };
        let (sink, stream) = framed.split();
        let (request_tx, request_rx) = mpsc::channel(REQUEST_CAPACITY);
        let (pong_tx, pong_rx) = mpsc::channel(PONG_CAPACITY);
        let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
        let pending = Arc::new(Pending::default());
        let heard = Arc::new(reader::Heard::new());
        let reader_done = tokio_util::sync::CancellationToken::new();
        tokio::spawn(reader::run(
            stream,
            Arc::clone(&pending),
            events_tx,
            pong_tx,
            options.silence_limit,
            Arc::clone(&heard),
            reader_done.clone(),
        ));
        let watch = options.silence_limit.map(|_| writer::Watch {
            heard: Arc::clone(&heard),
            reader_done,
        });
        tokio::spawn(writer::run(
            sink,
            request_rx,
            pong_rx,
            options.keepalive,
            watch,
        ));
        let inner = Inner {
            request_tx,
            pending,
            next_request_id: AtomicU32::new(1),
            welcome,
            options: options.clone(),
            runs: std::sync::Mutex::default(),
            heard,
        };
        let client = Client {
            inner: Arc::new(inner),
        };
        client.tell_agent().await?;
        Ok((client, Events::new(events_rx)))
    }

    /// The server's version, from the handshake.
    pub fn server_version(&self) -> &str {
        &self.inner.welcome.server_version
    }

    /// The protocol version the connection speaks.
    pub(crate) fn protocol_version(&self) -> u32 {
        self.inner.welcome.protocol_version
    }

    /// Per session id, the turn `run`s on this connection take (`run/`).
    pub(crate) fn run_locks(&self) -> &RunLocks {
        &self.inner.runs
    }

    /// The options this client connected with.
    pub(crate) fn options(&self) -> &ConnectOptions {
        &self.inner.options
    }

    /// How long nothing has come from the server while this client was reading (the
    /// writer pings the server after the keepalive, so a live server answers well within
    /// a few keepalives). An attached terminal shows a long silence before the silence
    /// limit ends the connection. Watched only with a silence limit (through ssh); zero
    /// otherwise.
    pub fn silence(&self) -> std::time::Duration {
        match self.inner.options.silence_limit {
            Some(_) => self.inner.heard.silence(),
            None => std::time::Duration::ZERO,
        }
    }

    /// The id the server gave this connection.
    pub fn client_id(&self) -> u64 {
        self.inner.welcome.client_id
    }

    /// Lists the running sessions, oldest first.
    ///
    /// # Errors
    ///
    /// [`ClientError::Closed`] if the connection is gone; see [`Client::connect`] for others.
    pub async fn list_sessions(&self) -> Result<Vec<SessionInfo>, ClientError> {
        match self
            .request(|request_id| ClientMessage::ListSessions { request_id })
            .await?
        {
            ServerMessage::Sessions { sessions, .. } => Ok(sessions),
            other => Err(unexpected(&other)),
        }
    }

    /// Starts a session.
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with `InvalidName`, `DuplicateName`, `InvalidSize` or
    /// `SpawnFailed` when the server refuses; [`ClientError::Closed`] if the connection is gone.
    pub async fn create_session(&self, spec: SessionSpec) -> Result<SessionInfo, ClientError> {
        let reply = self
            .request(|request_id| ClientMessage::CreateSession {
                request_id,
                spec,
                attach: false,
            })
            .await?;
        match reply {
            ServerMessage::Created { session, .. } => Ok(session),
            other => Err(unexpected(&other)),
        }
    }

    /// Detaches from the current session and waits until the server confirms. The
    /// [`crate::Event::Detached`] also reaches the event stream.
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with `NotAttached`; [`ClientError::Closed`].
    pub async fn detach(&self) -> Result<DetachReason, ClientError> {
        let id = self.next_id();
        let ticket = self.inner.pending.register(id, true)?;
        self.send(ClientMessage::Detach { request_id: id }).await?;
        match check(ticket.reply().await?)? {
            ServerMessage::Detached { reason } => Ok(reason),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends keystrokes to the attached session, split into messages of at most
    /// [`crate::MAX_INPUT_CHUNK`] bytes. Waits only for room in the send queue, not for the server.
    ///
    /// # Errors
    ///
    /// [`ClientError::Closed`] if the connection is gone. A refusal (read-only client, not
    /// attached) arrives later as [`crate::Event::ServerError`] or a request-less error.
    pub async fn send_input(&self, data: Bytes) -> Result<(), ClientError> {
        for chunk in chunks(data) {
            self.send(ClientMessage::Input { data: chunk }).await?;
        }
        Ok(())
    }

    /// Tells the server the client's terminal size changed.
    ///
    /// # Errors
    ///
    /// [`ClientError::Closed`] if the connection is gone.
    pub async fn resize(&self, size: TermSize) -> Result<(), ClientError> {
        self.send(ClientMessage::Resize { size }).await
    }

    /// Ends a session (by name or id).
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with `UnknownSession`; [`ClientError::Closed`].
    pub async fn kill_session(&self, session: &str) -> Result<(), ClientError> {
        let session = session.to_owned();
        self.request_done(|request_id| ClientMessage::KillSession {
            request_id,
            session,
        })
        .await
    }

    /// Renames a session (by name or id).
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with `UnknownSession`, `InvalidName` or `DuplicateName`;
    /// [`ClientError::Closed`].
    pub async fn rename_session(&self, session: &str, new_name: &str) -> Result<(), ClientError> {
        let (session, new_name) = (session.to_owned(), new_name.to_owned());
        self.request_done(|request_id| ClientMessage::RenameSession {
            request_id,
            session,
            new_name,
        })
        .await
    }

    /// Reads a session's screen, with up to `scrollback_lines` lines of history above it.
    ///
    /// # Errors
    ///
    /// [`ClientError::Server`] with `UnknownSession`; [`ClientError::Closed`].
    pub async fn capture(
        &self,
        session: &str,
        format: CaptureFormat,
        scrollback_lines: u32,
    ) -> Result<Capture, ClientError> {
        let session = session.to_owned();
        let reply = self
            .request(|request_id| ClientMessage::Capture {
                request_id,
                session,
                format,
                scrollback_lines,
            })
            .await?;
        match reply {
            ServerMessage::Captured {
                text,
                cursor,
                size,
                seq,
                ..
            } => Ok(Capture {
                text,
                cursor_row: cursor.0,
                cursor_col: cursor.1,
                size,
                seq,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends a request built for a fresh id and returns its reply; an `Error` reply becomes
    /// [`ClientError::Server`].
    pub(crate) async fn request(
        &self,
        build: impl FnOnce(RequestId) -> ClientMessage,
    ) -> Result<ServerMessage, ClientError> {
        let id = self.next_id();
        // Register before sending, so the reply always finds its waiter.
        let ticket = self.inner.pending.register(id, false)?;
        self.send(build(id)).await?;
        check(ticket.reply().await?)
    }

    /// A request whose success reply is `Done`.
    pub(crate) async fn request_done(
        &self,
        build: impl FnOnce(RequestId) -> ClientMessage,
    ) -> Result<(), ClientError> {
        match self.request(build).await? {
            ServerMessage::Done { .. } => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn send(&self, msg: ClientMessage) -> Result<(), ClientError> {
        self.inner
            .request_tx
            .send(msg)
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// A fresh request id; never 0, which marks an `Attached` nobody asked for (a switch).
    fn next_id(&self) -> RequestId {
        loop {
            let id = self.inner.next_request_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }
}
