//! `ConnectOptions`: where and how a [`crate::Client`] connects.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fugue_protocol::{Role, resolve_socket_path};
use uuid::Uuid;

use crate::remote::Remote;

/// How often a client that has sent nothing pings the server; well under the server's
/// default idle timeout of 60 s.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);

/// How often a client reaching its server through ssh pings it when it has sent nothing.
pub const REMOTE_KEEPALIVE: Duration = Duration::from_secs(3);

/// How long a client reaching its server through ssh waits without hearing from it (while
/// reading) before it takes the link for dead: a stalled link (a suspended laptop, a NAT
/// that forgot the connection) never reports an error by itself.
///
/// Above the server's longest ping interval (15 s): a server that is not reading this
/// client's frames (it waits for a program to take input, or for a claim) does not answer
/// its pings, but still pings it.
pub const REMOTE_SILENCE_LIMIT: Duration = Duration::from_secs(20);

/// The socket path fugue uses: `explicit` if given, else `$FUGUE_SOCKET`, else
/// `$XDG_RUNTIME_DIR/fugue/fugue.sock`, else `/tmp/fugue-$UID/fugue.sock`.
pub fn socket_path(explicit: Option<PathBuf>) -> PathBuf {
    let uid = rustix::process::getuid().as_raw();
    resolve_socket_path(explicit, |name| std::env::var_os(name), uid)
}

/// Where and how to connect. Build with [`ConnectOptions::new`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub(crate) socket_path: PathBuf,
    pub(crate) role: Role,
    pub(crate) identity: Option<Uuid>,
    pub(crate) client_name: String,
    pub(crate) auto_start: bool,
    pub(crate) server_program: Option<PathBuf>,
    pub(crate) keepalive: Duration,
    pub(crate) agent: Option<PathBuf>,
    pub(crate) remote: Option<Remote>,
    pub(crate) silence_limit: Option<Duration>,
}

impl ConnectOptions {
    /// Options for a control client on `socket_path` that does not start a server.
    pub fn new(socket_path: impl Into<PathBuf>) -> Self {
        ConnectOptions {
            socket_path: socket_path.into(),
            role: Role::Control,
            identity: None,
            client_name: format!("fugue {}", env!("CARGO_PKG_VERSION")),
            auto_start: false,
            server_program: None,
            keepalive: DEFAULT_KEEPALIVE,
            agent: None,
            remote: None,
            silence_limit: None,
        }
    }

    /// The role announced in `Hello`: interactive, read-only or control.
    pub fn with_role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// A stable identity: a later connection with the same identity replaces this one.
    pub fn with_identity(mut self, identity: Option<Uuid>) -> Self {
        self.identity = identity;
        self
    }

    /// The name shown in the server's logs and status (default `fugue <version>`).
    pub fn with_client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = name.into();
        self
    }

    /// Start `fugue-server` when nothing listens on the socket.
    pub fn with_auto_start(mut self, auto_start: bool) -> Self {
        self.auto_start = auto_start;
        self
    }

    /// The server binary to auto-start, instead of `fugue-server` beside the running
    /// executable or on `PATH`.
    pub fn with_server_program(mut self, program: Option<PathBuf>) -> Self {
        self.server_program = program;
        self
    }

    /// How long the client may stay silent before it pings the server.
    pub fn with_keepalive(mut self, keepalive: Duration) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// The ssh agent (an absolute path, usually `$SSH_AUTH_SOCK`) that sessions this client
    /// creates or attaches to interactively should use: their `SSH_AUTH_SOCK` follows it.
    /// Told to servers of protocol 6 and later after the handshake.
    pub fn with_agent(mut self, agent: Option<PathBuf>) -> Self {
        self.agent = agent.filter(|path| path.is_absolute());
        self
    }

    /// Reach the server of another machine through ssh (`fugue proxy` there connects to
    /// that machine's own socket, so the socket path is not used), or (`None`) this one's.
    /// Through ssh, the keepalive is at most [`REMOTE_KEEPALIVE`] and the silence limit
    /// [`REMOTE_SILENCE_LIMIT`] (see [`ConnectOptions::with_silence_limit`]); on this
    /// machine there is no silence limit.
    pub fn with_remote(mut self, remote: Option<Remote>) -> Self {
        if remote.is_some() {
            self.keepalive = self.keepalive.min(REMOTE_KEEPALIVE);
        }
        self.silence_limit = remote.as_ref().map(|_| REMOTE_SILENCE_LIMIT);
        self.remote = remote;
        self
    }

    /// Ends the connection ([`crate::Event::Closed`] with [`crate::ClientError::Silent`])
    /// when nothing came from the server for this long while the client was reading;
    /// `None` waits forever. Keep it well above the keepalive.
    pub fn with_silence_limit(mut self, limit: Option<Duration>) -> Self {
        self.silence_limit = limit;
        self
    }

    /// The host reached through ssh, if any.
    pub fn remote(&self) -> Option<&Remote> {
        self.remote.as_ref()
    }

    /// The socket path these options connect to.
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// The role these options announce.
    pub fn role(&self) -> Role {
        self.role
    }
}
