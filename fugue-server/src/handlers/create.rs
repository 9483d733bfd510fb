//! `CreateSession`: start a program on a new PTY.

use fugue_protocol::{RequestId, ServerMessage, SessionSpec};

use super::{Action, Ctx};
use crate::session;

pub(super) fn create(ctx: &Ctx<'_>, request_id: RequestId, spec: SessionSpec) -> Action {
    match session::start(ctx.shared, spec) {
        Ok(session) => Action::Reply(ServerMessage::Created {
            request_id,
            session,
        }),
        Err(refusal) => Action::refused(Some(request_id), refusal),
    }
}
