//! `Input` (from an attached client) and `SendInput` (to any session, without attaching).
//!
//! Input goes into its session's bounded queue. When the queue is full, the connection
//! waits for room ([`Pending::Input`]) before it reads the next request: backpressure on a
//! program that does not read, which never holds up output to the client.

use bytes::Bytes;
use fugue_protocol::{RequestId, Role};
use tokio::sync::mpsc::error::TrySendError;

use super::{Action, Ctx, Pending};
use crate::refusal::Refusal;
use crate::session::SessionHandle;

const READ_ONLY: &str = "this client is read-only: its input is not sent";

/// Input for the attached session.
pub(super) fn input(ctx: &mut Ctx<'_>, data: Bytes) -> Action {
    let (role, client) = (ctx.role, ctx.client);
    let Some(handle) = ctx.attached() else {
        let refusal = Refusal::NotAttached("input needs an attached client");
        return Action::refused(None, &refusal);
    };
    if role != Role::Interactive {
        return Action::refused(None, &Refusal::ReadOnly(READ_ONLY));
    }
    queue(Pending::input(handle, client, data, None))
}

/// Input for any session; answered `InputTaken` by the session once it is written.
pub(super) fn send_input(
    ctx: &Ctx<'_>,
    request_id: RequestId,
    session: &str,
    data: Bytes,
) -> Action {
    if ctx.role == Role::ReadOnly {
        return Action::refused(Some(request_id), &Refusal::ReadOnly(READ_ONLY));
    }
    let handle: SessionHandle = match ctx.shared.sessions.find(session) {
        Ok(handle) => handle,
        Err(refusal) => return Action::refused(Some(request_id), &refusal),
    };
    queue(Pending::input(&handle, ctx.client, data, Some(request_id)))
}

/// Queues the input now if its session has room, else waits for room.
fn queue(pending: Pending) -> Action {
    let Pending::Input {
        session,
        sender,
        input,
        reply,
    } = pending
    else {
        return Action::None;
    };
    match sender.try_send(input) {
        // The session answers a `SendInput` once the input is written.
        Ok(()) => Action::None,
        Err(TrySendError::Closed(_)) => match reply {
            Some(request_id) => Action::refused(Some(request_id), &Refusal::InputNotTaken),
            // Input from an attached client whose session is ending: the session says so.
            None => Action::None,
        },
        Err(TrySendError::Full(input)) => Action::Wait(Pending::Input {
            session,
            sender,
            input,
            reply,
        }),
    }
}
