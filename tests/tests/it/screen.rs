//! Screen state: attaching restores the screen exactly, resumes continue the stream, and
//! capture reads the screen without attaching (the screen-state issue).

use fugue_protocol::{CaptureFormat, ClientMessage, Role, ServerMessage, TermSize};
use fugue_tests::screen::Terminal;
use fugue_tests::{TestClient, TestServer, input};

/// Watches a session from its start, keeping a terminal fed with every output byte.
struct Watcher {
    client: TestClient,
    term: Terminal,
    seq: u64,
}

impl Watcher {
    async fn attach(server: &TestServer, session: &str) -> Watcher {
        let mut client = server.client(Role::ReadOnly).await;
        let mut term = Terminal::new(TermSize::DEFAULT);
        let reply = client.attach(session).await;
        let ServerMessage::Attached { seq, .. } = &reply else {
            panic!("{reply:?}")
        };
        let seq = *seq;
        term.apply(&reply);
        Watcher { client, term, seq }
    }

    /// Reads output until the screen contains `needle`.
    async fn until(&mut self, needle: &str) {
        let deadline = tokio::time::Instant::now() + fugue_tests::EVENT_TIMEOUT;
        while !self.term.contents().contains(needle) {
            let screen = self.term.contents();
            assert!(
                tokio::time::Instant::now() < deadline,
                "{needle:?} never appeared:\n{screen}"
            );
            let msg = self.client.next().await.expect("open");
            if let ServerMessage::Output { seq, .. } = &msg {
                self.seq = *seq;
            }
            self.term.apply(&msg);
        }
    }

    /// Reads output up to stream position `seq`.
    async fn up_to(&mut self, seq: u64) {
        while self.seq < seq {
            let msg = self.client.next().await.expect("open");
            if let ServerMessage::Output { seq, .. } = &msg {
                self.seq = *seq;
            }
            self.term.apply(&msg);
        }
    }
}

/// Attaches a fresh client and checks its restored screen equals the watcher's screen at
/// the same stream position.
async fn assert_restore_matches(server: &TestServer, session: &str, watcher: &mut Watcher) {
    let mut late = server.client(Role::ReadOnly).await;
    let reply = late.attach(session).await;
    let ServerMessage::Attached {
        seq,
        snapshot: Some(_),
        ..
    } = &reply
    else {
        panic!("{reply:?}")
    };
    let mut restored = Terminal::new(TermSize::DEFAULT);
    restored.apply(&reply);
    watcher.up_to(*seq).await;
    assert_eq!(
        restored.digest(),
        watcher.term.digest(),
        "restored screen differs"
    );
}

async fn start_watched(server: &TestServer, name: &str, command: &[&str]) -> (TestClient, Watcher) {
    let mut driver = server.client(Role::Interactive).await;
    driver.create(Some(name), command).await;
    let watcher = Watcher::attach(server, name).await;
    driver.attach(name).await;
    (driver, watcher)
}

#[tokio::test]
async fn colourful_shell_screen_is_restored_cell_by_cell() {
    let server = TestServer::start().await;
    let (mut driver, mut watcher) = start_watched(&server, "colour", &["sh"]).await;
    let script = "for i in $(seq 1 60); do printf '\\033[1;3%dmline %d \\033[4mu\\033[0m\\n' $((i % 8)) $i; done; \
                  printf '\\033]2;my title\\007'; ls --color=always /; echo DONE\r";
    driver.send(input(script)).await;
    watcher.until("DONE\n$ ").await;
    assert_restore_matches(&server, "colour", &mut watcher).await;
}

