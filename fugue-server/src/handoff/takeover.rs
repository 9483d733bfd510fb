//! The new server's side of a handoff: [`Takeover::read`] reads the state the old server
//! left; [`takeover`] adopts its descriptors and rebuilds the server from it.
//!
//! Order matters: carried clients are registered (in their sessions, with their lagging
//! marks) before any restored session runs, so no output of a session misses a client;
//! connections start last, writing first what the old server had not written. The standby
//! process is told only once all of that is done.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fugue_protocol::{DetachReason, ServerMessage};
use fugue_registry::ClientId;
use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::fds::{adopt, adopt_all};
use super::keeper::{CONFIRMED, read_state};
use super::now_unix_ms;
use super::state::{ClientState, ConfigState, ConnectionState, HandoffState, SessionState};
use crate::clients::{ClientMeta, ClientRegistration};
use crate::config::Config;
use crate::connection::{CarriedClient, serve_carried};
use crate::error::ServerError;
use crate::refusal::Refusal;
use crate::state::Shared;
use crate::web::Web;

/// A handoff state read, ready to be taken over.
#[derive(Debug)]
pub struct Takeover {
    state: HandoffState,
    confirm: Option<OwnedFd>,
    keeper: Option<u32>,
    recovered: bool,
}

impl Takeover {
    /// Reads the state in the memfd `state_fd`, left by the server this one replaces;
    /// `confirm` is the pipe to tell its standby process on, `keeper` that process, and
    /// `recovered` says this is the standby process taking over after the new server
    /// failed.
    ///
    /// # Safety
    ///
    /// `state_fd`, `confirm` and every descriptor the state names must be descriptors the
    /// previous server left open for this process, which nothing in it owns yet.
    ///
    /// # Errors
    ///
    /// When a descriptor is not open or named twice, or the state is not one this binary
    /// reads.
    pub unsafe fn read(
        state_fd: RawFd,
        confirm: Option<RawFd>,
        keeper: Option<u32>,
        recovered: bool,
    ) -> Result<Takeover, ServerError> {
        let handoff = |why: String| ServerError::Handoff { reason: why };
        if confirm == Some(state_fd) {
            return Err(handoff(
                "the state and confirm descriptors are the same".into(),
            ));
        }
        // SAFETY: the caller's guarantee.
        let memfd = unsafe { adopt(state_fd) }
            .map_err(|err| handoff(format!("state descriptor: {err}")))?;
        let bytes =
            read_state(&memfd).map_err(|err| handoff(format!("reading the state: {err}")))?;
        let state = HandoffState::decode(&bytes).map_err(|err| handoff(err.to_string()))?;
        let named = state.descriptors();
        if named
            .iter()
            .any(|&fd| fd == state_fd || Some(fd) == confirm)
        {
            return Err(handoff("the state names a descriptor given apart".into()));
        }
        // SAFETY: the caller's guarantee; it is not the state's (checked above).
        let confirm = confirm
            .map(|fd| unsafe { adopt(fd) })
            .transpose()
            .map_err(|err| handoff(format!("confirm descriptor: {err}")))?;
        Ok(Takeover {
            state,
            confirm,
            keeper,
            recovered,
        })
    }

    /// The file the old server logged to.
    pub fn log_file(&self) -> Option<PathBuf> {
        let bytes = self.state.config.log_file.clone()?;
        Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
    }
}

/// The configuration as a handoff state carries it.
pub(crate) fn config_state(config: &Config) -> ConfigState {
    let ms = |duration: Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    ConfigState {
        socket_path: config.socket_path.as_os_str().as_bytes().to_vec(),
        log_file: config
            .log_file
            .as_ref()
            .map(|path| path.as_os_str().as_bytes().to_vec()),
        max_clients: count(config.max_clients),
        max_frame_len: count(config.max_frame_len),
        handshake_timeout_ms: ms(config.handshake_timeout),
        idle_timeout_ms: ms(config.idle_timeout),
        ping_interval_ms: ms(config.ping_interval),
        client_queue_len: count(config.client_queue_len),
        scrollback_lines: count(config.scrollback_lines),
        shutdown_timeout_ms: ms(config.shutdown_timeout),
        kill_grace_ms: ms(config.kill_grace),
        replay_ring_bytes: count(config.replay_ring_bytes),
        pacing_stall_ms: ms(config.pacing_stall),
        idle_after_ms: ms(config.idle_after),
        shell_integration: config.shell_integration,
        agent_link: config.agent_link,
    }
}

