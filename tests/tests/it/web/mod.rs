//! The browser viewer: its protocol with a WebSocket client library (`protocol.rs`), many
//! and slow browsers (`load.rs`), and real headless Chromium (`browser.rs`).

mod browser;
mod load;
mod protocol;
mod tls;