#[tokio::test]
async fn vim_screen_and_modes_are_restored_after_reattach() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    let text: String = (1..=100).map(|n| format!("note number {n}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap().to_owned();
    let (mut driver, mut watcher) = start_watched(
        &server,
        "vim",
        &["vim", "-u", "NONE", "-N", "-i", "NONE", "-n", &file],
    )
    .await;
    watcher.until("note number 1").await;
    driver.send(input(":set number\r50G")).await;
    watcher.until(" 50 note number 50").await;
    assert_restore_matches(&server, "vim", &mut watcher).await;
    // Detach and re-attach the driver: vim keeps working with the restored screen.
    let request_id = driver.request_id();
    driver.send(ClientMessage::Detach { request_id }).await;
    let detached = ServerMessage::Detached {
        reason: fugue_protocol::DetachReason::Requested,
    };
    while driver.next().await.expect("open") != detached {}
    driver.attach("vim").await;
    driver.send(input("ggOfirst line\x1b")).await;
    watcher.until("first line").await;
    assert_restore_matches(&server, "vim", &mut watcher).await;
}

#[tokio::test]
async fn top_and_less_screens_are_restored() {
    let server = TestServer::start().await;
    let (_top_driver, mut top) = start_watched(&server, "top", &["top", "-d", "0.2"]).await;
    top.until("PID").await;
    assert_restore_matches(&server, "top", &mut top).await;
    let (_less_driver, mut less) = start_watched(&server, "less", &["less", "/etc/services"]).await;
    less.until("tcpmux").await;
    assert_restore_matches(&server, "less", &mut less).await;
}

#[tokio::test]
async fn resume_inside_the_ring_replays_exactly_the_missing_bytes() {
    let server = TestServer::start().await;
    let (mut driver, mut watcher) = start_watched(&server, "resume", &["sh"]).await;
    driver.send(input("echo first-$((1+1))\r")).await;
    watcher.until("first-2").await;
    let resume_from = watcher.seq;
    driver.send(input("echo second-$((2+2))\r")).await;
    watcher.until("second-4").await;
    let mut resumer = server.client(Role::ReadOnly).await;
    let reply = resumer
        .request(|request_id| ClientMessage::Attach {
            request_id,
            session: "resume".into(),
            size: TermSize::DEFAULT,
            resume_from: Some(resume_from),
        })
        .await;
    let ServerMessage::Attached {
        seq,
        snapshot: None,
        ..
    } = reply
    else {
        panic!("{reply:?}")
    };
    let mut replayed = Vec::new();
    let mut at = resume_from;
    while at < seq {
        if let Some(ServerMessage::Output { seq, data, .. }) = resumer.next().await {
            at = seq;
            replayed.extend_from_slice(&data);
        }
    }
    let text = String::from_utf8_lossy(&replayed);
    assert!(text.contains("second-4"), "{text:?}");
    assert!(
        !text.contains("first-2"),
        "no duplicate of what the client had: {text:?}"
    );
}

#[tokio::test]
async fn resume_outside_the_ring_falls_back_to_a_snapshot() {
    let server = TestServer::start_with(|config| config.replay_ring_bytes = 256).await;
    let (mut driver, mut watcher) = start_watched(&server, "small", &["sh"]).await;
    driver.send(input("seq 1 500; echo END-$((3*3))\r")).await;
    watcher.until("END-9").await;
    let mut resumer = server.client(Role::ReadOnly).await;
    let reply = resumer
        .request(|request_id| ClientMessage::Attach {
            request_id,
            session: "small".into(),
            size: TermSize::DEFAULT,
            resume_from: Some(1),
        })
        .await;
    let ServerMessage::Attached {
        snapshot: Some(snapshot),
        ..
    } = reply
    else {
        panic!("{reply:?}")
    };
    let mut term = Terminal::new(TermSize::DEFAULT);
    term.write(&snapshot);
    assert!(term.contents().contains("END-9"));
}

#[tokio::test]
async fn capture_returns_text_ansi_and_scrollback() {
    let server = TestServer::start().await;
    let (mut driver, mut watcher) = start_watched(&server, "cap", &["sh"]).await;
    driver
        .send(input("seq 1 100; printf '\\033[31mred%d\\033[0m\\n' 7\r"))
        .await;
    watcher.until("\nred7\n").await;
    let capture = |format, scrollback_lines| {
        move |request_id| ClientMessage::Capture {
            request_id,
            session: "cap".into(),
            format,
            scrollback_lines,
        }
    };
    let ServerMessage::Captured { text, size, .. } =
        driver.request(capture(CaptureFormat::Plain, 0)).await
    else {
        panic!()
    };
    assert_eq!(size, TermSize::DEFAULT);
    assert!(text.contains("\n100\nred7\n"), "{text:?}");
    assert!(!text.contains("\x1b"), "plain text has no escapes");
    assert!(
        !text.lines().any(|line| line == "50"),
        "line 50 scrolled off the screen"
    );
    let ServerMessage::Captured { text, .. } =
        driver.request(capture(CaptureFormat::Plain, 1000)).await
    else {
        panic!()
    };
    assert!(
        text.lines().any(|line| line == "50"),
        "scrollback includes line 50: {text:?}"
    );
    // Line 1 may share its row with the prompt, when the shell prints the prompt after the
    // terminal has echoed the typed-ahead command.
    assert!(text.lines().any(|line| line == "2"), "{text:?}");
    let ServerMessage::Captured { text, .. } =
        driver.request(capture(CaptureFormat::Ansi, 0)).await
    else {
        panic!()
    };
    assert!(text.contains("\x1b[31mred7"), "{text:?}");
}
