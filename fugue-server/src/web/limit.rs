//! A cap on the viewer's open TCP connections: the listener accepts only while it holds a
//! permit for the connection, which the connection gives back when it closes. So no
//! number of idle or half-open connections can take the server's descriptors (which its
//! sessions and terminal clients need). A connection from which nothing arrives for the
//! idle timeout fails its next read, so a silent one (before its request, or a page
//! that stopped answering pings) gives its slot back too.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// A listener that holds at most `limit` connections open at once.
pub(super) struct Capped<L> {
    inner: L,
    permits: Arc<Semaphore>,
    idle: Duration,
}

impl<L> Capped<L> {
    /// Caps `inner` by `permits`; its connections fail after `idle` without a byte.
    pub(super) fn new(inner: L, permits: Arc<Semaphore>, idle: Duration) -> Self {
        Capped {
            inner,
            permits,
            idle,
        }
    }
}

/// A permit for one more connection, waiting while the cap is reached.
pub(super) async fn permit(permits: &Arc<Semaphore>) -> OwnedSemaphorePermit {
    loop {
        // The semaphore is never closed, so this only waits.
        if let Ok(permit) = permits.clone().acquire_owned().await {
            return permit;
        }
    }
}

impl<L: Listener> Listener for Capped<L> {
    type Io = Held<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let permit = permit(&self.permits).await;
        let (io, addr) = self.inner.accept().await;
        (Held::new(io, permit, self.idle), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection, its permit, and when it fails unless a byte arrives.
pub(super) struct Held<T> {
    io: T,
    _permit: OwnedSemaphorePermit,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<T> Held<T> {
    /// `io` holding `permit`; it fails after `idle` without a byte from its peer.
    pub(super) fn new(io: T, permit: OwnedSemaphorePermit, idle: Duration) -> Self {
        Held {
            io,
            _permit: permit,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }

    /// The connection.
    pub(super) fn get_ref(&self) -> &T {
        &self.io
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Held<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                // An idle timeout too long to add to now never fires.
                if let Some(next) = Instant::now().checked_add(self.idle) {
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if self.deadline.as_mut().poll(cx).is_ready() => {
                let silent = io::Error::new(io::ErrorKind::TimedOut, "nothing heard");
                Poll::Ready(Err(silent))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Held<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