fn config_from(state: &ConfigState) -> Config {
    let ms = Duration::from_millis;
    let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let path = |bytes: &Vec<u8>| PathBuf::from(std::ffi::OsString::from_vec(bytes.clone()));
    let mut config = Config::new(path(&state.socket_path));
    config.log_file = state.log_file.as_ref().map(path);
    config.max_clients = count(state.max_clients);
    config.max_frame_len = count(state.max_frame_len);
    config.handshake_timeout = ms(state.handshake_timeout_ms);
    config.idle_timeout = ms(state.idle_timeout_ms);
    config.ping_interval = ms(state.ping_interval_ms);
    config.client_queue_len = count(state.client_queue_len).max(1);
    config.scrollback_lines = count(state.scrollback_lines);
    config.shutdown_timeout = ms(state.shutdown_timeout_ms);
    config.kill_grace = ms(state.kill_grace_ms);
    config.replay_ring_bytes = count(state.replay_ring_bytes);
    config.pacing_stall = ms(state.pacing_stall_ms);
    config.idle_after = ms(state.idle_after_ms);
    config.shell_integration = state.shell_integration;
    config.agent_link = state.agent_link;
    config
}

/// Rebuilds the server from `takeover` (see the module doc): its shared state, listener
/// and connection tracker, ready to serve.
///
/// # Errors
///
/// When the state's descriptors cannot be adopted.
pub(crate) fn takeover(
    takeover: Takeover,
    shutdown: CancellationToken,
) -> Result<(Arc<Shared>, UnixListener, TaskTracker), ServerError> {
    let Takeover {
        mut state,
        confirm,
        keeper,
        recovered,
    } = takeover;
    let handoff = |err: std::io::Error| ServerError::Handoff {
        reason: err.to_string(),
    };
    // SAFETY: `Takeover::read`'s caller guaranteed that nothing owns these yet, and
    // `takeover` consumes the state, so they are adopted once.
    let mut fds = unsafe { adopt_all(&state.descriptors()) }.map_err(handoff)?;
    // The viewer's socket comes last (`HandoffState::descriptors`).
    let serving = state.web.as_ref().is_some_and(|web| web.serving.is_some());
    let web_socket = if serving { fds.pop() } else { None };
    let mut fds = fds.into_iter();
    let listener_fd = fds
        .next()
        .ok_or_else(|| handoff(std::io::ErrorKind::InvalidData.into()))?;
    let shared = rebuild_shared(&state, shutdown);
    let sessions = std::mem::take(&mut state.sessions);
    let session_ids: HashSet<Uuid> = sessions.iter().map(|session| session.id).collect();
    let connections = std::mem::take(&mut state.connections);
    let clients: Vec<Option<CarriedClient>> = connections
        .iter()
        .map(|connection| register(&shared, connection.client.as_ref(), &session_ids))
        .collect();
    let masters: Vec<OwnedFd> = fds.by_ref().take(sessions.len()).collect();
    let restored = restore_sessions(&shared, sessions, masters);
    let registered = clients.iter().flatten().count();
    let reply = upgrade_reply(&state, recovered, [restored, registered]);
    let tracker = spawn_connections(
        &shared,
        connections.into_iter().zip(fds).zip(clients),
        reply,
    );
    let listener = std::os::unix::net::UnixListener::from(listener_fd);
    listener.set_nonblocking(true).map_err(handoff)?;
    let listener = UnixListener::from_std(listener).map_err(handoff)?;
    let serving = state.web.take().and_then(|web| web.serving);
    if let Some((serving, socket)) = serving.zip(web_socket) {
        Web::resume(&shared, serving, socket);
    }
    confirm_to_standby(confirm, keeper);
    if state.shutdown {
        shared.shutdown.cancel();
    }
    tracing::info!(sessions = restored, clients = registered, from = %state.from_version, "took over");
    Ok((shared, listener, tracker))
}

/// The server's shared state as the previous server left it, without sessions or clients.
fn rebuild_shared(state: &HandoffState, shutdown: CancellationToken) -> Arc<Shared> {
    let mut config = config_from(&state.config);
    if let Some(web) = &state.web {
        config.web = crate::web::config_of(web);
    }
    let mut shared = Shared::new(config, shutdown);
    let uptime = Duration::from_millis(state.uptime_ms);
    shared.started = std::time::Instant::now()
        .checked_sub(uptime)
        .unwrap_or_else(std::time::Instant::now);
    let last_id = state.next_client_id.saturating_sub(1);
    shared
        .registry
        .skip_client_ids_through(ClientId::new(last_id));
    shared.sessions.set_next_auto_name(state.next_auto_name);
    Arc::new(shared)
}

