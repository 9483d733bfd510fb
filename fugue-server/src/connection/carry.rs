//! A connection across an upgrade: parked, handed to the next server with what it had not
//! read and not written, and served on from there.
//!
//! Parking comes first (the handoff's `park`): the connection reads no further request,
//! and holds input that waits for room in a session (it goes along, to be queued by the
//! next server); it parks once no detach it waits on is pending, even in the middle of a
//! write, and keeps writing output. Once every session has stopped (`drain`), nothing more
//! can be queued for it, and a write still under way is cut short: the bytes its writer
//! had not written, the item it held, then what its queue holds are encoded in order, and
//! it hands its socket over ([`CarriedConnection`]). The bytes it had received and not
//! decoded go too. The next server registers the client again under the same id, in the
//! same session, and writes those bytes first.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use fugue_protocol::{RequestId, ServerCodec};
use fugue_registry::ClientId;
use tokio::sync::mpsc;
use tokio_util::codec::FramedWrite;
use uuid::Uuid;

use super::incoming::Incoming;
use super::{Connection, Membership, Reader, Writer, serve};
use crate::clients::{ClientMeta, ClientRegistration, Outbound};
use crate::handlers::Pending;
use crate::handoff::state::{ClientState, ConnectionState};
use crate::refusal::Refusal;
use crate::state::Shared;

/// A connection on its way to the next server: its socket, and its state naming it.
pub(crate) struct CarriedConnection {
    pub(crate) fd: OwnedFd,
    pub(crate) state: ConnectionState,
}

impl Connection {
    /// Once asked to park and waiting on nothing that needs a session, says so.
    pub(super) fn park_if_asked(&mut self, waiting: Option<&Pending>) {
        self.detaching = matches!(waiting, Some(Pending::Detach(_)));
        if self.shared.handoff.park.is_cancelled() && !self.detaching {
            self.presence.park();
        }
    }

    /// Cuts the connection for the next server (see the module doc).
    pub(super) fn carry(
        mut self,
        reader: Reader,
        mut rx: mpsc::Receiver<Outbound>,
        waiting: Option<Pending>,
    ) -> Option<CarriedConnection> {
        rx.close();
        let mut unwritten = BytesMut::from(&self.writer.write_buffer()[..]);
        let codec = self.writer.encoder().clone();
        if let Some(item) = self.in_hand.take() {
            encode(&codec, item, self.meta.version, &mut unwritten);
        }
        while let Ok(item) = rx.try_recv() {
            encode(&codec, item, self.meta.version, &mut unwritten);
        }
        let id = self.membership.id();
        let registry = &self.shared.registry;
        // The registry's word: a switch may have moved the client since it last wrote.
        let joined = self.membership.session.as_ref().map(|session| session.id);
        let session = registry.get_attached_session(id).or(joined);
        let (pending_input, pending_reply, pending_claim) = waited_on(waiting);
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
            subscription: self.shared.sessions.events.subscription(id),
            pending_claim,
            agent: self.meta.agent.map(|path| path.into_os_string().into_vec()),
        };
        let unread = reader.unread();
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
    let unread = reader.unread();
    let Some(fd) = socket_fd(reader, writer) else {
        return;
    };
    let state = ConnectionState {
        fd: fd.as_raw_fd(),
        unread,
        unwritten: Bytes::new(),
        client: None,
    };
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
    let reader = Incoming::new(read_half, codec.clone(), &state.unread);
    let mut writer = FramedWrite::new(write_half, codec);
    writer
        .write_buffer_mut()
        .extend_from_slice(&state.unwritten);
    let find = |id: Uuid| shared.sessions.find(&id.to_string()).ok();
    let session = client_state.session.and_then(find);
    let id = ClientId::new(client_state.id);
    if let Some(filter) = client_state.subscription {
        shared.sessions.events.subscribe(id, filter);
    }
    let waiting = waiting_again(&shared, id, client_state);
    let presence = shared.handoff.enter();
    let membership = Membership::new(client.registration, session);
    let conn = Connection::new(shared, membership, client.meta, writer, presence);
    conn.start(reader, client.rx, waiting, first).await;
}

/// What a connection waits on, as the handoff state keeps it: input for a session with
/// the request to answer, or a claim.
type WaitedOn = (
    Option<(Uuid, Bytes)>,
    Option<RequestId>,
    Option<(Uuid, RequestId)>,
);

fn waited_on(waiting: Option<Pending>) -> WaitedOn {
    match waiting {
        Some(Pending::Input {
            session,
            input,
            reply,
            ..
        }) => (Some((session, input.data)), reply, None),
        Some(Pending::Claim {
            session,
            request_id,
            ..
        }) => (None, None, Some((session.id, request_id))),
        _ => (None, None, None),
    }
}

/// What a carried client waited on, waited on again; a request whose session ended during
/// the upgrade is answered as if it had ended before.
fn waiting_again(shared: &Shared, id: ClientId, client: ClientState) -> Option<Pending> {
    let find = |session: Uuid| shared.sessions.find(&session.to_string());
    let reply = client.pending_reply;
    let (pending, refusal) = if let Some((target, data)) = client.pending_input {
        match find(target) {
            Ok(target) => (Some(Pending::input(&target, id, data, reply)), None),
            Err(_) => (None, reply.map(|reply| (reply, Refusal::InputNotTaken))),
        }
    } else if let Some((target, request_id)) = client.pending_claim {
        match find(target) {
            Ok(session) => {
                let claim = Pending::Claim {
                    session,
                    client: id,
                    request_id,
                };
                (Some(claim), None)
            }
            Err(refusal) => (None, Some((request_id, refusal))),
        }
    } else {
        (None, None)
    };
    if let Some((request_id, refusal)) = refusal {
        let refused = refusal.reply(Some(request_id));
        let _ = shared.registry.try_send_to_client(id, refused.into());
    }
    pending
}
