//! `Attach` (and `AttachWithHistory`), `Detach` and `Resize`: joining a session's stream and leaving it. The session
//! task makes the client a member (or not) itself; these handlers ask it to.

use fugue_protocol::{ClientMessage, ErrorCode, RequestId, Role, TermSize};
use tokio::sync::oneshot;

use super::{Action, Ctx, Pending};
use crate::refusal::{Refusal, check_size, error};
use crate::session::{HistoryReplay, SessionCmd, Start};

/// Why control clients never attach.
pub(super) const CONTROL_CANNOT_ATTACH: &str =
    "control clients cannot attach; connect as interactive or read-only";

/// `Attach` and `AttachWithHistory`: where the client's stream starts, then [`attach`].
pub(super) async fn joining(ctx: &mut Ctx<'_>, msg: ClientMessage) -> Action {
    let (request_id, session, size, start) = match msg {
        ClientMessage::Attach {
            request_id,
            session,
            size,
            resume_from,
        } => (request_id, session, size, Start::resuming(resume_from)),
        ClientMessage::AttachWithHistory {
            request_id,
            session,
            size,
            history,
        } => {
            let history = (history > 0).then_some(HistoryReplay {
                lines: usize::try_from(history).unwrap_or(usize::MAX),
                rows: size.rows,
            });
            (request_id, session, size, Start::Fresh(history))
        }
        // `dispatch` sends nothing else here.
        _ => return Action::Reply(error(None, ErrorCode::Internal, "misrouted request")),
    };
    attach(ctx, request_id, &session, size, start).await
}

pub(super) async fn attach(
    ctx: &mut Ctx<'_>,
    request_id: RequestId,
    session: &str,
    size: TermSize,
    start: Start,
) -> Action {
    let refused = |refusal: Refusal| Action::refused(Some(request_id), &refusal);
    if ctx.role == Role::Control {
        return refused(Refusal::ReadOnly(CONTROL_CANNOT_ATTACH));
    }
    let size = match check_size(size) {
        Ok(size) => size,
        Err(refusal) => return refused(refusal),
    };
    let handle = match ctx.shared.sessions.find(session) {
        Ok(handle) => handle,
        Err(refusal) => return refused(refusal),
    };
    let (reply, answer) = oneshot::channel();
    let cmd = SessionCmd::Attach {
        client: ctx.client,
        request_id,
        size: (ctx.role == Role::Interactive).then_some(size),
        start,
        reply,
    };
    let ended = || refused(Refusal::SessionEnded(session.to_owned()));
    if handle.commands.send(cmd).await.is_err() {
        return ended();
    }
    match answer.await {
        // The session queued `Attached` itself, in order with its output.
        Ok(Ok(())) => {
            if let (Role::Interactive, Some(agent)) = (ctx.role, ctx.agent.as_deref()) {
                ctx.shared.sessions.point_agent(&handle, agent);
            }
            ctx.joined(handle).await;
            Action::None
        }
        Ok(Err(refusal)) => refused(refusal),
        Err(_) => ended(),
    }
}

/// Asks the session to detach the client; its `Detached` comes through the client's
/// queue, after the output queued before it, and the connection reads the next request
/// once it is queued.
pub(super) async fn detach(ctx: &mut Ctx<'_>, request_id: RequestId) -> Action {
    let Some(handle) = ctx.attached().cloned() else {
        let refusal = Refusal::NotAttached("not attached to a session");
        return Action::refused(Some(request_id), &refusal);
    };
    *ctx.session = None;
    let (done, queued) = oneshot::channel();
    let cmd = SessionCmd::Detach {
        client: ctx.client,
        done,
    };
    if handle.commands.send(cmd).await.is_err() {
        // The session ended meanwhile, and its farewell detached the client.
        return Action::None;
    }
    Action::Wait(Pending::Detach(queued))
}

pub(super) async fn resize(ctx: &mut Ctx<'_>, size: TermSize) -> Action {
    let size = match check_size(size) {
        Ok(size) => size,
        Err(refusal) => return Action::refused(None, &refusal),
    };
    let (role, client) = (ctx.role, ctx.client);
    let Some(handle) = ctx.attached() else {
        let refusal = Refusal::NotAttached("resize needs an attached client");
        return Action::refused(None, &refusal);
    };
    if role != Role::Interactive {
        // Viewers never size the PTY; their resize is not an error, just not applied.
        return Action::None;
    }
    let cmd = SessionCmd::Resize { client, size };
    let _ = handle.commands.send(cmd).await;
    Action::None
}
