//! `RenameSession`: give a session a new, unique name; its id stays.

use fugue_protocol::{RequestId, ServerMessage};

use super::{Action, Ctx};

pub(super) fn rename(
    ctx: &Ctx<'_>,
    request_id: RequestId,
    session: &str,
    new_name: &str,
) -> Action {
    match ctx.shared.sessions.rename(session, new_name) {
        Ok(()) => Action::Reply(ServerMessage::Done { request_id }),
        Err(refusal) => Action::refused(Some(request_id), &refusal),
    }
}
