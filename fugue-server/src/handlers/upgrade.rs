//! `Upgrade`: replace the running server with a new binary (see `handoff`). The binary is
//! probed here, while everything still runs; the request is answered by the new server,
//! or refused now, leaving this server as it was.

use std::path::PathBuf;

use fugue_protocol::{ErrorCode, RequestId, Role};

use super::{Action, Ctx};
use crate::handoff::UpgradeRequest;
use crate::handoff::probe::probe;
use crate::refusal::{Refusal, error};

/// The protocol version that brought `Upgrade` (and its answer, `Upgraded`).
const UPGRADE_SINCE: u32 = 5;

pub(super) async fn upgrade(ctx: &Ctx<'_>, request_id: RequestId, binary: &str) -> Action {
    let refuse = |refusal: Refusal| Action::refused(Some(request_id), &refusal);
    if ctx.version < UPGRADE_SINCE {
        let why = format!(
            "Upgrade is a protocol {UPGRADE_SINCE} request; this client speaks {}",
            ctx.version
        );
        return Action::Reply(error(Some(request_id), ErrorCode::InvalidRequest, why));
    }
    if ctx.role == Role::ReadOnly {
        return refuse(Refusal::ReadOnly(
            "read-only clients cannot upgrade the server",
        ));
    }
    let binary = PathBuf::from(binary);
    if !binary.is_absolute() {
        let why = format!(
            "{}: give the new binary as an absolute path",
            binary.display()
        );
        return refuse(Refusal::Upgrade(why));
    }
    let mut versions: Vec<u32> = ctx
        .shared
        .registry
        .list()
        .into_iter()
        .map(|client| client.info.version)
        .collect();
    versions.sort_unstable();
    versions.dedup();
    if let Err(refusal) = probe(&binary, &versions).await {
        return refuse(refusal);
    }
    let request = UpgradeRequest {
        client: ctx.client,
        request_id,
        binary,
    };
    if !ctx.shared.handoff.request(request) {
        return refuse(Refusal::Upgrade("an upgrade is under way already".into()));
    }
    tracing::info!(client = %ctx.client, "upgrade requested");
    Action::None
}
