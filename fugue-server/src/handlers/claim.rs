//! `Claim` and `Release`: a session for one client at a time (`fugue run`). A claim held
//! by another client is waited for ([`Pending::Claim`]); the connection gives back what it
//! holds when it ends.

use fugue_protocol::{RequestId, Role, ServerMessage};

use super::{Action, Ctx, Pending};
use crate::refusal::Refusal;

const READ_ONLY: &str = "read-only clients cannot claim a session";

pub(super) fn claim(ctx: &Ctx<'_>, request_id: RequestId, session: &str) -> Action {
    if ctx.role == Role::ReadOnly {
        return Action::refused(Some(request_id), &Refusal::ReadOnly(READ_ONLY));
    }
    let handle = match ctx.shared.sessions.find(session) {
        Ok(handle) => handle,
        Err(refusal) => return Action::refused(Some(request_id), &refusal),
    };
    if handle.meta.claim.try_take(ctx.client) {
        return Action::Reply(ServerMessage::Done { request_id });
    }
    Action::Wait(Pending::Claim {
        session: handle,
        client: ctx.client,
        request_id,
    })
}

pub(super) fn release(ctx: &Ctx<'_>, request_id: RequestId, session: &str) -> Action {
    let handle = match ctx.shared.sessions.find(session) {
        Ok(handle) => handle,
        Err(refusal) => return Action::refused(Some(request_id), &refusal),
    };
    if handle.meta.claim.release(ctx.client) {
        Action::Reply(ServerMessage::Done { request_id })
    } else {
        let refusal = Refusal::NotClaimed(handle.meta.name());
        Action::refused(Some(request_id), &refusal)
    }
}
