//! A connection across an upgrade: parked, cut at a frame boundary, handed to the next
//! server with what it had not read and not written, and served on from there.
//!
//! Parking comes first (the handoff's `park`): the connection reads no further request
//! once the one it serves is answered and any detach it waits on is queued, but keeps
//! writing output. Once every session has stopped (`drain`), nothing more can be queued
//! for it: it encodes what its queue holds after the bytes its writer had not written yet,
//! and hands its socket over ([`CarriedConnection`]). The next server registers the client
//! again under the same id, in the same session, and writes those bytes first.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use fugue_protocol::ServerCodec;
use fugue_registry::ClientId;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::{Connection, Membership, Reader, Writer, serve};
use crate::clients::{ClientMeta, ClientRegistration, Outbound};
use crate::handlers::Pending;
use crate::handoff::state::{ClientState, ConnectionState};
use crate::state::Shared;

/// A connection on its way to the next server: its socket, and its state naming it.
pub(crate) struct CarriedConnection {
    pub(crate) fd: OwnedFd,
    pub(crate) state: ConnectionState,
}

impl Connection {
    /// Once asked to park and waiting on nothing that needs a session, says so, once.
    pub(super) fn park_if_asked(&mut self, waiting: Option<&Pending>) {
        if self.park_asked && !self.parked && !matches!(waiting, Some(Pending::Detach(_))) {
            self.parked = true;
            self.shared.handoff.parked();
        }
    }

    /// Cuts the connection for the next server (see the module doc).
    pub(super) fn carry(
        self,
        reader: Reader,
        mut rx: mpsc::Receiver<Outbound>,
        waiting: Option<Pending>,
    ) -> Option<CarriedConnection> {
        rx.close();
        let mut unwritten = BytesMut::from(&self.writer.write_buffer()[..]);
        let codec = self.writer.encoder().clone();
        while let Ok(item) = rx.try_recv() {
            encode(&codec, item, self.meta.version, &mut unwritten);
        }
        let id = self.membership.id();
        let registry = &self.shared.registry;
        let session = self.membership.session.as_ref().map(|session| session.id);
        let (pending_input, pending_reply) = match waiting {
            Some(Pending::Input { input, reply, .. }) => (Some(input.data), reply),
            _ => (None, None),
        };
        let client = ClientState {
            id: id.get(),
            role: self.meta.role,
            identity: self.meta.identity,
            pid: self.meta.pid,
            uid: self.meta.uid,
            version: self.meta.version,
            session,
            member: session.is_some() && registry.get_attached_session(id) == session,
            lagging: registry.is_lagging(id),
            pending_input,
            pending_reply,
        };
        let unread = Bytes::copy_from_slice(reader.read_buffer());
        let fd = socket_fd(reader, self.writer)?;
        let state = ConnectionState {
            fd: fd.as_raw_fd(),
            unread,
            unwritten: unwritten.freeze(),
            client: Some(client),
        };
        Some(CarriedConnection { fd, state })
    }
}

/// Encodes a queued item as the client's protocol version reads it.
fn encode(codec: &ServerCodec, item: Outbound, version: u32, out: &mut BytesMut) {
    let frame = match item {
        Outbound::Frame(frame) => Ok(frame),
        Outbound::Message(msg) => codec.encode_for_peer(&msg, version),
    };
    match frame {
        Ok(frame) => out.extend_from_slice(frame.as_bytes()),
        Err(err) => tracing::error!(%err, "cannot encode a message for the next server"),
    }
}

/// The socket of a connection, whole again and out of the runtime.
fn socket_fd(reader: Reader, writer: Writer) -> Option<OwnedFd> {
    let stream = reader.into_inner().reunite(writer.into_inner()).ok()?;
    Some(stream.into_std().ok()?.into())
}

/// A connection parked before its `Hello`: handed over with what it had sent so far.
pub(super) fn before_hello(shared: &Shared, reader: Reader, writer: Writer) {
    let unread = Bytes::copy_from_slice(reader.read_buffer());
    let Some(fd) = socket_fd(reader, writer) else {
        return;
    };
    let state = ConnectionState {
        fd: fd.as_raw_fd(),
        unread,
        unwritten: Bytes::new(),
        client: None,
    };
    shared.handoff.parked();
    shared.handoff.carried(CarriedConnection { fd, state });
}

/// A client the previous server registered, registered again in this one.
pub(crate) struct CarriedClient {
    pub(crate) registration: ClientRegistration,
    pub(crate) rx: mpsc::Receiver<Outbound>,
    pub(crate) meta: ClientMeta,
}

/// Serves a connection carried over from the previous server: one that had not said
/// `Hello` goes through the handshake; a registered one writes what it had not written,
/// then `first` (the answer to an upgrade request), and carries on.
pub(crate) async fn serve_carried(
    shared: Arc<Shared>,
    fd: OwnedFd,
    state: ConnectionState,
    client: Option<CarriedClient>,
    first: Option<fugue_protocol::ServerMessage>,
) {
    let std = std::os::unix::net::UnixStream::from(fd);
    let stream = match std
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixStream::from_std(std))
    {
        Ok(stream) => stream,
        Err(err) => {
            tracing::warn!(%err, "cannot serve a carried connection");
            return;
        }
    };
    let (Some(client), Some(client_state)) = (client, state.client) else {
        serve(shared, stream, None, state.unread).await;
        return;
    };
    let (read_half, write_half) = stream.into_split();
    let codec = ServerCodec::with_max_frame_len(shared.config.max_frame_len);
    let mut reader = FramedRead::new(read_half, codec.clone());
    reader.read_buffer_mut().extend_from_slice(&state.unread);
    let mut writer = FramedWrite::new(write_half, codec);
    writer
        .write_buffer_mut()
        .extend_from_slice(&state.unwritten);
    let session = client_state
        .session
        .and_then(|id| shared.sessions.find(&id.to_string()).ok());
    let waiting = client_state.pending_input.and_then(|data| {
        let session = session.as_ref()?;
        Some(Pending::input(
            session,
            ClientId::new(client_state.id),
            data,
            client_state.pending_reply,
        ))
    });
    let membership = Membership::new(client.registration, session);
    let conn = Connection::new(shared, membership, client.meta, writer);
    conn.start(reader, client.rx, waiting, first).await;
}
