//! `SetAgent`: the client's ssh agent, which the sessions it creates or attaches to
//! interactively use from then on (`session/agent.rs`).

use std::path::PathBuf;

use fugue_protocol::{RequestId, ServerMessage};

use super::{Action, Ctx};
use crate::refusal::Refusal;
use crate::session::agent::valid_agent_path;

pub(super) fn set_agent(ctx: &mut Ctx<'_>, request_id: RequestId, path: &str) -> Action {
    if !valid_agent_path(path) {
        let refusal = Refusal::Invalid("the agent's path must be absolute, without NUL");
        return Action::refused(Some(request_id), &refusal);
    }
    *ctx.agent = Some(PathBuf::from(path));
    Action::Reply(ServerMessage::Done { request_id })
}
