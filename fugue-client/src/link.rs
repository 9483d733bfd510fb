//! `Link`: the byte stream a connection's frames travel on: the server's Unix socket, or
//! the standard input and output of an `ssh` running `fugue proxy` on another machine.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;

use crate::remote::SshLink;

/// Where a connection's bytes go.
#[derive(Debug)]
pub(crate) enum Link {
    /// The server's socket on this machine.
    Unix(UnixStream),
    /// An `ssh` child relaying to the server on another machine.
    Ssh(Box<SshLink>),
}

impl Link {
    /// The socket, when the server is on this machine.
    pub(crate) fn unix(&self) -> Option<&UnixStream> {
        match self {
            Link::Unix(stream) => Some(stream),
            Link::Ssh(_) => None,
        }
    }
}

impl AsyncRead for Link {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Link::Unix(stream) => Pin::new(stream).poll_read(cx, buf),
            Link::Ssh(link) => Pin::new(link.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Link {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Link::Unix(stream) => Pin::new(stream).poll_write(cx, buf),
            Link::Ssh(link) => Pin::new(link.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Link::Unix(stream) => Pin::new(stream).poll_flush(cx),
            Link::Ssh(link) => Pin::new(link.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Link::Unix(stream) => Pin::new(stream).poll_shutdown(cx),
            Link::Ssh(link) => Pin::new(link.as_mut()).poll_shutdown(cx),
        }
    }
}
