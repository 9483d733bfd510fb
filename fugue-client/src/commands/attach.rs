//! `fugue attach`: pick the session, guard against attaching a session to itself, attach.

use fugue_client::{Role, SessionInfo, TermSize};

use super::{Globals, connect_options, ensure_terminal};
use crate::cli::AttachArgs;
use crate::forward::InputPolicy;

/// The variable the server sets in every session's environment: the session's name.
const SESSION_ENV: &str = "FUGUE_SESSION";

/// Attaches to the chosen session.
///
/// # Errors
///
/// When standard input is not a terminal, no session matches, the target is the session
/// this client runs in, or the server refuses.
pub async fn run(globals: &Globals, args: AttachArgs) -> anyhow::Result<u8> {
    ensure_terminal()?;
    let role = if args.read_only {
        Role::ReadOnly
    } else {
        Role::Interactive
    };
    let options = connect_options(globals, role, false);
    let (client, events) = fugue_client::Client::connect(&options).await?;
    let sessions = client.list_sessions().await?;
    let target = match &args.session {
        Some(wanted) => find(&sessions, wanted).map_or_else(|| wanted.clone(), session_key),
        None => most_recent(&sessions)
            .map(session_key)
            .ok_or_else(|| anyhow::anyhow!("no sessions to attach to"))?,
    };
    // A session of another machine in a local one nests like ssh in tmux: allowed.
    let current = std::env::var(SESSION_ENV)
        .ok()
        .filter(|name| !name.is_empty() && globals.remote.is_none());
    if let Some(current) = current {
        // As tmux does, no nesting: a terminal shows one session at a time.
        let same = args.session.as_deref() == Some(&current)
            || find(&sessions, &target).is_some_and(|session| is_session(session, &current));
        let name = find(&sessions, &target).map_or(target.as_str(), |s| s.name.as_str());
        if same {
            anyhow::bail!(
                "refusing to attach to session {current} from inside itself ({SESSION_ENV} \
                 is set); `fugue switch NAME` moves this terminal to another session"
            );
        }
        anyhow::bail!(
            "refusing to attach to session {name} from inside session {current} ({SESSION_ENV} \
             is set): `fugue switch {name}` moves this terminal there (unset {SESSION_ENV} to \
             nest anyway)"
        );
    }
    let size = crate::terminal::terminal_size().unwrap_or(TermSize::DEFAULT);
    let history = args.history.unwrap_or(globals.history);
    let attachment = client.attach_with_history(&target, size, history).await?;
    let policy = InputPolicy {
        detach_key: globals.detach_key,
        read_only: args.read_only,
    };
    let reconnect = crate::reconnect::Reconnect::new(options, attachment.session.id.to_string());
    crate::attach::run(client, events, attachment, policy, reconnect).await
}

/// The session named `wanted`, or with that id.
fn find<'a>(sessions: &'a [SessionInfo], wanted: &str) -> Option<&'a SessionInfo> {
    sessions
        .iter()
        .find(|session| session.name == wanted)
        .or_else(|| sessions.iter().find(|session| is_session(session, wanted)))
}

/// Whether `key` is the session's name or id.
fn is_session(session: &SessionInfo, key: &str) -> bool {
    session.name == key || session.id.to_string() == key
}

/// The session attached to most recently (or created, if never attached).
fn most_recent(sessions: &[SessionInfo]) -> Option<&SessionInfo> {
    sessions
        .iter()
        .max_by_key(|session| session.last_attached_unix_ms)
}

/// What to put in `Attach`: the id, which a concurrent rename cannot invalidate.
fn session_key(session: &SessionInfo) -> String {
    session.id.to_string()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn session(name: &str, id: u128, last_attached_unix_ms: u64) -> SessionInfo {
        SessionInfo {
            id: Uuid::from_u128(id),
            name: name.to_owned(),
            command: Vec::new(),
            pid: 1,
            created_unix_ms: 0,
            last_attached_unix_ms,
            attached_clients: 0,
            size: TermSize::DEFAULT,
            seq: 0,
            foreground: None,
            shell_marks: false,
        }
    }

    #[test]
    fn picks_most_recently_attached() {
        let sessions = [
            session("a", 1, 10),
            session("b", 2, 30),
            session("c", 3, 20),
        ];
        assert_eq!(most_recent(&sessions).map(|s| s.name.as_str()), Some("b"));
        assert!(most_recent(&[]).is_none());
    }

    #[test]
    fn finds_by_name_or_id() {
        let sessions = [session("a", 1, 0), session("b", 2, 0)];
        let id = Uuid::from_u128(2).to_string();
        assert_eq!(find(&sessions, "a").map(|s| s.id), Some(Uuid::from_u128(1)));
        assert_eq!(find(&sessions, &id).map(|s| s.name.as_str()), Some("b"));
        assert!(find(&sessions, "zzz").is_none());
    }
}
