//! `Status`: the registry's health snapshot plus facts about the server.

use std::sync::atomic::Ordering;

use fugue_protocol::{PROTOCOL_VERSION, RequestId, ServerMessage, ServerStatus};

use super::{Action, Ctx};

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(super) fn status(ctx: &Ctx<'_>, request_id: RequestId) -> Action {
    let shared = ctx.shared;
    let health = shared.registry.health_snapshot();
    let status = ServerStatus {
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        protocol_version: PROTOCOL_VERSION,
        pid: std::process::id(),
        uptime_ms: u64::try_from(shared.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        socket_path: shared.config.socket_path.display().to_string(),
        clients: count(health.total_clients),
        attached_clients: count(health.attached_clients),
        sessions: count(shared.sessions.len()),
        clients_by_role: health
            .roles
            .iter()
            .map(|(role, n)| ((*role).to_owned(), count(*n)))
            .collect(),
        messages_delivered: health.messages_delivered,
        messages_dropped: health.messages_dropped,
        lag_events: health.lag_events,
        pacing_timeouts: shared.sessions.pacing.timeouts.load(Ordering::Relaxed),
        pacing_missed_wake_ups: shared
            .sessions
            .pacing
            .missed_wake_ups
            .load(Ordering::Relaxed),
    };
    Action::Reply(ServerMessage::Status { request_id, status })
}
