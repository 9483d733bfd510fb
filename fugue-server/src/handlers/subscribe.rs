//! `Subscribe`: stream events of one session, or of all, to this client (`fugue events`).
//! The connection ends the subscription when it ends.

use fugue_protocol::{RequestId, ServerMessage};

use super::{Action, Ctx};

pub(super) fn subscribe(ctx: &Ctx<'_>, request_id: RequestId, session: Option<&str>) -> Action {
    let sessions = &ctx.shared.sessions;
    let filter = match session.map(|session| sessions.find(session)).transpose() {
        Ok(handle) => handle.map(|handle| handle.id),
        Err(refusal) => return Action::refused(Some(request_id), &refusal),
    };
    sessions.events.subscribe(ctx.client, filter);
    Action::Reply(ServerMessage::Done { request_id })
}
