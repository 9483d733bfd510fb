//! `Capture`: a session's screen (and scrollback) as text, without attaching.

use fugue_protocol::{CaptureFormat, RequestId, ServerMessage};
use tokio::sync::oneshot;

use super::{Action, Ctx};
use crate::refusal::Refusal;
use crate::session::SessionCmd;

pub(super) async fn capture(
    ctx: &Ctx<'_>,
    request_id: RequestId,
    session: &str,
    format: CaptureFormat,
    scrollback_lines: u32,
) -> Action {
    let handle = match ctx.shared.sessions.find(session) {
        Ok(handle) => handle,
        Err(refusal) => return Action::refused(Some(request_id), &refusal),
    };
    let (reply, answer) = oneshot::channel();
    let cmd = SessionCmd::Capture {
        format,
        scrollback_lines: usize::try_from(scrollback_lines).unwrap_or(usize::MAX),
        reply,
    };
    if handle.commands.send(cmd).await.is_ok()
        && let Ok(capture) = answer.await
    {
        return Action::Reply(ServerMessage::Captured {
            request_id,
            text: capture.text,
            cursor: capture.cursor,
            size: capture.size,
            seq: capture.seq,
        });
    }
    let refusal = Refusal::NoScreen(session.to_owned());
    Action::refused(Some(request_id), &refusal)
}
