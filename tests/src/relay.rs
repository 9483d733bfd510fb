//! A TCP relay a test can cut: it forwards a local port to a target port (set once the
//! target listens), and [`Relay::cut`]
//! drops every connection through it and refuses new ones until [`Relay::restore`], as a
//! network that goes away and comes back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A relay on 127.0.0.1.
pub struct Relay {
    /// The port it listens on.
    pub port: u16,
    up: Arc<AtomicBool>,
    target: Arc<AtomicU16>,
    generation: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Listens; connections are relayed once [`Relay::forward_to`] names the target.
    pub async fn start() -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let port = listener.local_addr().expect("address").port();
        let up = Arc::new(AtomicBool::new(true));
        let target = Arc::new(AtomicU16::new(0));
        let (generation, _) = watch::channel(0u64);
        let (accepting, cuts, to) = (up.clone(), generation.clone(), target.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !accepting.load(Ordering::Acquire) {
                    continue; // dropped at once: the network is down
                }
                let mut cut = cuts.subscribe();
                let target = to.load(Ordering::Acquire);
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let mut client = client;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Relay {
            port,
            up,
            target,
            generation,
            task,
        }
    }

    /// Relays to `127.0.0.1:port` from now on.
    pub fn forward_to(&self, port: u16) {
        self.target.store(port, Ordering::Release);
    }

    /// Drops every connection through the relay and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::Release);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::Release);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}
