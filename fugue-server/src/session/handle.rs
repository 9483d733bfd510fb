//! How the rest of the server reaches a session: its [`SessionHandle`] (the task's
//! channels), the requests it takes ([`SessionCmd`], [`Input`]) and the facts anyone may
//! read without asking it ([`SessionMeta`]).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use fugue_protocol::{CaptureFormat, Foreground, RequestId, SessionInfo, TermSize};
use fugue_registry::ClientId;
use tokio::sync::{Notify, mpsc, oneshot};
use uuid::Uuid;

use super::claim::Claim;
use super::screen::{Capture, HistoryReplay};
use crate::clients::ClientRegistry;
use crate::refusal::Refusal;

/// Where a joining client's stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// A snapshot, after replaying this much history into the client's scrollback.
    Fresh(Option<HistoryReplay>),
    /// The output after this position if the ring still holds it, else a snapshot.
    ResumeAfter(u64),
}

impl Start {
    /// `Attach`'s `resume_from`.
    pub(crate) fn resuming(resume_from: Option<u64>) -> Start {
        resume_from.map_or(Start::Fresh(None), Start::ResumeAfter)
    }

    /// The position to resume after, if resuming.
    pub(crate) fn resume_after(self) -> Option<u64> {
        match self {
            Start::ResumeAfter(after) => Some(after),
            Start::Fresh(_) => None,
        }
    }

    /// The history a fresh screen replays first, if asked.
    pub(crate) fn history(self) -> Option<HistoryReplay> {
        match self {
            Start::Fresh(history) => history,
            Start::ResumeAfter(_) => None,
        }
    }
}

/// Requests to a session task. The task alone changes which clients are its members (in
/// the registry), so that joining and leaving are ordered with the output it broadcasts.
pub(crate) enum SessionCmd {
    /// Attach a registered client: snapshot (or replay), `Attached`, then live output.
    Attach {
        client: ClientId,
        request_id: RequestId,
        /// The client's size, for interactive clients; viewers never size the PTY.
        size: Option<TermSize>,
        start: Start,
        reply: oneshot::Sender<Result<(), Refusal>>,
    },
    /// The client asks to leave: it stops being a member and gets `Detached { Requested }`
    /// after the output queued before it. `done` fires once that is queued; it is dropped
    /// if the client was no longer a member (its session ended meanwhile).
    Detach {
        client: ClientId,
        done: oneshot::Sender<()>,
    },
    /// The client went away, or joined another session: forget its size.
    Left { client: ClientId },
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
    /// Stop, and give everything to the next server (an upgrade): the program runs on.
    Handoff {
        reply: oneshot::Sender<super::handoff::CarriedSession>,
    },
    /// Which interactive client the PTY's size follows (the one that typed last), and its
    /// size.
    Latest {
        reply: oneshot::Sender<Option<(ClientId, TermSize)>>,
    },
}

/// The request id of an `Attached` that no request asked for: the client was moved to the
/// session by another client's `Switch`.
pub(crate) const SWITCHED: RequestId = 0;

/// A client to attach as a session starts, before its program's first byte is read.
pub(crate) struct InitialAttach {
    pub(crate) client: ClientId,
    pub(crate) request_id: RequestId,
    /// The client's size, for interactive clients.
    pub(crate) size: Option<TermSize>,
    pub(crate) reply: oneshot::Sender<Result<(), Refusal>>,
}

/// Keystrokes for the program; `client` is the typing client, if attached.
pub(crate) struct Input {
    pub(crate) client: Option<ClientId>,
    pub(crate) data: Bytes,
    /// The `SendInput` to answer once `data` is written: its client and request.
    pub(crate) reply: Option<(ClientId, RequestId)>,
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
    /// The sequence number of the last output chunk.
    seq: AtomicU64,
    /// Whether the program has marked a command's end with its status (OSC 133 `D`).
    shell_marks: AtomicBool,
    /// The client that has the session to itself, if any (`fugue run`).
    pub(crate) claim: Claim,
    /// Notified when a client writes out part of its queue: a session pacing its output to
    /// its clients (see `pacing`) checks for room again.
    pub(crate) drained: Notify,
}

impl SessionMeta {
    pub(crate) fn new(
        id: Uuid,
        name: String,
        command: Vec<String>,
        pid: u32,
        size: TermSize,
    ) -> Self {
        let created = now_unix_ms();
        Self::with(id, name, command, pid, size, [created, created])
    }

