//! `fugue send`: type into a session without attaching.

use std::io::Read;

use bytes::Bytes;
use fugue_client::{Client, MAX_INPUT_CHUNK, Role};

use super::{Globals, connect, print};
use crate::cli::SendArgs;

/// What a terminal sends for Enter.
const ENTER: &[u8] = b"\r";

/// Sends the text (or standard input), then Enter if asked.
///
/// # Errors
///
/// When there is nothing to send, standard input fails, or the server refuses.
pub async fn run(globals: &Globals, args: SendArgs) -> anyhow::Result<u8> {
    let from_stdin = args.text == ["-"];
    anyhow::ensure!(
        from_stdin || !args.text.is_empty() || args.enter,
        "nothing to send: give TEXT, - to read standard input, or --enter"
    );
    let (client, _events) = connect(globals, Role::Control, false).await?;
    let mut seq = if from_stdin {
        send_stdin(&client, &args.session).await?
    } else {
        // Text and Enter in one write: the program gets the line whole, and the position
        // is after both.
        let mut text = args.text.join(" ").into_bytes();
        if args.enter {
            text.extend_from_slice(ENTER);
        }
        Some(
            client
                .send_to_session(&args.session, Bytes::from(text))
                .await?,
        )
    };
    if from_stdin && args.enter {
        let enter = Bytes::from_static(ENTER);
        seq = Some(client.send_to_session(&args.session, enter).await?);
    }
    if args.json {
        // Empty standard input sends nothing: there is no position to report.
        print(&format!("{}\n", serde_json::json!({ "seq": seq })))?;
    }
    Ok(0)
}

/// Streams standard input to the session, one chunk at a time; returns the position after
/// the last.
async fn send_stdin(client: &Client, session: &str) -> anyhow::Result<Option<u64>> {
    let (chunk_tx, mut chunk_rx) = tokio::sync::mpsc::channel(4);
    // Standard input may be a pipe that stays open; a blocking thread keeps the runtime free.
    let reader = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; MAX_INPUT_CHUNK];
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if chunk_tx
                .blocking_send(Bytes::copy_from_slice(&buf[..n]))
                .is_err()
            {
                return Ok(());
            }
        }
    });
    let mut seq = None;
    while let Some(chunk) = chunk_rx.recv().await {
        seq = Some(client.send_to_session(session, chunk).await?);
    }
    reader.await??;
    Ok(seq)
}
