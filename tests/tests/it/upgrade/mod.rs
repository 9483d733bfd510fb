//! `fugue upgrade`: the real `fugue-server` replaced in place by a copy of its binary while
//! programs print and clients read, and every way an upgrade can be refused or fail.
//!
//! - `carry`: sessions, programs, clients, waiters and screens carried across three
//!   upgrades; a connection made during the handoff.
//! - `refuse`: binaries that are missing, not a fugue-server, or cannot read the state; a
//!   new binary that dies before it takes over; a read-only client.
//! - `compat`: a client of the previous protocol version, with pinned frames.
//! - `stuck`: a client that stopped reading, and input waiting for room, carried whole.
//! - `web`: the browser viewer's socket and links, and a browser resuming after it.

mod carry;
mod compat;
mod refuse;
mod stuck;
mod web;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use fugue_protocol::{CaptureFormat, ClientMessage, ServerMessage, SessionInfo};
use fugue_tests::TestClient;
use fugue_tests::tmux::{Fugue, binaries};

/// A copy of the server binary under `name` in `dir`, as a package upgrade installs one.
fn server_copy(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::copy(&binaries().server, &path).expect("copy fugue-server");
    path
}

/// An executable shell script under `name` in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// `fugue upgrade --server-binary BINARY --json`.
fn upgrade(world: &Fugue, binary: &Path) -> Output {
    let binary = binary.to_str().expect("UTF-8 path");
    world.run(&["upgrade", "--server-binary", binary, "--json"])
}

/// The executable a process runs.
fn exe_of(pid: u32) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/exe")).expect("read /proc/PID/exe")
}

/// Each session's id, name, pid and command, oldest first.
async fn sessions(client: &mut TestClient) -> Vec<(uuid::Uuid, String, u32, Vec<String>)> {
    match client
        .request(|request_id| ClientMessage::ListSessions { request_id })
        .await
    {
        ServerMessage::Sessions { sessions, .. } => sessions
            .into_iter()
            .map(
                |SessionInfo {
                     id,
                     name,
                     pid,
                     command,
                     ..
                 }| (id, name, pid, command),
            )
            .collect(),
        other => panic!("expected Sessions, got {other:?}"),
    }
}

/// A session's screen and scrollback, with colours, and the cursor.
async fn capture(client: &mut TestClient, session: &str) -> (String, (u16, u16)) {
    let session = session.to_owned();
    match client
        .request(|request_id| ClientMessage::Capture {
            request_id,
            session,
            format: CaptureFormat::Ansi,
            scrollback_lines: 1000,
        })
        .await
    {
        ServerMessage::Captured { text, cursor, .. } => (text, cursor),
        other => panic!("expected Captured, got {other:?}"),
    }
}
