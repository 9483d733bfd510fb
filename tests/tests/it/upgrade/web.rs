//! The browser viewer across an upgrade: the new server serves the same port with the
//! same links, and a browser that was attached resumes from its last sequence number with
//! nothing missed and nothing repeated.

use fugue_protocol::Role;
use fugue_tests::process::ServerProcess;
use fugue_tests::tmux::{Fugue, assert_success, stdout};
use fugue_tests::web;
use fugue_tests::{TestClient, contains};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{server_copy, upgrade};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_resumes_after_an_upgrade_through_the_same_link() {
    let world = Fugue::new();
    let _server = ServerProcess::start(world.socket());
    let mut control = TestClient::connect(world.socket(), Role::Control).await;
    control
        .create(
            Some("kept"),
            &["sh", "-c", "stty -echo; echo READY; exec cat"],
        )
        .await;
    let minted = world.run(&["web", "--json"]);
    assert_success(&minted, "fugue web --json");
    let link: Value = serde_json::from_str(&stdout(&minted)).expect("fugue web --json");
    let token = link["token"].as_str().expect("token").to_owned();
    let url = link["url"].as_str().expect("url");
    let port: u16 = url
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    let mut ws = web::attached(port, &token, "kept").await;
    web::output_until(&mut ws, |b| contains(b, b"READY")).await;
    ws.send(Message::binary(b"before-the-upgrade\r".to_vec()))
        .await
        .unwrap();
    let before = web::output_until(&mut ws, |b| contains(b, b"before-the-upgrade\r\n")).await;

    let binary = server_copy(world.dir(), "fugue-server-new");
    let output = tokio::task::block_in_place(|| upgrade(&world, &binary));
    assert_success(&output, "fugue upgrade");
    // The browser was told the server goes away (and to come back).
    assert_eq!(web::closed(&mut ws, None).await, Some(1001));
    // Output while the browser is away.
    control.type_in("kept", "while-it-was-away\r").await;

    // Same port, same token; it resumes after the last output it saw.
    let (mut ws, _) = web::connect(port, &token, None).await;
    let resume = json!({"session": "kept", "cols": 80, "rows": 24, "resume_from": before.seq});
    web::send(&mut ws, "attach", resume).await;
    let attached = web::next_json(&mut ws).await;
    assert_eq!(
        attached["payload"]["fresh"], false,
        "a resume, not a fresh screen: {attached}"
    );
    let after = web::output_until(&mut ws, |b| contains(b, b"while-it-was-away\r\n")).await;
    assert_eq!(after.resyncs, 0);
    assert!(
        !contains(&after.bytes, b"before-the-upgrade"),
        "nothing repeated"
    );
    assert!(
        after.bytes.starts_with(b"while-it-was-away"),
        "nothing missed or added: {:?}",
        String::from_utf8_lossy(&after.bytes)
    );
}
