//! The viewer over TLS: with a certificate it may listen beyond loopback, its link is
//! `https://`, and a WebSocket client that trusts the certificate authenticates and
//! attaches through it.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use fugue_protocol::{ClientMessage, Role, ServerMessage, WebGrant};
use fugue_tests::web;
use fugue_tests::{TestServer, contains};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// A certificate for `localhost` and 127.0.0.1, issued by a throwaway authority: the
/// paths of the chain, the key, and the authority's certificate. Made by openssl.
fn certificate(dir: &Path) -> (String, String, String) {
    let path = |name: &str| dir.join(name).to_str().expect("UTF-8").to_owned();
    let extensions = path("leaf.ext");
    std::fs::write(
        &extensions,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("write the extensions");
    let steps: [&[&str]; 3] = [
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ],
        &[
            "x509",
            "-req",
            "-days",
            "1",
            "-CAcreateserial",
            "-extfile",
            &extensions,
        ],
    ];
    let files: [&[String]; 3] = [
        &[
            "-subj".into(),
            "/CN=fugue test CA".into(),
            "-keyout".into(),
            path("ca.key"),
            "-out".into(),
            path("ca.pem"),
        ],
        &[
            "-keyout".into(),
            path("key.pem"),
            "-out".into(),
            path("leaf.csr"),
        ],
        &[
            "-in".into(),
            path("leaf.csr"),
            "-CA".into(),
            path("ca.pem"),
            "-CAkey".into(),
            path("ca.key"),
            "-out".into(),
            path("cert.pem"),
        ],
    ];
    for (step, files) in steps.iter().zip(files) {
        let made = Command::new("openssl")
            .args(*step)
            .args(files)
            .output()
            .expect("openssl (`cargo xtask test` installs it)");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
    }
    (path("cert.pem"), path("key.pem"), path("ca.pem"))
}

#[tokio::test]
async fn with_a_certificate_the_viewer_serves_https_and_may_listen_beyond_loopback() {
    let server = TestServer::start().await;
    let (cert, key, ca) = certificate(server.dir.path());
    let mut control = server.client(Role::Control).await;
    control
        .create(Some("secure"), &["sh", "-c", "stty -echo; exec cat"])
        .await;
    let grant = WebGrant {
        bind: Some("0.0.0.0:0".into()),
        tls: Some((cert, key)),
        ..web::grant()
    };
    let reply = control
        .request(|request_id| ClientMessage::ServeWeb { request_id, grant })
        .await;
    let ServerMessage::WebLink { url, token, .. } = reply else {
        panic!("{reply:?}")
    };
    assert!(url.starts_with("https://"), "{url}");
    let authority = url
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let port: u16 = authority.rsplit(':').next().unwrap().parse().unwrap();

    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&ca).unwrap())
        .unwrap();
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    // The link names this machine; the client addresses the listener by that name.
    let mut request = format!("wss://{authority}/ws")
        .into_client_request()
        .unwrap();
    let origin = HeaderValue::from_str(&format!("https://{authority}")).unwrap();
    request.headers_mut().insert("origin", origin);
    let (mut ws, _) = tokio_tungstenite::client_async(request, tls)
        .await
        .expect("upgrade over TLS");
    let auth = json!({"type": "auth", "payload": {"token": token}}).to_string();
    ws.send(Message::text(auth)).await.unwrap();
    let connected = ws.next().await.unwrap().unwrap();
    assert!(
        connected.to_text().unwrap().contains("\"connected\""),
        "{connected:?}"
    );
    let attach =
        json!({"type": "attach", "payload": {"session": "secure", "cols": 80, "rows": 24}});
    ws.send(Message::text(attach.to_string())).await.unwrap();
    ws.send(Message::binary(b"over-tls\r".to_vec()))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !contains(&seen, b"over-tls") {
        if let Message::Binary(frame) = ws.next().await.unwrap().unwrap() {
            seen.extend_from_slice(&frame[8..]);
        }
    }
}
