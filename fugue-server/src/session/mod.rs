//! Sessions: a program on a PTY, owned by one task, reached through a [`SessionHandle`].
//!
//! [`Sessions`] is the table of running sessions together with what every session task
//! shares (the client registry, the configuration, the hang-up token and the task
//! tracker). [`Sessions::start`] spawns a program and its task (`task.rs`); everyone else
//! talks to the task through the handle's channels and never touches the PTY.

pub(crate) mod agent;
mod claim;
mod events;
mod handle;
mod handoff;
mod history;
mod input;
mod integration;
mod lifecycle;
mod members;
mod modes;
mod notice;
pub(crate) mod pacing;
mod pty;
mod queries;
mod ring;
mod scan;
mod screen;
mod size;
mod stream;
mod table;
mod task;

use std::path::Path;
use std::sync::Arc;

use fugue_protocol::{EventKind, SessionInfo, SessionSpec};
use fugue_registry::ClientId;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

pub(crate) use handle::{InitialAttach, Input, SWITCHED, SessionCmd, SessionHandle, Start};
pub(crate) use screen::HistoryReplay;
pub(crate) use screen::ModelState;

use self::agent::AgentLinks;
pub(crate) use self::events::EventHub;
use self::handle::SessionMeta;
use self::pacing::PacingCounters;
use self::table::Table;
use crate::clients::ClientRegistry;
use crate::config::Config;
use crate::refusal::{Refusal, check_size};

/// Input chunks a session queues before writers wait (backpressure on a program that does
/// not read its input).
const INPUT_QUEUE_LEN: usize = 16;
/// Requests a session queues before their senders wait.
const COMMAND_QUEUE_LEN: usize = 64;

/// The running sessions, and what their tasks share.
pub(crate) struct Sessions {
    table: Table,
    registry: Arc<ClientRegistry>,
    config: Config,
    /// Cancelled once connections have drained: every session hangs up its program.
    hang_up: CancellationToken,
    tracker: TaskTracker,
    /// Pacing waits that ran to their limit, over all sessions.
    pub(crate) pacing: PacingCounters,
    /// Who is told what happens to sessions (`Subscribe`).
    pub(crate) events: EventHub,
    /// Each session's `SSH_AUTH_SOCK` link.
    pub(crate) agents: AgentLinks,
}

impl Sessions {
    pub(crate) fn new(config: Config, registry: Arc<ClientRegistry>) -> Self {
        Sessions {
            table: Table::default(),
            registry,
            config: config.clone(),
            hang_up: CancellationToken::new(),
            tracker: TaskTracker::new(),
            pacing: PacingCounters::default(),
            events: EventHub::default(),
            agents: AgentLinks::new(&config.socket_path, config.agent_link),
        }
    }

    /// Finds a session by name, or by id (full uuid text).
    pub(crate) fn find(&self, name_or_id: &str) -> Result<SessionHandle, Refusal> {
        self.table.find(name_or_id)
    }

    /// All sessions, oldest first.
    pub(crate) fn all(&self) -> Vec<SessionHandle> {
        self.table.all()
    }

    /// How many sessions run.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Renames a session; the id stays.
    pub(crate) fn rename(&self, name_or_id: &str, new_name: &str) -> Result<(), Refusal> {
        let handle = self.table.find(name_or_id)?;
        let from = handle.meta.name();
        self.table.rename(name_or_id, new_name)?;
        self.publish(&handle, EventKind::Renamed { from });
        Ok(())
    }

    /// Where the shell-integration scripts go: next to the socket, in the server's private
    /// directory; `None` when the integration is off.
    fn integration_dir(&self) -> Option<std::path::PathBuf> {
        let socket_dir = self.config.socket_path.parent()?;
        let dir = socket_dir.join("shell-integration");
        self.config.shell_integration.then_some(dir)
    }

    /// Tells event subscribers about `handle`'s session, at its current output position.
    pub(crate) fn publish(&self, handle: &SessionHandle, kind: EventKind) {
        let seq = Some(handle.meta.seq());
        self.events.publish(&self.registry, &handle.meta, seq, kind);
    }

