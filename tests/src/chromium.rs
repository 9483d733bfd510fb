//! Debian's headless Chromium, driven over WebDriver (its `chromedriver`, on a port it
//! picks), for the browser viewer's end-to-end tests; [`Page`] reads the viewer's state
//! through the `window.fugue` object the page exposes.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::poll::poll;

/// A headless Chromium with a fresh profile, and its driver.
pub struct Chromium {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    _profile: TempDir,
}

impl Chromium {
    /// Starts chromedriver and a browser.
    pub async fn launch() -> Chromium {
        let mut driver = Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; `cargo xtask test` installs it)");
        let port = driver_port(&mut driver).await;
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1000,700",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({ "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args } });
        let Value::Object(caps) = caps else {
            unreachable!("an object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Chromium {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Ends the browser and its driver.
    pub async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill().await;
    }

    /// Evaluates `expr` in the page.
    pub async fn eval(&self, expr: &str) -> Value {
        self.client
            .execute(&format!("return {expr};"), Vec::new())
            .await
            .unwrap_or(Value::Null)
    }

    /// Polls `expr` until `check` holds for its value; fails the test after the timeout.
    pub async fn wait_for(&self, expr: &str, check: impl Fn(&Value) -> bool) -> Value {
        let seen = poll(async || {
            let value = self.eval(expr).await;
            if check(&value) { Ok(value) } else { Err(value) }
        })
        .await;
        match seen {
            Ok(value) => value,
            Err(last) => panic!(
                "{expr} never held; last {last}\nscreen:\n{}",
                self.screen().await
            ),
        }
    }

    /// The terminal's visible rows, as the page's `fugue.screenText()` gives them.
    pub async fn screen(&self) -> String {
        let text = self
            .eval("window.fugue ? window.fugue.screenText() : ''")
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the screen holds `needle`; returns the screen.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let value = self
            .wait_for("window.fugue ? window.fugue.screenText() : ''", |v| {
                v.as_str().is_some_and(|s| s.contains(needle))
            })
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Types `text` into the terminal, then presses Enter.
    pub async fn type_line(&self, text: &str) {
        let input = self
            .client
            .find(Locator::Css(".xterm-helper-textarea"))
            .await
            .expect("the terminal's input");
        input.send_keys(text).await.expect("typing");
        input.send_keys("\u{E007}").await.expect("Enter"); // WebDriver's Enter key
    }
}

async fn driver_port(driver: &mut Child) -> u16 {
    let stdout = driver.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let find = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                return rest.trim_end_matches('.').parse().ok();
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(20), find)
        .await
        .ok()
        .flatten()
        .expect("chromedriver says its port")
}
