//! The browser viewer's requests: `ServeWeb` (start the listener, mint a link),
//! `RevokeWebTokens`, and `ListClients`, which lists terminals and browsers alike.

use std::time::{SystemTime, UNIX_EPOCH};

use fugue_protocol::{ClientMessage, ClientSummary, ErrorCode, RequestId, Role, ServerMessage};
use fugue_registry::ClientInfo;

use super::{Action, Ctx};
use crate::refusal::{Refusal, error};
use crate::web::{Web, WebError};

/// Routes the viewer's requests (protocol 8).
pub(super) async fn web(ctx: &mut Ctx<'_>, msg: ClientMessage) -> Action {
    let read_only = ctx.role == Role::ReadOnly;
    match msg {
        ClientMessage::ServeWeb { request_id, .. }
        | ClientMessage::RevokeWebTokens { request_id }
            if read_only =>
        {
            let refusal = Refusal::ReadOnly("read-only clients cannot serve or revoke links");
            Action::Reply(refusal.reply(Some(request_id)))
        }
        ClientMessage::ServeWeb { request_id, grant } => {
            let reply = match Web::link(ctx.shared, grant).await {
                Ok(link) => ServerMessage::WebLink {
                    request_id,
                    url: link.url,
                    token: link.token,
                    expires_unix_ms: unix_ms(link.expires),
                },
                Err(err @ WebError::UnknownSession(_)) => {
                    error(Some(request_id), ErrorCode::UnknownSession, err.to_string())
                }
                Err(err @ WebError::Refused(_)) => {
                    error(Some(request_id), ErrorCode::InvalidRequest, err.to_string())
                }
            };
            Action::Reply(reply)
        }
        ClientMessage::RevokeWebTokens { request_id } => {
            let (tokens, connections) = ctx.shared.web.revoke_all();
            tracing::info!(tokens, connections, "browser tokens revoked");
            Action::Reply(ServerMessage::WebRevoked {
                request_id,
                tokens: count(tokens),
                connections: count(connections),
            })
        }
        ClientMessage::ListClients { request_id } => list_clients(ctx, request_id),
        // `dispatch` sends nothing else here.
        _ => Action::Reply(error(None, ErrorCode::Internal, "misrouted request")),
    }
}

fn list_clients(ctx: &Ctx<'_>, request_id: RequestId) -> Action {
    let sessions = &ctx.shared.sessions;
    let clients = ctx
        .shared
        .registry
        .list()
        .into_iter()
        .map(|client| {
            let session = client.session.and_then(|id| {
                let handle = sessions.find(&id.to_string()).ok()?;
                Some(sessions.info(&handle).name)
            });
            let meta = &client.info;
            let (kind, remote, scopes) = match &meta.browser {
                Some(browser) => (
                    "browser",
                    browser.remote.to_string(),
                    browser.scopes.clone(),
                ),
                None => {
                    let pid = meta
                        .pid
                        .map_or_else(|| "?".to_owned(), |pid| pid.to_string());
                    ("terminal", format!("pid {pid}"), Vec::new())
                }
            };
            ClientSummary {
                id: client.id.get(),
                kind: kind.to_owned(),
                role: meta.role().to_owned(),
                session,
                remote,
                connected_unix_ms: unix_ms(client.connected_at),
                scopes,
                identity: meta.identity,
            }
        })
        .collect();
    Action::Reply(ServerMessage::Clients {
        request_id,
        clients,
    })
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
