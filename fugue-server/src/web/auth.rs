//! Before a browser is served: its `auth`, checked against the tokens (a refusal waits
//! [`REFUSAL_DELAY`], whatever was wrong), and its place in the count of browsers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::Message;
use futures_util::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};
use tokio::time::{Instant, timeout};

use super::lock;
use super::socket::{Sink, Source};
use super::tokens::{Denied, Grant};
use super::wire::{self, FromBrowser, close};
use crate::state::Shared;

/// The `auth` message must arrive within this time.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// A refused token is answered after this delay, whatever was wrong with it.
const REFUSAL_DELAY: Duration = Duration::from_millis(300);
/// The delay once its address has failed too often.
const LIMITED_DELAY: Duration = Duration::from_secs(2);

/// Counts a browser in `Web::live` while it is connected.
pub(super) struct Live(pub(super) Arc<Shared>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.web.live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Waits for a good `auth`; answers anything else and closes.
pub(super) async fn authenticate(
    shared: &Shared,
    sink: &mut Sink,
    source: &mut Source,
    remote: SocketAddr,
) -> Option<(Grant, Option<uuid::Uuid>)> {
    let first = timeout(AUTH_TIMEOUT, source.next()).await;
    let auth = match first {
        Ok(Some(Ok(Message::Text(text)))) => match FromBrowser::parse(&text) {
            Ok(FromBrowser::Auth(auth)) => Some(auth),
            _ => None,
        },
        Ok(Some(Ok(_))) => None,
        Err(_) => return refuse(sink, close::PROTOCOL, "timeout", "no auth in time").await,
        Ok(_) => return None,
    };
    let Some(auth) = auth else {
        let text = "the first message must be auth";
        return refuse(sink, close::PROTOCOL, "bad_message", text).await;
    };
    let now = Instant::now().into_std();
    let checked = lock(&shared.web.tokens).check(&auth.token, remote.ip(), now);
    match checked {
        Ok(grant) => Some((grant, auth.device)),
        Err(Denied::Unauthorized) => {
            tokio::time::sleep(REFUSAL_DELAY).await;
            let text = "the link is wrong, expired or revoked; run `fugue web` for a new one";
            refuse(sink, close::UNAUTHORIZED, "unauthorized", text).await
        }
        Err(Denied::RateLimited) => {
            tokio::time::sleep(LIMITED_DELAY).await;
            let text = "too many failed attempts; try again in a minute";
            refuse(sink, close::BUSY, "rate_limited", text).await
        }
    }
}

/// Answers `kind` with `text`, then closes with `code`.
pub(super) async fn refuse<T>(sink: &mut Sink, code: u16, kind: &str, text: &str) -> Option<T> {
    tracing::info!(code = kind, "browser refused");
    let _ = sink.send(wire::error(kind, text)).await;
    let _ = sink.send(wire::closing(code, kind)).await;
    None
}

/// The registry identity of a browser tab's `device`: derived from it (SHA-256 of a
/// prefix and the id), so that a page can only ever replace another browser's connection
/// of the same device, never a terminal client's whatever id it sends.
pub(super) fn browser_identity(device: uuid::Uuid) -> uuid::Uuid {
    let digest = Sha256::new()
        .chain_update(b"fugue browser device ")
        .chain_update(device.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The names of the sessions a scoped grant names, for status reports.
pub(super) fn scope_names(shared: &Shared, grant: &Grant) -> Vec<String> {
    let Some(ids) = &grant.sessions else {
        return Vec::new();
    };
    ids.iter()
        .map(|id| {
            shared.sessions.find(&id.to_string()).map_or_else(
                |_| id.to_string(),
                |handle| shared.sessions.info(&handle).name,
            )
        })
        .collect()
}
