//! `Switch`: `fugue switch NAME`, typed inside a session, moves the terminal attached there
//! (the session's latest interactive client, whose user typed it) to session NAME: no
//! nesting, no second client. The moved client gets an `Attached` with request id
//! [`SWITCHED`], and its connection takes the new session as its own when it writes that.

use fugue_protocol::{RequestId, ServerMessage};
use tokio::sync::oneshot;

use super::{Action, Ctx};
use crate::refusal::Refusal;
use crate::session::{SWITCHED, SessionCmd, SessionHandle, Start};

/// The first protocol version whose clients understand an unasked-for `Attached`.
const SWITCHABLE_VERSION: u32 = 6;

pub(super) async fn switch(ctx: &Ctx<'_>, request_id: RequestId, from: &str, to: &str) -> Action {
    match moved(ctx, from, to).await {
        Ok(()) => Action::Reply(ServerMessage::Done { request_id }),
        Err(refusal) => Action::refused(Some(request_id), &refusal),
    }
}

async fn moved(ctx: &Ctx<'_>, from: &str, to: &str) -> Result<(), Refusal> {
    if ctx.role == fugue_protocol::Role::ReadOnly {
        return Err(Refusal::ReadOnly("a read-only client moves no terminal"));
    }
    let sessions = &ctx.shared.sessions;
    let (source, target) = (sessions.find(from)?, sessions.find(to)?);
    if source.id == target.id {
        return Err(Refusal::Invalid("that is the session it is in"));
    }
    let (client, size) = latest(&source).await?.ok_or(Refusal::NotAttached(
        "no terminal is attached there interactively",
    ))?;
    let version = ctx
        .shared
        .registry
        .get_client(client)
        .map(|c| c.info.version);
    if version.is_none_or(|version| version < SWITCHABLE_VERSION) {
        return Err(Refusal::Invalid(
            "the fugue attached there is too old to switch; detach and attach instead",
        ));
    }
    let (reply, answer) = oneshot::channel();
    let cmd = SessionCmd::Attach {
        client,
        request_id: SWITCHED,
        size: Some(size),
        start: Start::Fresh(None),
        reply,
    };
    let ended = || Refusal::SessionEnded(to.to_owned());
    target.commands.send(cmd).await.map_err(|_| ended())?;
    answer.await.map_err(|_| ended())??;
    // The registry moved the client; the session it left hears of it.
    let detached = fugue_protocol::EventKind::Detached {
        client: client.get(),
    };
    sessions.publish(&source, detached);
    source.left(client).await;
    Ok(())
}

/// The interactive client `session`'s size follows, and its size.
async fn latest(
    session: &SessionHandle,
) -> Result<Option<(fugue_registry::ClientId, fugue_protocol::TermSize)>, Refusal> {
    let (reply, answer) = oneshot::channel();
    let ended = || Refusal::SessionEnded(session.meta.name());
    let cmd = SessionCmd::Latest { reply };
    session.commands.send(cmd).await.map_err(|_| ended())?;
    answer.await.map_err(|_| ended())
}
