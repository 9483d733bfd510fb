//! `ListSessions`: every running session, oldest first.

use fugue_protocol::{RequestId, ServerMessage};

use super::{Action, Ctx};

pub(super) fn list(ctx: &Ctx<'_>, request_id: RequestId) -> Action {
    let sessions = ctx
        .shared
        .sessions
        .all()
        .iter()
        .map(|handle| ctx.shared.sessions.info(handle))
        .collect();
    Action::Reply(ServerMessage::Sessions {
        request_id,
        sessions,
    })
}
