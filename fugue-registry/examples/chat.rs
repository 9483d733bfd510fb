//! A tiny chat hub built on fugue-registry, to show the registry is not tied to terminals:
//! rooms are strings, messages are shared lines of text, and each member has a task that
//! prints what arrives in its queue.
//!
//! Run with `cargo run -p fugue-registry --example chat`.

// The example's output is the point of it.
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use fugue_registry::{ClientInfo, Registration, Registry, RegistryError};
use tokio::sync::mpsc;

/// A chat member. The nickname is its identity: joining again from a second device drops
/// the first connection.
#[derive(Clone)]
struct Member {
    nick: &'static str,
}

impl ClientInfo for Member {
    type Identity = &'static str;

    fn identity(&self) -> Option<&'static str> {
        Some(self.nick)
    }

    fn role(&self) -> &'static str {
        "member"
    }
}

type Line = Arc<str>;
type Hub = Registry<&'static str, Line, Member>;
type Membership = Registration<&'static str, Line, Member>;

/// Connects a member to `room` and spawns the task that prints its incoming lines. The
/// returned guard unregisters the member when dropped.
fn join(
    hub: &Arc<Hub>,
    nick: &'static str,
    device: &'static str,
    room: &'static str,
) -> Result<(Membership, tokio::task::JoinHandle<()>), RegistryError> {
    let (line_tx, mut line_rx) = mpsc::channel::<Line>(32);
    let registration = Registration::new(hub, hub.next_client_id(), line_tx, Member { nick })?;
    hub.attach_to_session(registration.id(), room)?;
    let inbox = tokio::spawn(async move {
        while let Some(line) = line_rx.recv().await {
            println!("  [{nick}'s {device}] {line}");
        }
        println!("  [{nick}'s {device}] (connection closed)");
    });
    Ok((registration, inbox))
}

/// Sends a line from `from` to everyone else in its room.
fn say(hub: &Hub, from: &Membership, text: &str) {
    let Some(room) = hub.get_attached_session(from.id()) else {
        return;
    };
    let nick = hub
        .get_client(from.id())
        .map_or("?", |client| client.info.nick);
    let report =
        hub.broadcast_to_session_except(&room, from.id(), Arc::from(format!("<{nick}> {text}")));
    println!("{nick} -> {room}: delivered to {}", report.delivered);
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), RegistryError> {
    let hub = Arc::new(Hub::new());
    let (ana, ana_inbox) = join(&hub, "ana", "laptop", "#rust")?;
    let (bo, bo_inbox) = join(&hub, "bo", "laptop", "#rust")?;
    let (cy, cy_inbox) = join(&hub, "cy", "laptop", "#tokio")?;

    say(&hub, &ana, "hello, rustaceans");
    // One-thread runtime: yielding lets the inbox tasks print before the next line.
    tokio::task::yield_now().await;
    say(&hub, &cy, "anyone here?");
    tokio::task::yield_now().await;

    // bo joins again from a phone: the same identity replaces the laptop's connection.
    let (bo_phone, bo_phone_inbox) = join(&hub, "bo", "phone", "#rust")?;
    println!(
        "bo's phone replaced client {:?}",
        bo_phone.replaced().map(|id| id.get())
    );
    say(&hub, &bo_phone, "on my phone now");
    tokio::task::yield_now().await;

    let health = hub.health_snapshot();
    println!(
        "{} members in {} rooms, {} lines delivered",
        health.total_clients, health.sessions, health.messages_delivered
    );

    // Everyone leaves; dropping each guard unregisters it and closes its inbox.
    drop((ana, bo, cy, bo_phone));
    for inbox in [ana_inbox, bo_inbox, cy_inbox, bo_phone_inbox] {
        let _ = inbox.await;
    }
    assert_eq!(hub.client_count(), 0);
    Ok(())
}
