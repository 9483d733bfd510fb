//! TLS for a viewer bound beyond loopback: a rustls acceptor from PEM files, and the
//! listener that completes each handshake in its own task (bounded by a timeout, and
//! counted under the connection cap), so a client that stalls mid-handshake holds up
//! nobody else.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

use super::limit::{Held, permit};

/// A handshake not finished in this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for the server to take them.
const READY_QUEUE: usize = 64;

/// An acceptor for the certificate chain in `cert` and the private key in `key`.
///
/// # Errors
///
/// A sentence naming the file that could not be read or used.
pub(super) fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|err| format!("cannot read the certificate {}: {err}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|err| format!("cannot read the private key {}: {err}", key.display()))?;
    // ring, not aws-lc-rs, which needs cmake and a C toolchain at build time; rustls 0.23.48
    // marks ring's provider deprecated because it has no post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|err| format!("cannot use the certificate and key: {err}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A connection out of its TLS handshake, holding its place under the cap.
type Ready = (Held<TlsStream<TcpStream>>, SocketAddr);

/// A listener whose connections come out of their TLS handshake.
pub(super) struct TlsListener {
    ready: mpsc::Receiver<Ready>,
    addr: SocketAddr,
}

impl TlsListener {
    /// Accepts on `listener` while a permit is free (the handshake holds it too),
    /// handshaking with `acceptor` in a task per connection, until `stop`.
    pub(super) fn new(
        listener: TcpListener,
        addr: SocketAddr,
        acceptor: TlsAcceptor,
        (permits, idle): (Arc<Semaphore>, Duration),
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        tokio::spawn(async move {
            tokio::select! {
                () = stop => {}
                () = accept_loop(listener, acceptor, (permits, idle), tx) => {}
            }
        });
        TlsListener { ready, addr }
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    (permits, idle): (Arc<Semaphore>, Duration),
    tx: mpsc::Sender<Ready>,
) {
    while !tx.is_closed() {
        let permit = permit(&permits).await;
        let Ok((tcp, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, done) = (acceptor.clone(), tx.clone());
        tokio::spawn(async move {
            let shake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
            if let Ok(Ok(stream)) = shake.await {
                let _ = done.send((Held::new(stream, permit, idle), peer)).await;
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = Held<TlsStream<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(ready) => ready,
            // The accept task only ends with the server; wait for the shutdown then.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
