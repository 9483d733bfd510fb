//! Sessions: a program on a PTY, owned by one task, reached through a `SessionHandle`.
//!
//! `start` spawns the program and the task (`task.rs`); everyone else talks to the task
//! through the handle's channels and never touches the PTY.

mod history;
mod modes;
pub(crate) mod pacing;
mod pty;
mod ring;
mod screen;
mod size;
mod task;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use fugue_protocol::{CaptureFormat, ErrorCode, RequestId, SessionInfo, SessionSpec, TermSize};
use fugue_registry::ClientId;
use tokio::sync::{Notify, mpsc, oneshot};
use uuid::Uuid;

use crate::sessions::Refusal;
use crate::state::Shared;

pub(crate) use screen::Capture;

/// Largest terminal accepted, in rows and columns.
pub(crate) const MAX_ROWS: u16 = 500;
/// Largest terminal accepted, in columns.
pub(crate) const MAX_COLS: u16 = 1000;

/// Input chunks a session queues before writers wait (backpressure on a program that does
/// not read its input).
const INPUT_QUEUE_LEN: usize = 16;

/// Requests to a session task.
pub(crate) enum SessionCmd {
    /// Attach a registered client: snapshot (or replay), `Attached`, then live output.
    Attach {
        client: ClientId,
        request_id: RequestId,
        /// The client's size, for interactive clients; viewers never size the PTY.
        size: Option<TermSize>,
        resume_from: Option<u64>,
        reply: oneshot::Sender<Result<(), Refusal>>,
    },
    /// A client left (the registry is updated by the caller).
    Detach { client: ClientId },
    /// An interactive client's terminal changed size.
    Resize { client: ClientId, size: TermSize },
    /// A lagging client drained its queue and wants a fresh screen.
    Resync { client: ClientId },
    /// Read the screen.
    Capture {
        format: CaptureFormat,
        scrollback_lines: usize,
        reply: oneshot::Sender<Capture>,
    },
    /// Hang up the program; `reply` fires once it has exited and the session is gone.
    Kill { reply: oneshot::Sender<()> },
}

/// A client to attach as a session starts, before its program's first byte is read.
pub(crate) struct InitialAttach {
    pub(crate) client: ClientId,
    pub(crate) request_id: RequestId,
    /// The client's size, for interactive clients.
    pub(crate) size: Option<TermSize>,
}

/// Keystrokes for the program; `client` is the typing client, if attached.
pub(crate) struct Input {
    pub(crate) client: Option<ClientId>,
    pub(crate) data: Bytes,
}

/// Facts about a session that other tasks read without asking the session task.
pub(crate) struct SessionMeta {
    pub(crate) id: Uuid,
    name: Mutex<String>,
    pub(crate) command: Vec<String>,
    pub(crate) pid: u32,
    pub(crate) created_unix_ms: u64,
    last_attached_unix_ms: AtomicU64,
    /// Rows in the high half, columns in the low half.
    size: AtomicU32,
    /// Notified when a client writes out part of its queue: a session pacing its output to
    /// its clients (see `pacing`) checks for room again.
    pub(crate) drained: Notify,
}

impl SessionMeta {
    pub(crate) fn name(&self) -> String {
        self.name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_name(&self, name: &str) {
        *self.name.lock().unwrap_or_else(PoisonError::into_inner) = name.to_owned();
    }

    pub(crate) fn size(&self) -> TermSize {
        let packed = self.size.load(Ordering::Relaxed);
        TermSize {
            rows: (packed >> 16) as u16,
            cols: packed as u16,
        }
    }

    fn set_size(&self, size: TermSize) {
        let packed = (u32::from(size.rows) << 16) | u32::from(size.cols);
        self.size.store(packed, Ordering::Relaxed);
    }

    fn touch_attached(&self) {
        self.last_attached_unix_ms
            .store(now_unix_ms(), Ordering::Relaxed);
    }

    /// The session as `ListSessions` reports it.
    pub(crate) fn info(&self, shared: &Shared) -> SessionInfo {
        let attached = shared.registry.get_session_clients(&self.id).len();
        SessionInfo {
            id: self.id,
            name: self.name(),
            command: self.command.clone(),
            pid: self.pid,
            created_unix_ms: self.created_unix_ms,
            last_attached_unix_ms: self.last_attached_unix_ms.load(Ordering::Relaxed),
            attached_clients: u32::try_from(attached).unwrap_or(u32::MAX),
            size: self.size(),
        }
    }
}

/// A cheap, cloneable way to reach a session task.
#[derive(Clone)]
pub(crate) struct SessionHandle {
    pub(crate) id: Uuid,
    pub(crate) meta: Arc<SessionMeta>,
    pub(crate) commands: mpsc::Sender<SessionCmd>,
    pub(crate) input: mpsc::Sender<Input>,
}

/// Checks a terminal size: 1 to 500 rows, 1 to 1000 columns.
pub(crate) fn validate_size(size: TermSize) -> Result<(), Refusal> {
    if (1..=MAX_ROWS).contains(&size.rows) && (1..=MAX_COLS).contains(&size.cols) {
        Ok(())
    } else {
        Err((
            ErrorCode::InvalidSize,
            format!(
                "terminal size {}x{} is out of range (1 to {MAX_ROWS} rows, 1 to {MAX_COLS} columns)",
                size.rows, size.cols
            ),
        ))
    }
}

/// Starts a session: reserves the name, spawns the program, publishes the handle and
/// starts its task, which first attaches `attach` if given. A program that cannot start
/// leaves nothing behind.
pub(crate) fn start(
    shared: &Arc<Shared>,
    spec: SessionSpec,
    attach: Option<InitialAttach>,
) -> Result<(SessionInfo, SessionHandle), Refusal> {
    validate_size(spec.size)?;
    let name = shared.sessions.reserve_name(spec.name.as_deref())?;
    let spawned = match pty::spawn(&spec, &name) {
        Ok(spawned) => spawned,
        Err(message) => {
            shared.sessions.release_name(&name);
            return Err((ErrorCode::SpawnFailed, message));
        }
    };
    let created = now_unix_ms();
    let meta = Arc::new(SessionMeta {
        id: Uuid::new_v4(),
        name: Mutex::new(name.clone()),
        command: spawned.command.clone(),
        pid: spawned.pid,
        created_unix_ms: created,
        last_attached_unix_ms: AtomicU64::new(created),
        size: AtomicU32::new(0),
        drained: Notify::new(),
    });
    meta.set_size(spec.size);
    let (commands, command_rx) = mpsc::channel(64);
    let (input, input_rx) = mpsc::channel(INPUT_QUEUE_LEN);
    let handle = SessionHandle {
        id: meta.id,
        meta: meta.clone(),
        commands,
        input,
    };
    shared.sessions.insert(&name, handle.clone());
    tracing::info!(session = %meta.id, %name, pid = meta.pid, "session started");
    let task = task::SessionTask::new(shared.clone(), meta.clone(), spawned.pty, spec.size);
    shared
        .sessions_tracker
        .spawn(task.run(spawned.child, command_rx, input_rx, attach));
    Ok((meta.info(shared), handle))
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
