//! `CreateSession`: start a program on a new PTY, and attach the client if it asks.

use fugue_protocol::{ErrorCode, RequestId, Role, ServerMessage, SessionSpec};

use super::{Action, Ctx, attach};
use crate::connection::error;
use crate::session::{self, InitialAttach};

pub(super) async fn create(
    ctx: &mut Ctx<'_>,
    request_id: RequestId,
    spec: SessionSpec,
    attach: bool,
) -> Action {
    if !attach {
        return match session::start(ctx.shared, spec, None) {
            Ok((session, _)) => Action::Reply(ServerMessage::Created {
                request_id,
                session,
            }),
            Err(refusal) => Action::refused(Some(request_id), refusal),
        };
    }
    if ctx.role == Role::Control {
        let message = "control clients cannot attach; connect as interactive or read-only";
        return Action::Reply(error(Some(request_id), ErrorCode::ReadOnly, message));
    }
    attach::leave(ctx).await;
    let initial = InitialAttach {
        client: ctx.client,
        request_id,
        size: (ctx.role == Role::Interactive).then_some(spec.size),
    };
    match session::start(ctx.shared, spec, Some(initial)) {
        // The session queues `Attached` itself before it reads the program's first byte.
        Ok((_, handle)) => {
            *ctx.attached = Some(handle);
            Action::None
        }
        Err(refusal) => Action::refused(Some(request_id), refusal),
    }
}
