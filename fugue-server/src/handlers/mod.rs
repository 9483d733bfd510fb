//! Request handlers: one module per group of requests, each a short function from a
//! request to an [`Action`]. `dispatch` only routes.

mod attach;
mod capture;
mod create;
mod input;
mod kill;
mod list;
mod rename;
mod status;
mod upgrade;

use std::sync::Arc;

use bytes::Bytes;
use fugue_protocol::{ClientMessage, ErrorCode, RequestId, Role, ServerMessage};
use fugue_registry::ClientId;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::refusal::{Refusal, error};
use crate::session::{Input, SessionHandle};
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
}

impl Ctx<'_> {
    /// The session the client is attached to: the one it joined, if the registry says it
    /// is still a member (its session may have ended, or detached it, since).
    fn attached(&self) -> Option<&SessionHandle> {
        let handle = self.session.as_ref()?;
        let member = self.shared.registry.get_attached_session(self.client) == Some(handle.id);
        member.then_some(handle)
    }

    /// The client joined `handle`'s session; the session it was in before learns that it
    /// left (the registry already moved it). Awaited, so that the old session hears of it
    /// before any later request of this client reaches it.
    async fn joined(&mut self, handle: SessionHandle) {
        let new_id = handle.id;
        if let Some(old) = self.session.replace(handle)
            && old.id != new_id
        {
            old.left(self.client).await;
        }
    }
}

/// A request that completes later; the connection reads no further request until it has,
/// and an upgrade carries it to the next server.
pub(crate) enum Pending {
    /// Input waiting for room in its session's queue; `reply` is the `SendInput` request to
    /// answer once it is taken.
    Input {
        /// The session it is for.
        session: Uuid,
        sender: mpsc::Sender<Input>,
        input: Input,
        reply: Option<RequestId>,
    },
    /// A detach waiting for its `Detached` to be queued.
    Detach(oneshot::Receiver<()>),
}

impl Pending {
    /// Input for `session` from `client` (`None` for `SendInput`, which attaches nothing).
    pub(crate) fn input(
        session: &SessionHandle,
        client: ClientId,
        data: Bytes,
        reply: Option<RequestId>,
    ) -> Pending {
        let client = reply.is_none().then_some(client);
        Pending::Input {
            session: session.id,
            sender: session.input.clone(),
            input: Input { client, data },
            reply,
        }
    }
}

/// Completes when the awaited request does (never without one), with the reply to send,
/// if any. Cancel-safe: an input not taken yet stays in `waiting`.
pub(crate) async fn finished(waiting: &mut Option<Pending>) -> Option<ServerMessage> {
    match waiting {
        None => std::future::pending().await,
        Some(Pending::Detach(done)) => {
            let _ = done.await;
            None
        }
        Some(Pending::Input {
            sender,
            input,
            reply,
            ..
        }) => {
            let taken = match sender.reserve().await {
                Ok(permit) => {
                    let data = std::mem::take(&mut input.data);
                    permit.send(Input {
                        client: input.client,
                        data,
                    });
                    true
                }
                Err(_) => false,
            };
            let request_id = (*reply)?;
            Some(if taken {
                ServerMessage::Done { request_id }
            } else {
                Refusal::InputNotTaken.reply(Some(request_id))
            })
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
        ClientMessage::Attach {
            request_id,
            session,
            size,
            resume_from,
        } => attach::attach(ctx, request_id, &session, size, resume_from).await,
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
    }
}
