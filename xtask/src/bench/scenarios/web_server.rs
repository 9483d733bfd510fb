//! The server of one web measurement (`web.rs`): the bench's fugue daemon with its
//! session and the viewer `fugue web --json` started for it, or a terminado server; and
//! a WebSocket client connected to it, attached and ready for input.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::Value;

use crate::bench::sandbox::Sandbox;
use crate::bench::terminado::{Terminado, TerminadoServer};
use crate::bench::tools::{NAME, Session, Tool};
use crate::bench::web_results::WebTool;
use crate::bench::websocket::{Dialect, WebClient};

/// How long connecting and attaching may take, and finding the server's process.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The server of one measurement, stopped on drop.
#[derive(Debug)]
pub enum Server<'a> {
    /// The bench's fugue daemon with its session, and the viewer's address and token.
    Fugue {
        /// The daemon and its session.
        session: Session<'a>,
        /// The viewer's `host:port`.
        address: String,
        /// The token `fugue web` minted.
        token: String,
    },
    /// A terminado server.
    Terminado(TerminadoServer),
}

impl<'a> Server<'a> {
    /// Starts a server of `tool` whose session runs `/bin/sh -c SCRIPT`, in `dir` (from
    /// [`Sandbox::new_dir`]); `terminado` is needed for terminado.
    ///
    /// # Errors
    ///
    /// When the server, the session or `fugue web` fails.
    pub fn start(
        tool: WebTool,
        sandbox: &'a Sandbox,
        terminado: Option<&Terminado>,
        dir: PathBuf,
        script: &str,
    ) -> anyhow::Result<Server<'a>> {
        match tool {
            WebTool::Fugue => {
                let session = Session::start(sandbox, Tool::Fugue, dir, script)?;
                let output = session
                    .fugue()
                    .args(["web", "--json", "--session", NAME])
                    .output()
                    .context("running fugue web --json")?;
                ensure!(
                    output.status.success(),
                    "fugue web --json failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                );
                let (address, token) = parse_link(&output.stdout)?;
                Ok(Server::Fugue {
                    session,
                    address,
                    token,
                })
            }
            WebTool::Terminado => {
                let terminado = terminado.context("terminado is not installed")?;
                let program = ["/bin/sh", "-c", script];
                let server = terminado.start(sandbox, &dir, &program)?;
                Ok(Server::Terminado(server))
            }
        }
    }

    /// The server's process (fugue-server, or terminado's Python).
    ///
    /// # Errors
    ///
    /// When fugue's session has not said which it is.
    pub fn pid(&self) -> anyhow::Result<u32> {
        match self {
            Server::Fugue { session, .. } => session.server_pid(READY_TIMEOUT),
            Server::Terminado(server) => Ok(server.pid()),
        }
    }

    /// A client connected and attached to the session (fugue), or to a new terminal
    /// (terminado). Connecting is retried until [`READY_TIMEOUT`]: a listener may be a
    /// moment behind the command that started it.
    ///
    /// # Errors
    ///
    /// When it cannot connect in time, or the server refuses the client.
    pub async fn connect(&self) -> anyhow::Result<WebClient> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let (dialect, address) = match self {
            Server::Fugue { address, .. } => (Dialect::Fugue, address.clone()),
            Server::Terminado(server) => {
                (Dialect::Terminado, format!("127.0.0.1:{}", server.port()))
            }
        };
        let mut client = loop {
            match WebClient::connect(dialect, &address).await {
                Ok(client) => break client,
                Err(err) if Instant::now() >= deadline => return Err(err),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        match self {
            Server::Fugue { token, .. } => client.fugue_attach(token, NAME, deadline).await?,
            Server::Terminado(_) => client.terminado_setup(deadline).await?,
        }
        Ok(client)
    }

    /// Stops the server (and with it the session).
    pub fn stop(&mut self) {
        match self {
            Server::Fugue { session, .. } => session.stop(),
            Server::Terminado(server) => server.stop(),
        }
    }
}

/// The viewer's `host:port` and the token, from what `fugue web --json` printed.
fn parse_link(stdout: &[u8]) -> anyhow::Result<(String, String)> {
    let link: Value = serde_json::from_slice(stdout).with_context(|| {
        format!(
            "fugue web --json printed no JSON: {}",
            String::from_utf8_lossy(stdout)
        )
    })?;
    let field = |name: &str| {
        link.get(name)
            .and_then(Value::as_str)
            .with_context(|| format!("no `{name}` in what fugue web --json printed: {link}"))
    };
    let (url, token) = (field("url")?, field("token")?);
    let address = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split(['/', '#']).next())
        .filter(|address| !address.is_empty())
        .with_context(|| format!("fugue web --json printed an unexpected url {url}"))?;
    Ok((address.to_owned(), token.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_gives_the_viewers_address_and_token() {
        let printed = br#"{"url":"http://127.0.0.1:40123/#token=abc","token":"abc","expires":1}"#;
        let (address, token) = parse_link(printed).unwrap();
        assert_eq!(
            (address.as_str(), token.as_str()),
            ("127.0.0.1:40123", "abc")
        );
        assert!(parse_link(br#"{"url":"https://127.0.0.1:1/","token":"t"}"#).is_err());
        assert!(parse_link(br#"{"token":"t"}"#).is_err());
        assert!(parse_link(b"not json").is_err());
    }
}
