//! The harness's terminals: a PTY of 120x40 per client, the client started on it as
//! its controlling terminal, and reads with deadlines.
//!
//! Plain threads and blocking reads, no async runtime: a measurement thread that owns
//! its file descriptor has the shortest path from the kernel to a timestamp.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{Winsize, tcsetwinsize};

/// The terminal size every tool gets.
pub const ROWS: u16 = 40;
/// The terminal size every tool gets.
pub const COLS: u16 = 120;

/// A program running on a harness PTY: the master side and the child.
#[derive(Debug)]
pub struct Terminal {
    master: OwnedFd,
    child: Child,
}

impl Terminal {
    /// Opens a 120x40 PTY and starts `cmd` on it as the leader of a new session, with the
    /// PTY as its controlling terminal and standard input, output and error.
    ///
    /// # Errors
    ///
    /// When the PTY cannot be opened or the program cannot be started.
    pub fn spawn(mut cmd: Command) -> anyhow::Result<Terminal> {
        let (master, slave) = open_pty().context("opening a PTY")?;
        cmd.stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        // SAFETY: the closure runs in the forked child before exec and only makes two
        // system calls (setsid, then ioctl TIOCSCTTY on fd 0, which std has just pointed
        // at the PTY); both are async-signal-safe and touch no memory shared with the
        // parent, and it allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::setsid()?;
                rustix::process::ioctl_tiocsctty(rustix::stdio::stdin())?;
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {:?}", cmd.get_program()))?;
        // `cmd` drops here with the parent's copies of the slave, so the master sees a
        // hang-up once the child side is gone.
        drop(cmd);
        Ok(Terminal { master, child })
    }

    /// The process started on the terminal.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the terminal echoes typing itself (the kernel's `ECHO`): true until the
    /// client puts it in raw mode.
    pub fn echoes(&self) -> bool {
        rustix::termios::tcgetattr(&self.master).map_or(true, |modes| {
            modes
                .local_modes
                .contains(rustix::termios::LocalModes::ECHO)
        })
    }

    /// A second handle on the master, for a drain thread.
    ///
    /// # Errors
    ///
    /// When the descriptor cannot be duplicated.
    pub fn master_clone(&self) -> anyhow::Result<OwnedFd> {
        Ok(self.master.try_clone()?)
    }

    /// Writes all of `bytes` as keyboard input.
    ///
    /// # Errors
    ///
    /// When the PTY is gone.
    pub fn type_bytes(&self, bytes: &[u8]) -> anyhow::Result<()> {
        write_all(&self.master, bytes)
    }

    /// Reads what is there, waiting until `deadline` for something; an empty result
    /// means the deadline passed.
    ///
    /// # Errors
    ///
    /// When the PTY is closed (the client and everything on its terminal exited).
    pub fn read_until(&self, buf: &mut [u8], deadline: Instant) -> anyhow::Result<usize> {
        read_with_deadline(&self.master, buf, deadline)
    }

    /// Reads and discards output until none has come for `quiet`.
    ///
    /// # Errors
    ///
    /// When the PTY is closed.
    pub fn drain_until_quiet(&self, quiet: Duration) -> anyhow::Result<()> {
        let mut buf = vec![0; 64 * 1024];
        while self.read_until(&mut buf, Instant::now() + quiet)? > 0 {}
        Ok(())
    }

    /// Kills the client (SIGKILL) and reaps it. Whatever else runs on the terminal gets
    /// SIGHUP when the master closes on drop.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

fn open_pty() -> rustix::io::Result<(OwnedFd, OwnedFd)> {
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    // Non-blocking, so a drain thread can notice that it should stop; reads wait in poll.
    rustix::io::ioctl_fionbio(&master, true)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let name = ptsname(&master, Vec::new())?;
    let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
    let slave = rustix::fs::open(name.as_c_str(), flags, Mode::empty())?;
    let size = Winsize {
        ws_row: ROWS,
        ws_col: COLS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    tcsetwinsize(&slave, size)?;
    Ok((master, slave))
}

/// What one read of a master returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// This many bytes.
    Data(usize),
    /// Nothing within the wait.
    Idle,
    /// The terminal is closed: nothing holds its slave side any more.
    Closed,
}

/// Reads what is there, waiting up to `wait` for something.
///
/// # Errors
///
/// On a read or poll error other than the hang-up.
pub fn read_or_wait(fd: impl AsFd, buf: &mut [u8], wait: Duration) -> anyhow::Result<Read> {
    if let Some(read) = try_read(&fd, buf)? {
        return Ok(read);
    }
    let timeout = Timespec {
        tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(wait.subsec_nanos()),
    };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    match poll(&mut fds, Some(&timeout)) {
        Ok(_) | Err(Errno::INTR) => {}
        Err(err) => return Err(err).context("polling a PTY master"),
    }
    Ok(try_read(&fd, buf)?.unwrap_or(Read::Idle))
}

fn try_read(fd: &impl AsFd, buf: &mut [u8]) -> anyhow::Result<Option<Read>> {
    loop {
        return match rustix::io::read(fd, &mut *buf) {
            Ok(0) | Err(Errno::IO) => Ok(Some(Read::Closed)),
            Ok(n) => Ok(Some(Read::Data(n))),
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => Ok(None),
            Err(err) => Err(err).context("reading a PTY master"),
        };
    }
}

fn read_with_deadline(fd: &OwnedFd, buf: &mut [u8], deadline: Instant) -> anyhow::Result<usize> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(0);
        }
        match read_or_wait(fd, buf, left)? {
            Read::Data(n) => return Ok(n),
            Read::Idle => {}
            Read::Closed => bail!("the terminal closed (its client exited)"),
        }
    }
}

fn write_all(fd: &OwnedFd, mut bytes: &[u8]) -> anyhow::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                let mut fds = [PollFd::new(fd, PollFlags::OUT)];
                let _ = poll(&mut fds, None);
            }
            Err(err) => return Err(err).context("writing to a PTY master"),
        }
    }
    Ok(())
}
