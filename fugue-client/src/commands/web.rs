//! `fugue web`: ask the server for a browser link (starting its viewer's listener if it is
//! not running), or revoke every link with `--revoke-all`.

use fugue_client::{Role, WebGrant};

use super::{Globals, connect, print};
use crate::cli::WebArgs;

/// Prints a link (its URL alone on standard output, notes on standard error), or JSON.
///
/// # Errors
///
/// When the server cannot be reached or refuses (an unknown session, an address it will
/// not bind).
pub async fn run(globals: &Globals, args: WebArgs) -> anyhow::Result<u8> {
    let (client, _events) = connect(globals, Role::Control, false).await?;
    if args.revoke_all {
        let (tokens, connections) = client.revoke_web_tokens().await?;
        let text = if args.json {
            format!(
                "{}\n",
                serde_json::json!({ "tokens": tokens, "connections": connections })
            )
        } else {
            format!("revoked {tokens} link(s); closed {connections} browser connection(s)\n")
        };
        print(&text)?;
        return Ok(0);
    }
    let grant = WebGrant {
        read_only: args.read_only,
        sessions: args.sessions.clone(),
        expires_secs: args.expires.as_secs(),
        bind: args.bind.clone(),
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| (absolute(&cert), absolute(&key))),
    };
    let link = client.serve_web(grant).await?;
    if args.json {
        print(&format!("{}\n", serde_json::to_string_pretty(&link)?))?;
        return Ok(0);
    }
    print(&format!("{}\n", link.url))?;
    let who = if args.read_only {
        "read-only"
    } else {
        "operator"
    };
    let what = if args.sessions.is_empty() {
        "every session".to_owned()
    } else {
        format!("session {}", args.sessions.join(", "))
    };
    let hours = args.expires.as_secs_f64() / 3600.0;
    eprintln!(
        "{who} link to {what}, valid for {hours:.1} h; keep it secret (`fugue web --revoke-all` ends it)"
    );
    if let Some(port) = port(&link.url) {
        eprintln!(
            "from another machine: ssh -L {port}:127.0.0.1:{port} THIS-HOST, then open the link there"
        );
    }
    Ok(0)
}

/// The server reads the files, perhaps from another directory.
fn absolute(path: &std::path::Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_owned())
        .display()
        .to_string()
}

/// The port of a loopback link (the one an ssh tunnel forwards).
fn port(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://127.0.0.1:")?;
    rest.split('/').next()
}
