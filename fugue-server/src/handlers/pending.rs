//! [`Pending`]: a request that completes later. The connection reads no further request
//! until it has, while output keeps flowing to it; an upgrade carries it to the next
//! server.

use bytes::Bytes;
use fugue_protocol::{RequestId, ServerMessage};
use fugue_registry::ClientId;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::refusal::Refusal;
use crate::session::{Input, SessionHandle};

/// A request that completes later.
pub(crate) enum Pending {
    /// Input waiting for room in its session's queue; `reply` is the `SendInput` request,
    /// which the session answers once the input is written (or is refused here, if the
    /// session ends first).
    Input {
        /// The session it is for.
        session: Uuid,
        sender: mpsc::Sender<Input>,
        input: Input,
        reply: Option<RequestId>,
    },
    /// A detach waiting for its `Detached` to be queued.
    Detach(oneshot::Receiver<()>),
    /// A claim waiting for another client to release the session.
    Claim {
        session: SessionHandle,
        client: ClientId,
        request_id: RequestId,
    },
}

impl Pending {
    /// Input for `session` from `client`: typed by it if attached (`reply` is `None`),
    /// else a `SendInput`.
    pub(crate) fn input(
        session: &SessionHandle,
        client: ClientId,
        data: Bytes,
        reply: Option<RequestId>,
    ) -> Pending {
        let input = Input {
            client: reply.is_none().then_some(client),
            data,
            reply: reply.map(|request_id| (client, request_id)),
        };
        Pending::Input {
            session: session.id,
            sender: session.input.clone(),
            input,
            reply,
        }
    }

    /// Whether it must stay put while an upgrade parks connections: what it would hand a
    /// session now could be lost with the session's state, so it goes along instead.
    pub(crate) fn held_while_parked(&self) -> bool {
        matches!(self, Pending::Input { .. } | Pending::Claim { .. })
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
            let Ok(permit) = sender.reserve().await else {
                return reply.map(|request_id| Refusal::InputNotTaken.reply(Some(request_id)));
            };
            permit.send(Input {
                client: input.client,
                data: std::mem::take(&mut input.data),
                reply: input.reply,
            });
            None
        }
        Some(Pending::Claim {
            session,
            client,
            request_id,
        }) => {
            let request_id = Some(*request_id);
            tokio::select! {
                () = session.meta.claim.take(*client) => Some(ServerMessage::Done {
                    request_id: request_id?,
                }),
                () = session.commands.closed() => {
                    Some(Refusal::SessionEnded(session.meta.name()).reply(request_id))
                }
            }
        }
    }
}
