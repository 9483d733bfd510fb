//! Request handlers: one module per request kind, each a short function from a request to
//! an [`Action`]. `dispatch` only routes.

mod attach;
mod capture;
mod create;
mod input;
mod kill;
mod list;
mod rename;
mod status;

use std::sync::Arc;

use fugue_protocol::{ClientMessage, ErrorCode, RequestId, Role, ServerMessage};
use fugue_registry::ClientId;
use tokio::sync::mpsc;

use crate::connection::error;
use crate::session::{Input, SessionHandle};
use crate::sessions::Refusal;
use crate::state::Shared;

/// What a connection needs to handle a request.
pub(crate) struct Ctx<'a> {
    pub(crate) shared: &'a Arc<Shared>,
    pub(crate) client: ClientId,
    pub(crate) role: Role,
    pub(crate) attached: &'a mut Option<SessionHandle>,
}

/// What the connection does next.
pub(crate) enum Action {
    /// Nothing to send.
    None,
    /// Send this reply.
    Reply(ServerMessage),
    /// Hand this input to a session once its queue has room (backpressure).
    Forward(mpsc::Sender<Input>, Input),
    /// The client detached: update the registry and say `Detached { Requested }`.
    Detached,
}

impl Action {
    fn refused(request_id: Option<RequestId>, (code, message): Refusal) -> Action {
        Action::Reply(error(request_id, code, message))
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
        ClientMessage::Attach {
            request_id,
            session,
            size,
            resume_from,
        } => attach::attach(ctx, request_id, &session, size, resume_from).await,
        ClientMessage::Detach { request_id } => attach::detach(ctx, request_id),
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
        } => input::send_input(ctx, request_id, &session, data).await,
        ClientMessage::Capture {
            request_id,
            session,
            format,
            scrollback_lines,
        } => capture::capture(ctx, request_id, &session, format, scrollback_lines).await,
        ClientMessage::Status { request_id } => status::status(ctx, request_id),
        ClientMessage::KillServer { request_id } => kill::kill_server(ctx, request_id),
    }
}
