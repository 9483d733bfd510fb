//! `KillSession` and `KillServer`.

use fugue_protocol::{EventKind, RequestId, ServerMessage};
use tokio::sync::oneshot;

use super::{Action, Ctx};
use crate::session::SessionCmd;

pub(super) async fn kill_session(ctx: &Ctx<'_>, request_id: RequestId, session: &str) -> Action {
    let handle = match ctx.shared.sessions.find(session) {
        Ok(handle) => handle,
        Err(refusal) => return Action::refused(Some(request_id), &refusal),
    };
    ctx.shared.sessions.publish(&handle, EventKind::Killed);
    let (reply, done) = oneshot::channel();
    if handle
        .commands
        .send(SessionCmd::Kill { reply })
        .await
        .is_ok()
    {
        // The reply comes once the program is reaped and the session removed (SIGKILL
        // follows SIGHUP after the grace period, so this wait is bounded); a dropped reply
        // means the session ended on its own meanwhile, which is just as good.
        let _ = done.await;
    }
    Action::Reply(ServerMessage::Done { request_id })
}

pub(super) fn kill_server(ctx: &Ctx<'_>, request_id: RequestId) -> Action {
    tracing::info!(client = %ctx.client, "shutdown requested by a client");
    ctx.shared.shutdown.cancel();
    Action::Reply(ServerMessage::Done { request_id })
}
