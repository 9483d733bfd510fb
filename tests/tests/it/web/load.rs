//! Many browsers and slow ones: every browser of a busy session gets every byte or a
//! fresh screen, and a browser that stops reading holds up neither the session nor the
//! terminal clients beside it.

use fugue_protocol::{Role, ServerMessage};
use fugue_tests::web;
use fugue_tests::{TestServer, contains, input};

/// The lines `seq 1 N` prints, as a terminal gets them.
fn numbers(n: u32) -> Vec<u8> {
    (1..=n)
        .flat_map(|i| format!("{i}\r\n").into_bytes())
        .collect()
}

/// Whether `bytes` hold all of `expected` in one piece (found by its first 16 bytes).
fn holds(bytes: &[u8], expected: &[u8]) -> bool {
    let head = &expected[..16];
    bytes
        .windows(head.len())
        .position(|window| window == head)
        .is_some_and(|at| bytes[at..].starts_with(expected))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_browsers_each_get_every_byte_or_a_fresh_screen() {
    const LINES: u32 = 20_000;
    let server = TestServer::start_with(|config| config.web.max_clients = 200).await;
    let mut control = server.client(Role::Control).await;
    let script = format!("read go; seq 1 {LINES}; echo END-OF-RUN");
    control.create(Some("busy"), &["sh", "-c", &script]).await;
    let link = web::link(&mut control, web::grant()).await;
    let mut browsers = Vec::new();
    for _ in 0..100 {
        browsers.push(web::attached(link.port, &link.token, "busy").await);
    }
    control.type_in("busy", "go\r").await;
    let readers = browsers.into_iter().map(|mut ws| {
        tokio::spawn(
            async move { web::output_until(&mut ws, |b| contains(b, b"END-OF-RUN\r\n")).await },
        )
    });
    let expected = numbers(LINES);
    let mut resynced = 0;
    for reader in readers {
        let out = reader.await.expect("reader");
        if out.resyncs > 0 {
            resynced += 1;
            continue;
        }
        // No resync: the whole stream, in order, once.
        assert!(
            holds(&out.bytes, &expected),
            "a browser without a resync lost or repeated output"
        );
    }
    eprintln!("{resynced} of 100 browsers were resynchronised");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_that_stops_reading_does_not_hold_up_the_terminal_clients() {
    const LINES: u32 = 2_000_000;
    // A queue of 32 messages (of up to 64 KiB): the browser falls behind within 4 MB.
    let server = TestServer::start_with(|config| config.client_queue_len = 32).await;
    let mut control = server.client(Role::Control).await;
    // The program stays (a lagging client whose session ends gets no last screen).
    let script = format!("read go; seq 1 {LINES}; echo END-OF-RUN; exec cat");
    control.create(Some("flood"), &["sh", "-c", &script]).await;
    let link = web::link(&mut control, web::grant()).await;
    // The stalled browser attaches, then reads nothing and acknowledges nothing.
    let mut stalled = web::attached(link.port, &link.token, "flood").await;
    let mut terminal = server.client(Role::Interactive).await;
    let reply = terminal.attach("flood").await;
    assert!(matches!(reply, ServerMessage::Attached { .. }), "{reply:?}");
    terminal.send(input("go\r")).await;
    let got = terminal
        .output_until(|b| b.ends_with(b"END-OF-RUN\r\n"))
        .await;
    assert!(
        holds(&got.bytes, &numbers(LINES)),
        "the terminal client got every line"
    );
    // Once it reads again, the stalled browser catches up: with a fresh screen, having
    // fallen far behind, showing the end of the run.
    let out = web::output_until(&mut stalled, |b| contains(b, b"END-OF-RUN")).await;
    assert!(
        out.resyncs > 0,
        "a browser that fell 15 MB behind is resynchronised"
    );
}
