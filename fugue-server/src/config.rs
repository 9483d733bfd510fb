//! `Config`: the server's tunables, with the defaults the binary uses.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use fugue_protocol::{DEFAULT_MAX_FRAME_LEN, ServerSettings};

/// Everything [`crate::run`] can be told.
#[derive(Debug, Clone)]
pub struct Config {
    /// The socket path, for status reports, SIGUSR1 re-creation and removal on shutdown.
    pub socket_path: PathBuf,
    /// The file the binary logs to, if any. The server does not write it; it hands the
    /// path on to the binary that replaces it in an upgrade, which logs there too.
    pub log_file: Option<PathBuf>,
    /// Connections beyond this many are answered `Error(ServerBusy)` and closed.
    pub max_clients: usize,
    /// Largest frame body accepted from or sent to a client.
    pub max_frame_len: usize,
    /// A connection must send `Hello` within this time.
    pub handshake_timeout: Duration,
    /// A client that sends no frame for this long is dropped.
    pub idle_timeout: Duration,
    /// How often the server pings each client.
    pub ping_interval: Duration,
    /// Messages a client's queue holds before the client is marked lagging. An output
    /// message carries at most 64 KiB and is shared by every client of the session, so
    /// with the default of 256 all lagging clients of a session together pin at most
    /// 16 MiB of output. Under a steady trickle messages are small (a PTY read is 4 KiB),
    /// and 256 of them let a reading client be descheduled for a while without lagging.
    pub client_queue_len: usize,
    /// Lines of scrollback each session's screen model keeps.
    pub scrollback_lines: usize,
    /// How long shutdown waits for connections to close.
    pub shutdown_timeout: Duration,
    /// How long a hung-up program may take to exit before it is killed.
    pub kill_grace: Duration,
    /// Bytes of recent output each session keeps for resuming clients.
    pub replay_ring_bytes: usize,
    /// How long a session waits for a client to make room in its queue before it marks the
    /// clients it waited for lagging and reads on (see the server's pacing).
    pub pacing_stall: Duration,
    /// A session that printed something and then nothing for this long is idle (the
    /// `idle` event of `fugue events`).
    pub idle_after: Duration,
    /// Start shells fugue knows (bash, zsh, fish, sh) with its shell integration, which
    /// marks prompts and commands' ends (OSC 133) for `fugue run`.
    pub shell_integration: bool,
    /// Give each session a stable `SSH_AUTH_SOCK` that follows the agent of the client
    /// that last created or attached to it interactively (`session/agent.rs`).
    pub agent_link: bool,
    /// The browser viewer.
    pub web: WebConfig,
}

/// The browser viewer's settings.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Where its listener binds when `fugue web` does not say (port 0: one the system
    /// picks). Anything but loopback needs `tls`.
    pub bind: SocketAddr,
    /// More `host:port` names requests may carry in `Host` (and pages in `Origin`), for a
    /// reverse proxy in front of the viewer.
    pub allowed_hosts: Vec<String>,
    /// Browsers served at once; more are refused.
    pub max_clients: usize,
    /// A certificate chain and private key (PEM files) to serve over TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            allowed_hosts: Vec::new(),
            max_clients: fugue_protocol::WebSettings::DEFAULT_MAX_CLIENTS,
            tls: None,
        }
    }
}

impl Config {
    /// The defaults, serving on `socket_path`.
    pub fn new(socket_path: PathBuf) -> Self {
        Config {
            socket_path,
            log_file: None,
            max_clients: ServerSettings::DEFAULT_MAX_CLIENTS,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(ServerSettings::DEFAULT_IDLE_TIMEOUT),
            ping_interval: Duration::from_secs(15),
            client_queue_len: 256,
            scrollback_lines: ServerSettings::DEFAULT_SCROLLBACK,
            shutdown_timeout: Duration::from_secs(3),
            kill_grace: Duration::from_secs(2),
            replay_ring_bytes: 4 << 20,
            pacing_stall: Duration::from_millis(250),
            idle_after: Duration::from_secs_f64(ServerSettings::DEFAULT_IDLE_AFTER),
            shell_integration: true,
            agent_link: true,
            web: WebConfig::default(),
        }
    }
}
