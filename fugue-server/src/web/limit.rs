//! A cap on the viewer's open TCP connections: the listener accepts only while it holds a
//! permit for the connection, which the connection gives back when it closes. So no
//! number of idle or half-open connections can take the server's descriptors (which its
//! sessions and terminal clients need); at worst they fill the viewer's own slots.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A listener that holds at most `limit` connections open at once.
pub(super) struct Capped<L> {
    inner: L,
    permits: Arc<Semaphore>,
}

impl<L> Capped<L> {
    /// Caps `inner` by `permits` (shared with whatever else opens connections).
    pub(super) fn new(inner: L, permits: Arc<Semaphore>) -> Self {
        Capped { inner, permits }
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
        (Held::new(io, permit), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection and its permit.
pub(super) struct Held<T> {
    io: T,
    _permit: OwnedSemaphorePermit,
}

impl<T> Held<T> {
    pub(super) fn new(io: T, permit: OwnedSemaphorePermit) -> Self {
        Held {
            io,
            _permit: permit,
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
        Pin::new(&mut self.io).poll_read(cx, buf)
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
