//! `Input` (from an attached client) and `SendInput` (to any session, without attaching).

use bytes::Bytes;
use fugue_protocol::{ErrorCode, RequestId, Role, ServerMessage};

use super::{Action, Ctx};
use crate::connection::error;
use crate::session::Input;

pub(super) fn input(ctx: &Ctx<'_>, data: Bytes) -> Action {
    let Some(handle) = ctx.attached.as_ref() else {
        return Action::Reply(error(
            None,
            ErrorCode::NotAttached,
            "input needs an attached client",
        ));
    };
    if ctx.role != Role::Interactive {
        let message = "this client is read-only: its input is not sent";
        return Action::Reply(error(None, ErrorCode::ReadOnly, message));
    }
    let input = Input {
        client: Some(ctx.client),
        data,
    };
    Action::Forward(handle.input.clone(), input)
}

pub(super) async fn send_input(
    ctx: &Ctx<'_>,
    request_id: RequestId,
    session: &str,
    data: Bytes,
) -> Action {
    if ctx.role == Role::ReadOnly {
        let message = "this client is read-only: its input is not sent";
        return Action::Reply(error(Some(request_id), ErrorCode::ReadOnly, message));
    }
    let handle = match ctx.shared.sessions.find(session) {
        Ok(handle) => handle,
        Err(refusal) => return Action::refused(Some(request_id), refusal),
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
        let message = format!("session {session:?} ended before it took the input");
        Action::Reply(error(Some(request_id), ErrorCode::UnknownSession, message))
    }
}
