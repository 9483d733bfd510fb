//! `Input` (from an attached client) and `SendInput` (to any session, without attaching).

use bytes::Bytes;
use fugue_protocol::{RequestId, Role, ServerMessage};
use tokio::sync::mpsc::error::TrySendError;

use super::{Action, Ctx};
use crate::refusal::Refusal;
use crate::session::Input;

const READ_ONLY: &str = "this client is read-only: its input is not sent";

/// Input for the attached session. When its queue is full, the connection waits for room
/// before it reads the next request: backpressure on a program that does not read.
pub(super) fn input(ctx: &Ctx<'_>, data: Bytes) -> Action {
    let Some(handle) = ctx.attached() else {
        let refusal = Refusal::NotAttached("input needs an attached client");
        return Action::refused(None, &refusal);
    };
    if ctx.role != Role::Interactive {
        return Action::refused(None, &Refusal::ReadOnly(READ_ONLY));
    }
    let input = Input {
        client: Some(ctx.client),
        data,
    };
    match handle.input.try_send(input) {
        // A closed queue: the session is ending, and will say so.
        Ok(()) | Err(TrySendError::Closed(_)) => Action::None,
        Err(TrySendError::Full(input)) => {
            let sender = handle.input.clone();
            Action::Wait(Box::pin(async move {
                let _ = sender.send(input).await;
            }))
        }
    }
}

pub(super) async fn send_input(
    ctx: &Ctx<'_>,
    request_id: RequestId,
    session: &str,
    data: Bytes,
) -> Action {
    if ctx.role == Role::ReadOnly {
        return Action::refused(Some(request_id), &Refusal::ReadOnly(READ_ONLY));
    }
    let handle = match ctx.shared.sessions.find(session) {
        Ok(handle) => handle,
        Err(refusal) => return Action::refused(Some(request_id), &refusal),
    };
    let input = Input { client: None, data };
    // Waiting here is the backpressure on a program that does not read its input; a
    // shutdown cancels the wait.
    let sent = tokio::select! {
        sent = handle.input.send(input) => sent.is_ok(),
        () = ctx.shared.shutdown.cancelled() => false,
    };
    if sent {
        Action::Reply(ServerMessage::Done { request_id })
    } else {
        let refusal = Refusal::InputNotTaken(session.to_owned());
        Action::refused(Some(request_id), &refusal)
    }
}
