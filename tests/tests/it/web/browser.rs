//! The viewer in a real browser: Debian's headless Chromium, driven over WebDriver, opens
//! the link `fugue web` prints, shows the session, types into it, rides out a dropped
//! connection without losing or repeating a line, and cannot type through a read-only link.

use fugue_protocol::{Role, WebGrant};
use fugue_tests::TestServer;
use fugue_tests::chromium::Chromium;
use fugue_tests::poll::poll;
use fugue_tests::relay::Relay;
use fugue_tests::web;

/// A session whose program prints each line it is given, once (no terminal echo).
const CAT: [&str; 3] = ["sh", "-c", "stty -echo; echo READY; exec cat"];

fn count(screen: &str, needle: &str) -> usize {
    screen.lines().filter(|line| line.contains(needle)).count()
}

#[tokio::test]
async fn the_page_shows_the_session_types_and_resumes_after_a_drop_without_repeating_a_line() {
    // The browser reaches the viewer through a relay the test can cut, as a network that
    // goes away; the relay's address is allowed as a reverse proxy's would be.
    let relay = Relay::start().await;
    let proxy = format!("127.0.0.1:{}", relay.port);
    let server = TestServer::start_with(|config| config.web.allowed_hosts = vec![proxy]).await;
    let mut control = server.client(Role::Control).await;
    control.create(Some("web"), &CAT).await;
    let link = web::link(&mut control, web::grant()).await;
    relay.forward_to(link.port);
    let browser = Chromium::launch().await;
    let url = format!("http://127.0.0.1:{}/#token={}", relay.port, link.token);
    browser.client.goto(&url).await.expect("open the link");
    browser.wait_for_text("READY").await;
    assert_eq!(browser.eval("window.fugue.role").await, "operator");
    assert_eq!(
        browser.eval("location.hash").await,
        "",
        "the token leaves the address bar"
    );

    browser.type_line("typed-in-chromium").await;
    browser.wait_for_text("typed-in-chromium").await;
    assert!(
        control
            .screen_text("web")
            .await
            .contains("typed-in-chromium")
    );
    control.type_in("web", "before-the-cut\r").await;
    browser.wait_for_text("before-the-cut").await;

    relay.cut();
    browser
        .wait_for("window.fugue.state", |state| state == "reconnecting")
        .await;
    control.type_in("web", "while-away\r").await;
    let held = poll(async || {
        let text = control.screen_text("web").await;
        if text.contains("while-away") {
            Ok(())
        } else {
            Err(text)
        }
    })
    .await;
    assert!(
        held.is_ok(),
        "the program printed while the browser was away: {held:?}"
    );
    relay.restore();
    let screen = browser.wait_for_text("while-away").await;
    for line in ["READY", "typed-in-chromium", "before-the-cut", "while-away"] {
        assert_eq!(
            count(&screen, line),
            1,
            "{line} once on the screen:\n{screen}"
        );
    }
    browser.type_line("after-the-resume").await;
    browser.wait_for_text("after-the-resume").await;
    browser.close().await;
}

#[tokio::test]
async fn a_read_only_link_watches_but_cannot_type() {
    let server = TestServer::start().await;
    let mut control = server.client(Role::Control).await;
    control.create(Some("shown"), &CAT).await;
    let link = web::link(
        &mut control,
        WebGrant {
            read_only: true,
            ..web::grant()
        },
    )
    .await;
    let browser = Chromium::launch().await;
    browser.client.goto(&link.url).await.expect("open the link");
    browser.wait_for_text("READY").await;
    assert_eq!(browser.eval("window.fugue.role").await, "viewer");
    browser.type_line("typed-by-a-viewer").await;
    // Whatever the viewer typed would reach the program before this line.
    control.type_in("shown", "typed-by-the-operator\r").await;
    let screen = browser.wait_for_text("typed-by-the-operator").await;
    assert!(!screen.contains("typed-by-a-viewer"), "{screen}");
    assert!(
        !control
            .screen_text("shown")
            .await
            .contains("typed-by-a-viewer")
    );
    browser.close().await;
}
