//! `Attach`, `Detach` and `Resize`: joining a session's stream and leaving it.

use fugue_protocol::{ErrorCode, RequestId, Role, TermSize};
use tokio::sync::oneshot;

use super::{Action, Ctx};
use crate::connection::error;
use crate::session::{SessionCmd, validate_size};

pub(super) async fn attach(
    ctx: &mut Ctx<'_>,
    request_id: RequestId,
    session: &str,
    size: TermSize,
    resume_from: Option<u64>,
) -> Action {
    if ctx.role == Role::Control {
        let message = "control clients cannot attach; connect as interactive or read-only";
        return Action::Reply(error(Some(request_id), ErrorCode::ReadOnly, message));
    }
    if let Err(refusal) = validate_size(size) {
        return Action::refused(Some(request_id), refusal);
    }
    let handle = match ctx.shared.sessions.find(session) {
        Ok(handle) => handle,
        Err(refusal) => return Action::refused(Some(request_id), refusal),
    };
    leave(ctx).await;
    let (reply, answer) = oneshot::channel();
    let cmd = SessionCmd::Attach {
        client: ctx.client,
        request_id,
        size: (ctx.role == Role::Interactive).then_some(size),
        resume_from,
        reply,
    };
    let gone = || {
        let message = format!("session {session:?} ended");
        Action::Reply(error(Some(request_id), ErrorCode::UnknownSession, message))
    };
    if handle.commands.send(cmd).await.is_err() {
        return gone();
    }
    match answer.await {
        // The session queued `Attached` itself, in order with its output.
        Ok(Ok(())) => {
            *ctx.attached = Some(handle);
            Action::None
        }
        Ok(Err(refusal)) => Action::refused(Some(request_id), refusal),
        Err(_) => gone(),
    }
}

/// Leaves the current session, if any, without telling the client.
pub(super) async fn leave(ctx: &mut Ctx<'_>) {
    if let Some(handle) = ctx.attached.take() {
        ctx.shared.registry.detach_from_session(ctx.client);
        let _ = handle
            .commands
            .send(SessionCmd::Detach { client: ctx.client })
            .await;
    }
}

pub(super) fn detach(ctx: &mut Ctx<'_>, request_id: RequestId) -> Action {
    if ctx.attached.is_none() {
        let message = "not attached to a session";
        return Action::Reply(error(Some(request_id), ErrorCode::NotAttached, message));
    }
    Action::Detached
}

pub(super) async fn resize(ctx: &mut Ctx<'_>, size: TermSize) -> Action {
    if let Err(refusal) = validate_size(size) {
        return Action::refused(None, refusal);
    }
    let Some(handle) = ctx.attached.as_ref() else {
        return Action::Reply(error(
            None,
            ErrorCode::NotAttached,
            "resize needs an attached client",
        ));
    };
    if ctx.role != Role::Interactive {
        // Viewers never size the PTY; their resize is not an error, just not applied.
        return Action::None;
    }
    let _ = handle
        .commands
        .send(SessionCmd::Resize {
            client: ctx.client,
            size,
        })
        .await;
    Action::None
}
