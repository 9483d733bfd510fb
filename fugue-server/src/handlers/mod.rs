//! Request handlers: one module per group of requests, each a short function from a
//! request to an [`Action`]. `dispatch` only routes.

mod agent;
mod attach;
mod capture;
mod claim;
mod create;
mod input;
mod kill;
mod list;
mod pending;
mod rename;
mod status;
mod subscribe;
mod switch;
mod upgrade;
mod web;

use std::sync::Arc;

use fugue_protocol::{ClientMessage, ErrorCode, EventKind, RequestId, Role, ServerMessage};
use fugue_registry::ClientId;

pub(crate) use self::pending::{Pending, finished};
use crate::refusal::{Refusal, error};
use crate::session::SessionHandle;
use crate::state::Shared;

/// What a connection needs to handle a request.
pub(crate) struct Ctx<'a> {
    pub(crate) shared: &'a Arc<Shared>,
    pub(crate) client: ClientId,
    pub(crate) role: Role,
    /// The protocol version it speaks.
    pub(crate) version: u32,
    /// The session this client last joined (it routes input and resizes there).
    pub(crate) session: &'a mut Option<SessionHandle>,
    /// Its ssh agent, if it said (`SetAgent`).
    pub(crate) agent: &'a mut Option<std::path::PathBuf>,
}

impl Ctx<'_> {
    /// The session the client is attached to, as the registry says: the one it joined,
    /// unless its session ended or detached it since, or another client moved it to
    /// another (`Switch`), which it then takes as its own.
    fn attached(&mut self) -> Option<&SessionHandle> {
        let id = self.shared.registry.get_attached_session(self.client)?;
        if self.session.as_ref().is_none_or(|handle| handle.id != id) {
            *self.session = Some(self.shared.sessions.find(&id.to_string()).ok()?);
        }
        self.session.as_ref()
    }

    /// The client joined `handle`'s session; the session it was in before learns that it
    /// left (the registry already moved it). Awaited, so that the old session hears of it
    /// before any later request of this client reaches it.
    async fn joined(&mut self, handle: SessionHandle) {
        let new_id = handle.id;
        if let Some(old) = self.session.replace(handle)
            && old.id != new_id
        {
            let client = self.client.get();
            self.shared
                .sessions
                .publish(&old, EventKind::Detached { client });
            old.left(self.client).await;
        }
    }
}

/// What the connection does next.
pub(crate) enum Action {
    /// Nothing to send.
    None,
    /// Send this reply.
    Reply(ServerMessage),
    /// Wait for this before reading the next request, while output keeps flowing.
    Wait(Pending),
}

impl Action {
    fn refused(request_id: Option<RequestId>, refusal: &Refusal) -> Action {
        Action::Reply(refusal.reply(request_id))
    }
}

/// Routes one client message to its handler.
pub(crate) async fn dispatch(ctx: &mut Ctx<'_>, msg: ClientMessage) -> Action {
    match msg {
        ClientMessage::Hello { .. } => Action::Reply(error(
            None,
            ErrorCode::HandshakeRequired,
            "Hello may only be sent once",
        )),
        ClientMessage::Ping { nonce } => Action::Reply(ServerMessage::Pong { nonce }),
        ClientMessage::Pong { .. } => Action::None,
        ClientMessage::ListSessions { request_id } => list::list(ctx, request_id),
        ClientMessage::CreateSession {
            request_id,
            spec,
            attach,
        } => create::create(ctx, request_id, spec, attach).await,
        msg @ (ClientMessage::Attach { .. } | ClientMessage::AttachWithHistory { .. }) => {
            attach::joining(ctx, msg).await
        }
        ClientMessage::Detach { request_id } => attach::detach(ctx, request_id).await,
        ClientMessage::Input { data } => input::input(ctx, data),
        ClientMessage::Resize { size } => attach::resize(ctx, size).await,
        ClientMessage::KillSession {
            request_id,
            session,
        } => kill::kill_session(ctx, request_id, &session).await,
        ClientMessage::RenameSession {
            request_id,
            session,
            new_name,
        } => rename::rename(ctx, request_id, &session, &new_name),
        ClientMessage::SendInput {
            request_id,
            session,
            data,
        } => input::send_input(ctx, request_id, &session, data),
        ClientMessage::Capture {
            request_id,
            session,
            format,
            scrollback_lines,
        } => capture::capture(ctx, request_id, &session, format, scrollback_lines).await,
        ClientMessage::Status { request_id } => status::status(ctx, request_id),
        ClientMessage::KillServer { request_id } => kill::kill_server(ctx, request_id),
        ClientMessage::Upgrade {
            request_id,
            server_binary,
        } => upgrade::upgrade(ctx, request_id, &server_binary).await,
        msg @ (ClientMessage::Subscribe { .. }
        | ClientMessage::Claim { .. }
        | ClientMessage::Release { .. }) => automation(ctx, msg),
        msg @ (ClientMessage::SetAgent { .. } | ClientMessage::Switch { .. }) => {
            terminals(ctx, msg).await
        }
        msg @ (ClientMessage::ServeWeb { .. }
        | ClientMessage::RevokeWebTokens { .. }
        | ClientMessage::ListClients { .. }) => web::web(ctx, msg).await,
    }
}

/// Routes the requests about a client's terminal: its ssh agent, and moving it to another
/// session (protocol 6).
async fn terminals(ctx: &mut Ctx<'_>, msg: ClientMessage) -> Action {
    match msg {
        ClientMessage::SetAgent { request_id, path } => agent::set_agent(ctx, request_id, &path),
        ClientMessage::Switch {
            request_id,
            from,
            to,
        } => switch::switch(ctx, request_id, &from, &to).await,
        // `dispatch` sends nothing else here.
        _ => Action::Reply(error(None, ErrorCode::Internal, "misrouted request")),
    }
}

/// Routes the requests scripts use to follow and take sessions (protocol 6).
fn automation(ctx: &mut Ctx<'_>, msg: ClientMessage) -> Action {
    match msg {
        ClientMessage::Subscribe {
            request_id,
            session,
        } => subscribe::subscribe(ctx, request_id, session.as_deref()),
        ClientMessage::Claim {
            request_id,
            session,
        } => claim::claim(ctx, request_id, &session),
        ClientMessage::Release {
            request_id,
            session,
        } => claim::release(ctx, request_id, &session),
        // `dispatch` sends nothing else here.
        _ => Action::Reply(error(None, ErrorCode::Internal, "misrouted request")),
    }
}
