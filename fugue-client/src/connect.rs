//! Reaching the server's socket, starting `fugue-server` first when asked and needed.
//!
//! Auto-start runs `fugue-server --daemon --socket PATH` (from the directory of the running
//! executable, else from `PATH`), which returns once its socket accepts. The client then
//! connects with a short backoff; the whole attempt is bounded by [`START_DEADLINE`].

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio::process::{Child, ChildStderr, Command};
use tokio::time::{Instant, sleep, timeout_at};

use crate::error::ClientError;
use crate::link::Link;
use crate::options::ConnectOptions;

/// The longest an auto-start may take, from spawning the server to a connected socket.
pub const START_DEADLINE: Duration = Duration::from_secs(5);

/// The server program's file name.
const SERVER_PROGRAM: &str = "fugue-server";

/// Opens the link the options describe: the socket, or ssh to the remote host.
pub(crate) async fn open(options: &ConnectOptions) -> Result<Link, ClientError> {
    match &options.remote {
        Some(remote) => remote
            .spawn(options.auto_start)
            .map(|link| Link::Ssh(Box::new(link))),
        None => connect_raw(options).await.map(Link::Unix),
    }
}

/// Connects to the server's socket on this machine without shaking hands, starting the
/// server first if the options say so and nothing listens: for a relay such as `fugue
/// proxy`, which passes another client's frames through unread.
///
/// # Errors
///
/// As [`crate::Client::connect`] before the handshake.
pub async fn connect_raw(options: &ConnectOptions) -> Result<UnixStream, ClientError> {
    connect_socket(
        &options.socket_path,
        options.auto_start,
        options.server_program.as_deref(),
    )
    .await
}

/// Connects to `path`; when nothing listens there and `auto_start` is set, starts the
/// server first. `server_program` overrides where the server binary is looked for.
async fn connect_socket(
    path: &Path,
    auto_start: bool,
    server_program: Option<&Path>,
) -> Result<UnixStream, ClientError> {
    match UnixStream::connect(path).await {
        Ok(stream) => Ok(stream),
        Err(err) if is_not_listening(&err) => {
            if !auto_start {
                return Err(ClientError::NotRunning {
                    path: path.to_path_buf(),
                });
            }
            start_and_connect(path, server_program).await
        }
        Err(source) => Err(ClientError::Connect {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether `err` means "no server there": no socket file, or a stale one.
fn is_not_listening(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    )
}

/// Starts the server, waits for it to daemonize, and connects with a bounded backoff.
async fn start_and_connect(
    path: &Path,
    server_program: Option<&Path>,
) -> Result<UnixStream, ClientError> {
    let deadline = Instant::now() + START_DEADLINE;
    let program = server_program.map_or_else(find_server_program, Path::to_path_buf);
    let start_result = run_daemon(&program, path, deadline).await;
    // Even if our server failed (e.g. another client started one at the same moment and
    // won the socket), a server may be listening now: try before reporting the failure.
    let mut delay = Duration::from_millis(10);
    loop {
        match UnixStream::connect(path).await {
            Ok(stream) => return Ok(stream),
            Err(err) => {
                if let Err(reason) = &start_result {
                    return Err(ClientError::StartServer {
                        reason: reason.clone(),
                    });
                }
                if Instant::now() + delay > deadline {
                    return Err(ClientError::StartServer {
                        reason: format!("{} did not accept connections: {err}", path.display()),
                    });
                }
            }
        }
        sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
}

/// `fugue-server` beside the running executable if it exists, else the bare name (`PATH`).
fn find_server_program() -> PathBuf {
    let beside_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(SERVER_PROGRAM)));
    match beside_exe {
        Some(candidate) if candidate.is_file() => candidate,
        _ => PathBuf::from(SERVER_PROGRAM),
    }
}

/// Runs `program --daemon --socket path` and waits for it to return; the error is a
/// sentence for `ClientError::StartServer`.
async fn run_daemon(program: &Path, path: &Path, deadline: Instant) -> Result<(), String> {
    let mut child = Command::new(program)
        .arg("--daemon")
        .arg("--socket")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // A server started from inside a session must not pass that session's marker on
        // to every session it creates.
        .env_remove("FUGUE_SESSION")
        .kill_on_drop(false)
        .spawn()
        .map_err(|err| format!("{}: {err}", program.display()))?;
    let stderr = child.stderr.take();
    let status = match timeout_at(deadline, child.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(err)) => return Err(format!("waiting for {}: {err}", program.display())),
        Err(_) => return Err(give_up(&mut child, program)),
    };
    if status.success() {
        return Ok(());
    }
    let message = read_stderr(stderr, deadline).await;
    if message.is_empty() {
        Err(format!("{} failed ({status})", program.display()))
    } else {
        Err(message)
    }
}

/// Kills a server that did not daemonize in time and describes the failure.
fn give_up(child: &mut Child, program: &Path) -> String {
    let _ = child.start_kill();
    format!(
        "{} did not start within {} s",
        program.display(),
        START_DEADLINE.as_secs()
    )
}

/// Reads what the failed server printed, stopping at the deadline: a daemonized child may
/// still hold the pipe open, so end of file may never come.
async fn read_stderr(stderr: Option<ChildStderr>, deadline: Instant) -> String {
    let Some(mut stderr) = stderr else {
        return String::new();
    };
    let mut text = Vec::new();
    let mut chunk = [0u8; 4096];
    // Half a second is plenty for a process that has already exited.
    let deadline = deadline.min(Instant::now() + Duration::from_millis(500));
    while text.len() < 64 * 1024 {
        match timeout_at(deadline, stderr.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => text.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&text);
    let text = text.trim();
    // The caller adds "could not start fugue-server: "; do not stack a second prefix on it.
    let mut text = text;
    for prefix in ["fugue-server: ", "Error: ", "error: "] {
        text = text.strip_prefix(prefix).unwrap_or(text);
    }
    text.to_owned()
}
