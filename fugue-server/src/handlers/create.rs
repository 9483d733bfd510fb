//! `CreateSession`: start a program on a new PTY, and attach the client if it asks.

use fugue_protocol::{RequestId, Role, ServerMessage, SessionSpec};
use tokio::sync::oneshot;

use super::attach::CONTROL_CANNOT_ATTACH;
use super::{Action, Ctx};
use crate::refusal::Refusal;
use crate::session::InitialAttach;

pub(super) async fn create(
    ctx: &mut Ctx<'_>,
    request_id: RequestId,
    spec: SessionSpec,
    attach: bool,
) -> Action {
    let sessions = &ctx.shared.sessions;
    let agent = ctx.agent.as_deref();
    if !attach {
        return match sessions.start(spec, None, agent) {
            Ok((session, _)) => Action::Reply(ServerMessage::Created {
                request_id,
                session,
            }),
            Err(refusal) => Action::refused(Some(request_id), &refusal),
        };
    }
    if ctx.role == Role::Control {
        let refusal = Refusal::ReadOnly(CONTROL_CANNOT_ATTACH);
        return Action::refused(Some(request_id), &refusal);
    }
    let (reply, answer) = oneshot::channel();
    let initial = InitialAttach {
        client: ctx.client,
        request_id,
        size: (ctx.role == Role::Interactive).then_some(spec.size),
        reply,
    };
    let (info, handle) = match sessions.start(spec, Some(initial), agent) {
        Ok(started) => started,
        Err(refusal) => return Action::refused(Some(request_id), &refusal),
    };
    // The session queues `Attached` itself before it reads the program's first byte.
    match answer.await {
        Ok(Ok(())) => {
            ctx.joined(handle).await;
            Action::None
        }
        Ok(Err(refusal)) => Action::refused(Some(request_id), &refusal),
        Err(_) => Action::refused(Some(request_id), &Refusal::SessionEnded(info.name)),
    }
}