    /// A session's facts as another server had them: its id, and its creation and last
    /// attach times (Unix ms).
    pub(crate) fn with(
        id: Uuid,
        name: String,
        command: Vec<String>,
        pid: u32,
        size: TermSize,
        [created_unix_ms, last_attached_unix_ms]: [u64; 2],
    ) -> Self {
        let meta = SessionMeta {
            id,
            name: Mutex::new(name),
            command,
            pid,
            created_unix_ms,
            last_attached_unix_ms: AtomicU64::new(last_attached_unix_ms),
            size: AtomicU32::new(0),
            seq: AtomicU64::new(0),
            shell_marks: AtomicBool::new(false),
            claim: Claim::default(),
            drained: Notify::new(),
        };
        meta.set_size(size);
        meta
    }

    /// When a client last attached (Unix ms).
    pub(crate) fn last_attached_unix_ms(&self) -> u64 {
        self.last_attached_unix_ms.load(Ordering::Relaxed)
    }

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

    pub(crate) fn set_size(&self, size: TermSize) {
        let packed = (u32::from(size.rows) << 16) | u32::from(size.cols);
        self.size.store(packed, Ordering::Relaxed);
    }

    /// The sequence number of the last output chunk.
    pub(crate) fn seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    pub(crate) fn set_seq(&self, seq: u64) {
        self.seq.store(seq, Ordering::Relaxed);
    }

    /// Whether the program marks its commands' ends (see `SessionInfo::shell_marks`).
    pub(crate) fn shell_marks(&self) -> bool {
        self.shell_marks.load(Ordering::Relaxed)
    }

    pub(crate) fn set_shell_marks(&self) {
        self.shell_marks.store(true, Ordering::Relaxed);
    }

    pub(crate) fn touch_attached(&self) {
        self.last_attached_unix_ms
            .store(now_unix_ms(), Ordering::Relaxed);
    }

    /// The session as `ListSessions` reports it.
    pub(crate) fn info(&self, registry: &ClientRegistry) -> SessionInfo {
        let attached = registry.get_session_clients(&self.id).len();
        SessionInfo {
            id: self.id,
            name: self.name(),
            command: self.command.clone(),
            pid: self.pid,
            created_unix_ms: self.created_unix_ms,
            last_attached_unix_ms: self.last_attached_unix_ms.load(Ordering::Relaxed),
            attached_clients: u32::try_from(attached).unwrap_or(u32::MAX),
            size: self.size(),
            seq: self.seq(),
            foreground: foreground(self.pid),
            shell_marks: self.shell_marks(),
        }
    }
}

/// The process group that has the terminal of session leader `pid`, if not its own (as
/// `/proc` reports it: field 8 of `stat` is the terminal's foreground group).
fn foreground(pid: u32) -> Option<Foreground> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields follow the last `)`.
    let fields = stat.rsplit_once(')')?.1;
    let group: u32 = fields.split_whitespace().nth(5)?.parse().ok()?;
    if group == pid || group == 0 {
        return None;
    }
    let command = std::fs::read_to_string(format!("/proc/{group}/comm")).unwrap_or_default();
    Some(Foreground {
        pid: group,
        command: command.trim_end().to_owned(),
    })
}

/// A cheap, cloneable way to reach a session task.
#[derive(Clone)]
pub(crate) struct SessionHandle {
    pub(crate) id: Uuid,
    pub(crate) meta: Arc<SessionMeta>,
    pub(crate) commands: mpsc::Sender<SessionCmd>,
    pub(crate) input: mpsc::Sender<Input>,
}

impl SessionHandle {
    /// Tells the session that `client` left (for its size policy).
    pub(crate) async fn left(&self, client: ClientId) {
        let _ = self.commands.send(SessionCmd::Left { client }).await;
    }

    /// Like [`SessionHandle::left`], without waiting: for `Drop`. A full command queue only
    /// delays the message, to a task of its own.
    pub(crate) fn left_now(&self, client: ClientId) {
        let cmd = SessionCmd::Left { client };
        if let Err(mpsc::error::TrySendError::Full(cmd)) = self.commands.try_send(cmd) {
            let commands = self.commands.clone();
            tokio::spawn(async move { commands.send(cmd).await });
        }
    }
}

pub(super) fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
