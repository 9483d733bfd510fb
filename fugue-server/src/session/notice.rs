//! What a session task tells event subscribers (see `events.rs`): what its output held
//! (bell, title), activity after quiet and the quiet after it, and changes it makes.

use std::time::Duration;

use fugue_protocol::EventKind;
use fugue_registry::ClientId;
use tokio::time::Instant;

use super::scan::Found;
use super::task::SessionTask;

/// How long after the answering terminal left no other one's replies reach the program.
const ANSWER_WINDOW: Duration = Duration::from_secs(2);

impl SessionTask {
    /// Publishes `kind` at the current output position.
    pub(super) fn publish(&self, kind: EventKind) {
        let sessions = &self.sessions;
        let seq = Some(self.stream.seq());
        sessions
            .events
            .publish(&sessions.registry, &self.meta, seq, kind);
    }

    /// The client whose replies to queries reach the program: the one noted at the last
    /// query while it is attached; nobody for a moment after it left (a query it was to
    /// answer gets no second answer); otherwise the latest interactive client.
    pub(super) fn answering_client(&self) -> Option<ClientId> {
        match (self.answerer, self.answerer_left) {
            (Some(_), Some(left)) if left.elapsed() < ANSWER_WINDOW => None,
            (Some(answerer), None) => Some(answerer),
            _ => self.sizes.latest(),
        }
    }

    /// Whether `client` is attached to this session, as the registry says.
    pub(super) fn is_member(&self, client: ClientId) -> bool {
        self.sessions.registry.get_attached_session(client) == Some(self.meta.id)
    }

    /// Scans a chunk of output, if anything needs what it finds: event subscribers (bell,
    /// title, activity), a shell that has not shown its marks yet (`fugue run`), or several
    /// terminals (queries). Otherwise, as when one terminal watches a flood, the output
    /// goes by unlooked at: the scan is the one cost automation adds to the output path.
    pub(super) fn scan_if_needed(&mut self, data: &[u8]) -> Found {
        let needed = self.sessions.events.any()
            || self.sizes.entries().len() > 1
            || (self.integrated && !self.meta.shell_marks());
        if needed {
            self.scan.scan(data)
        } else {
            // A sequence cut here is forgotten rather than misread later.
            self.scan.reset();
            Found::default()
        }
    }

    /// After a chunk of output: records a shell's marks, and tells subscribers what the
    /// chunk held, and that output began if the session was idle.
    pub(super) fn noticed(&mut self, found: Found) {
        if found.finished_mark && self.integrated && !self.meta.shell_marks() {
            self.meta.set_shell_marks();
        }
        if found.query {
            // Whoever the size follows now answers this query; the others' replies are
            // cut (`queries.rs`). If it leaves before answering, nobody does.
            self.answerer = self.sizes.latest();
            self.answerer_left = None;
        }
        if !self.sessions.events.any() {
            // Activity nobody heard of is followed by no idle either.
            self.active = false;
            return;
        }
        let first = !self.active;
        self.active = true;
        if first {
            self.publish(EventKind::Activity);
        }
        if found.bell {
            self.publish(EventKind::Bell);
        }
        if let Some(title) = found.title {
            self.publish(EventKind::Title { title });
        }
    }

    /// When the session goes idle if no more output comes (only while someone listens).
    pub(super) fn idle_due(&self) -> Option<Instant> {
        let listening = self.active && self.sessions.events.any();
        listening.then(|| self.stream.last_output() + self.sessions.config.idle_after)
    }

    pub(super) fn went_idle(&mut self) {
        self.active = false;
        self.publish(EventKind::Idle);
    }
}
