//! Drives a session as an agent would: starts a shell in a session of its own, runs
//! commands and reads their output and exit status, answers an interactive prompt by
//! waiting for it after the exact position of its own input, and watches the session's
//! events meanwhile. A user can attach (`fugue attach agent-demo`) and watch it work.
//!
//! ```sh
//! cargo run -p fugue-client --example agent
//! ```

#![allow(clippy::print_stdout, reason = "an example prints what it does")]

use std::error::Error;
use std::time::Duration;

use bytes::Bytes;
use fugue_client::{Client, ConnectOptions, Event, EventKind, SessionSpec, TermSize, socket_path};
use regex::Regex;

const SESSION: &str = "agent-demo";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let options = ConnectOptions::new(socket_path(None)).with_auto_start(true);
    let (client, mut events) = Client::connect(&options).await?;
    // Every session's events, those created later too: this one's creation included.
    client.subscribe(None).await?;
    let spec = SessionSpec {
        name: Some(SESSION.to_owned()),
        command: vec!["bash".to_owned()],
        cwd: None,
        env: Vec::new(),
        size: TermSize::DEFAULT,
        term: None,
    };
    client.create_session(spec).await?;

    // Commands: exactly their output, and their status.
    for command in ["uname -sr", "ls /no/such/dir", "seq 3 | paste -sd+ | bc"] {
        let outcome = client.run(SESSION, command).await?;
        println!("$ {command}\n{}[status {}]", outcome.output, outcome.status);
    }

    // An interactive program: type, then wait for the answer after that position, so an
    // earlier prompt on the screen can never be mistaken for it.
    let seq = client
        .send_to_session(
            SESSION,
            Bytes::from_static(b"read -p 'name? ' n; echo \"hi $n\"\r"),
        )
        .await?;
    let prompt = Regex::new(r"^name\? $")?;
    let found = client.wait_after(SESSION, &prompt, seq).await?;
    println!("prompt {:?} at position {}", found.line, found.seq);
    let seq = client
        .send_to_session(SESSION, Bytes::from_static(b"agent\r"))
        .await?;
    let found = client
        .wait_after(SESSION, &Regex::new("^hi ")?, seq)
        .await?;
    println!("answer {:?} at position {}", found.line, found.seq);

    client.kill_session(SESSION).await?;
    // The events that arrived meanwhile, up to the exit.
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
        if let Event::Session(event) = event
            && event.name == SESSION
        {
            println!("event: {} at {:?}", event.kind.name(), event.seq);
            if matches!(event.kind, EventKind::Exited { .. }) {
                break;
            }
        }
    }
    Ok(())
}