    /// Gives back every session `client` claimed (its connection ended).
    pub(crate) fn release_claims(&self, client: ClientId) {
        for handle in self.all() {
            handle.meta.claim.release(client);
        }
    }

    /// The session as `ListSessions` reports it.
    pub(crate) fn info(&self, handle: &SessionHandle) -> SessionInfo {
        handle.meta.info(&self.registry)
    }

    /// Starts a session: reserves the name, spawns the program, publishes the handle and
    /// starts its task, which first attaches `attach` if given. A program that cannot start
    /// leaves nothing behind.
    pub(crate) fn start(
        self: &Arc<Self>,
        mut spec: SessionSpec,
        attach: Option<InitialAttach>,
        agent: Option<&Path>,
    ) -> Result<(SessionInfo, SessionHandle), Refusal> {
        let size = check_size(spec.size)?;
        let name = self.table.reserve_name(spec.name.as_deref())?;
        let id = Uuid::new_v4();
        self.link_agent(id, &mut spec, agent);
        // The name can change; the id cannot (`fugue switch` names the session by it).
        spec.env
            .push(("FUGUE_SESSION_ID".to_owned(), id.to_string()));
        let spawned = match pty::spawn(&spec, &name, self.integration_dir().as_deref()) {
            Ok(spawned) => spawned,
            Err(err) => {
                self.table.release_name(&name);
                self.agents.remove(id);
                return Err(err.into());
            }
        };
        let meta = Arc::new(SessionMeta::new(
            id,
            name.clone(),
            spawned.command,
            spawned.program.pid(),
            size,
        ));
        tracing::info!(session = %meta.id, %name, pid = meta.pid, "session started");
        let task = task::SessionTask::new(
            self.clone(),
            meta.clone(),
            spawned.master,
            size,
            spawned.integrated,
        );
        let handle = self.launch(&name, task, Some(spawned.program), attach);
        self.publish(&handle, EventKind::Created);
        Ok((meta.info(&self.registry), handle))
    }

    /// The number the next generated session name starts from (for a handoff).
    pub(crate) fn next_auto_name(&self) -> u64 {
        self.table.next_auto()
    }

    /// Generated names start from `next` (a server carrying on another's sessions).
    pub(crate) fn set_next_auto_name(&self, next: u64) {
        self.table.set_next_auto(next);
    }

    /// Hangs up every session's program and waits until every session task has ended
    /// (each kills its program after the grace period, and reaps it).
    pub(crate) async fn hang_up_all(&self) {
        self.hang_up.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Forgets a session that ended.
    fn remove(&self, id: Uuid) {
        self.table.remove(id);
        self.agents.remove(id);
    }

    /// Gives a new session `id` its agent link (pointed at `agent`, if the creator has
    /// one) as `SSH_AUTH_SOCK`, unless the spec sets that itself.
    fn link_agent(&self, id: Uuid, spec: &mut SessionSpec, agent: Option<&Path>) {
        let Some(link) = self.agents.path(id) else {
            return;
        };
        if spec.env.iter().any(|(key, _)| key == "SSH_AUTH_SOCK") {
            return;
        }
        if let Some(agent) = agent
            && let Err(err) = self.agents.point(id, agent)
        {
            tracing::warn!(%err, "cannot link the ssh agent");
        }
        spec.env.push((
            "SSH_AUTH_SOCK".to_owned(),
            link.to_string_lossy().into_owned(),
        ));
    }

    /// Points session `handle`'s agent link at `agent` (a client attached interactively).
    pub(crate) fn point_agent(&self, handle: &SessionHandle, agent: &Path) {
        if let Err(err) = self.agents.point(handle.id, agent) {
            tracing::warn!(session = %handle.id, %err, "cannot link the ssh agent");
        }
    }
}

/// Waits for process `pid`, a child of this process that nothing else waits for (an
/// upgrade's standby process), and reaps it.
pub(crate) async fn reap(pid: u32) {
    match pty::Program::adopt(pid) {
        Ok(program) => {
            let _ = program.wait().await;
        }
        Err(err) => tracing::debug!(pid, %err, "nothing to reap"),
    }
}
