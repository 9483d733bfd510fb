//! terminado (Jupyter's terminal WebSocket server), the web scenario's peer: installed at
//! pinned versions into a virtual environment under the bench's output directory, made
//! on first use and reused after, and run as `terminado_server.py` (embedded here), one
//! server per measurement, so no terminal and no buffered output outlives its run.
//!
//! Installing needs `python3` with its `venv` module and PyPI (the user's own pip
//! configuration and proxy apply: the install runs in the user's environment). The
//! server itself runs in the sandbox's clean environment, like every tool.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal, kill_process};

use super::sandbox::Sandbox;
use super::tools::run;

/// What is installed: terminado and its two dependencies on Linux, at exact versions.
pub const PACKAGES: &[&str] = &["terminado==0.18.1", "tornado==6.5.10", "ptyprocess==0.7.0"];
/// The server script, written into the virtual environment's directory.
const SERVER_SCRIPT: &str = include_str!("terminado_server.py");
/// Written once the packages are installed, holding their list: a changed pin reinstalls.
const STAMP: &str = "xtask-bench-packages.txt";
/// Prints the versions the report names.
const VERSION_PY: &str = "import platform, terminado, tornado; print(f'terminado \
                          {terminado.__version__} (tornado {tornado.version}, Python \
                          {platform.python_version()})')";
/// How long the server may take to say its port.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long it may take to end its terminals and exit once asked.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// An installed terminado.
#[derive(Debug)]
pub struct Terminado {
    python: PathBuf,
    script: PathBuf,
    version: String,
}

impl Terminado {
    /// Installs terminado into the virtual environment `dir`, unless it holds exactly
    /// [`PACKAGES`] already.
    ///
    /// # Errors
    ///
    /// When `python3 -m venv` or pip fails (no venv module, no network), or the installed
    /// packages do not import.
    pub fn install(dir: &Path) -> anyhow::Result<Terminado> {
        let python = dir.join("bin").join("python3");
        let wanted = PACKAGES.join("\n");
        let stamp = dir.join(STAMP);
        let installed = std::fs::read_to_string(&stamp).is_ok_and(|text| text == wanted);
        if !installed || !python.is_file() {
            create(dir, &python)?;
            std::fs::write(&stamp, wanted.as_bytes())
                .with_context(|| format!("writing {}", stamp.display()))?;
        }
        // Written every time: the script may have changed since the install.
        let script = dir.join("terminado_server.py");
        std::fs::write(&script, SERVER_SCRIPT)
            .with_context(|| format!("writing {}", script.display()))?;
        let output = Command::new(&python)
            .args(["-c", VERSION_PY])
            .output()
            .with_context(|| format!("running {}", python.display()))?;
        if !output.status.success() {
            bail!(
                "terminado does not import ({}); delete {} to reinstall: {}",
                output.status,
                dir.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        Ok(Terminado {
            python,
            script,
            version,
        })
    }

    /// terminado's version, with tornado's and Python's.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Starts a server on a free port of 127.0.0.1 whose terminals run `program`; its
    /// log goes to `dir`.
    ///
    /// # Errors
    ///
    /// When it does not start, or does not say its port within [`START_TIMEOUT`].
    pub fn start(
        &self,
        sandbox: &Sandbox,
        dir: &Path,
        program: &[&str],
    ) -> anyhow::Result<TerminadoServer> {
        let log = dir.join("terminado.log");
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = sandbox
            .command(&self.python)
            .arg(&self.script)
            .args(["--port", "0", "--"])
            .args(program)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .context("starting terminado")?;
        let stdout = child.stdout.take();
        // From here on, dropping the server stops the process.
        let mut server = TerminadoServer {
            child,
            port: 0,
            log,
        };
        let stdout = stdout.context("terminado's stdout")?;
        server.port = read_port(stdout).with_context(|| server.log_tail())?;
        Ok(server)
    }
}

/// Makes the virtual environment `dir` afresh and installs [`PACKAGES`] into it.
fn create(dir: &Path, python: &Path) -> anyhow::Result<()> {
    eprintln!(
        "xtask bench: installing {} into {}",
        PACKAGES.join(" "),
        dir.display()
    );
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    run(Command::new("python3").args(["-m", "venv"]).arg(dir)).context(
        "cannot make a Python virtual environment (on Debian or Ubuntu: sudo apt-get install \
         python3-venv)",
    )?;
    run(Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-input", "--only-binary=:all:"])
        .args(PACKAGES))
    .context("pip cannot install terminado (is PyPI reachable?)")
}

/// The port the server prints on its first line, waiting at most [`START_TIMEOUT`].
fn read_port(stdout: std::process::ChildStdout) -> anyhow::Result<u16> {
    let (line_tx, line_rx) = mpsc::channel();
    // A thread, so a server that hangs before printing cannot hang the bench.
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
        let _ = line_tx.send(read);
    });
    let line = line_rx
        .recv_timeout(START_TIMEOUT)
        .context("terminado did not say its port in time")?
        .context("reading terminado's port")?;
    line.trim()
        .parse()
        .with_context(|| format!("terminado printed {:?}, not its port", line.trim()))
}

/// A running terminado server, stopped on drop.
#[derive(Debug)]
pub struct TerminadoServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl TerminadoServer {
    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id: the process that owns the PTYs and the WebSockets.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it: SIGTERM (it ends its terminals and exits), SIGKILL after
    /// [`STOP_TIMEOUT`].
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        if let Some(pid) = i32::try_from(self.child.id()).ok().and_then(Pid::from_raw) {
            let _ = kill_process(pid, Signal::TERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The end of its log, for an error message.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join("\n");
        format!("terminado's log ({}):\n{tail}", self.log.display())
    }
}

impl Drop for TerminadoServer {
    fn drop(&mut self) {
        self.stop();
    }
}