/// Restores and starts every session; how many it could. The members of one it could not
/// are told that it ended.
fn restore_sessions(shared: &Shared, sessions: Vec<SessionState>, masters: Vec<OwnedFd>) -> usize {
    let mut restored = 0;
    for (session, master) in sessions.into_iter().zip(masters) {
        let id = session.id;
        match shared.sessions.restore(session, master) {
            Ok(_) => restored += 1,
            Err(err) => {
                tracing::error!(session = %id, %err, "cannot carry a session over");
                detach_members(shared, id);
            }
        }
    }
    restored
}

/// Serves every carried connection; the upgrade's requester gets `reply` first.
fn spawn_connections(
    shared: &Arc<Shared>,
    carried: impl Iterator<Item = ((ConnectionState, OwnedFd), Option<CarriedClient>)>,
    reply: Option<(u64, ServerMessage)>,
) -> TaskTracker {
    let tracker = TaskTracker::new();
    for ((connection, fd), client) in carried {
        let requester = connection.client.as_ref().map(|client| client.id);
        let first = reply
            .as_ref()
            .filter(|(id, _)| requester == Some(*id))
            .map(|(_, msg)| msg.clone());
        let shared = shared.clone();
        shared.connections.fetch_add(1, Ordering::AcqRel);
        tracker.spawn(async move {
            serve_carried(shared.clone(), fd, connection, client, first).await;
            shared.connections.fetch_sub(1, Ordering::AcqRel);
        });
    }
    tracker
}

/// Registers a carried client again, under its id, in its session.
fn register(
    shared: &Shared,
    client: Option<&ClientState>,
    sessions: &HashSet<Uuid>,
) -> Option<CarriedClient> {
    let client = client?;
    let id = ClientId::new(client.id);
    let (tx, rx) = mpsc::channel(shared.config.client_queue_len);
    let meta = ClientMeta {
        role: client.role,
        identity: client.identity,
        pid: client.pid,
        uid: client.uid,
        version: client.version,
        agent: client
            .agent
            .as_ref()
            .map(|path| PathBuf::from(OsStr::from_bytes(path))),
        browser: None,
    };
    let registration = ClientRegistration::new(&shared.registry, id, tx, meta.clone()).ok()?;
    let session = client.session.filter(|session| sessions.contains(session));
    if let (true, Some(session)) = (client.member, session) {
        let _ = shared.registry.attach_to_session(id, session);
        if client.lagging {
            shared.registry.set_lagging(id);
        }
    }
    Some(CarriedClient {
        registration,
        rx,
        meta,
    })
}

/// Tells the clients of a session that could not be carried over that it ended.
fn detach_members(shared: &Shared, session: Uuid) {
    let detached = ServerMessage::Detached {
        reason: DetachReason::SessionEnded,
    };
    for client in shared.registry.get_session_clients(&session) {
        if shared.registry.detach_if_attached_to(client, &session) {
            let _ = shared
                .registry
                .try_send_to_client(client, detached.clone().into());
        }
    }
}

/// The answer to the upgrade request, and the client to send it to.
fn upgrade_reply(
    state: &HandoffState,
    recovered: bool,
    [sessions, clients]: [usize; 2],
) -> Option<(u64, ServerMessage)> {
    let note = state.upgrade.as_ref()?;
    let recovery =
        "the new server stopped before it took over; the previous binary took over again";
    let failure = note
        .failure
        .clone()
        .or_else(|| recovered.then(|| recovery.to_owned()));
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let pause_ms = now_unix_ms().saturating_sub(state.paused_unix_ms);
    let msg = match failure {
        Some(why) => Refusal::Upgrade(why).reply(Some(note.request_id)),
        None => ServerMessage::Upgraded {
            request_id: note.request_id,
            from_version: state.from_version.clone(),
            to_version: env!("CARGO_PKG_VERSION").to_owned(),
            sessions: count(sessions),
            clients: count(clients),
            pause_ms: u32::try_from(pause_ms).unwrap_or(u32::MAX),
        },
    };
    Some((note.client, msg))
}

/// Tells the standby process that this server is in charge, and reaps it once it exits.
fn confirm_to_standby(confirm: Option<OwnedFd>, keeper: Option<u32>) {
    if let Some(confirm) = confirm {
        let mut pipe = std::fs::File::from(confirm);
        if let Err(err) = pipe.write_all(CONFIRMED) {
            tracing::warn!(%err, "cannot tell the standby process");
        }
    }
    if let Some(pid) = keeper {
        tokio::spawn(crate::session::reap(pid));
    }
}
