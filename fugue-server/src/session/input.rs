//! Input on its way to the program, and the `SendInput` requests it answers once written.
//!
//! A `SendInput` is answered by the session task when the last byte of its data has been
//! written to the PTY, with the output position at that moment (`InputTaken`): every
//! byte the program prints in response is read after it, so it comes after that position.
//! Input that never reaches the program (the PTY closed, the session ended) is answered
//! with a refusal instead. Nothing here waits on a client: answers are queued without
//! waiting, and one that finds a full queue is sent by a task of its own.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use fugue_protocol::{RequestId, ServerMessage};
use fugue_registry::{ClientId, SendError};

use super::handle::Input;
use crate::clients::{ClientRegistry, Outbound};
use crate::refusal::Refusal;

/// How long an answer waits for room in a client's queue.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// A request to answer once `end` bytes of input in all have been written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Due {
    end: u64,
    pub(super) client: ClientId,
    pub(super) request_id: RequestId,
}

/// Input taken from the queue and not yet accepted by the PTY.
#[derive(Default)]
pub(super) struct PendingInput {
    bytes: Bytes,
    /// Bytes written to the PTY so far (by this task).
    written: u64,
    replies: VecDeque<Due>,
}

impl PendingInput {
    /// Input carried over from another server: `bytes`, and the requests it answers, each
    /// once the first `offset` of them are written.
    pub(super) fn restored(bytes: Bytes, replies: Vec<(ClientId, RequestId, u64)>) -> Self {
        let replies = replies
            .into_iter()
            .map(|(client, request_id, end)| Due {
                end,
                client,
                request_id,
            })
            .collect();
        PendingInput {
            bytes,
            written: 0,
            replies,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// What is still to be written.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Takes a chunk from the queue (only once the last one is written); returns the
    /// request to answer now, if the chunk was empty.
    pub(super) fn take(&mut self, chunk: Input) -> Option<Due> {
        let due = chunk.reply.map(|(client, request_id)| Due {
            end: self.written + chunk.data.len() as u64,
            client,
            request_id,
        });
        self.bytes = chunk.data;
        match due {
            Some(due) if self.bytes.is_empty() => Some(due),
            Some(due) => {
                self.replies.push_back(due);
                None
            }
            None => None,
        }
    }

    /// The PTY accepted `n` bytes; returns the requests now fully written.
    pub(super) fn wrote(&mut self, n: usize) -> Vec<Due> {
        self.bytes.advance(n);
        self.written += n as u64;
        let mut done = Vec::new();
        while let Some(due) = self.replies.front().filter(|due| due.end <= self.written) {
            done.push(*due);
            self.replies.pop_front();
        }
        done
    }

    /// Drops what is left (the PTY closed); returns the requests it will never answer.
    pub(super) fn drop_all(&mut self) -> Vec<Due> {
        self.written += self.bytes.len() as u64;
        self.bytes.clear();
        self.replies.drain(..).collect()
    }

    /// Everything still to be written, with the chunks queued after it, and the requests
    /// to answer with their offsets into those bytes: for the next server.
    pub(super) fn export(
        mut self,
        queued: impl Iterator<Item = Input>,
    ) -> (Bytes, Vec<(ClientId, RequestId, u64)>) {
        let mut bytes = BytesMut::from(&self.bytes[..]);
        let start = self.written;
        for chunk in queued {
            bytes.extend_from_slice(&chunk.data);
            if let Some((client, request_id)) = chunk.reply {
                let end = start + bytes.len() as u64;
                self.replies.push_back(Due {
                    end,
                    client,
                    request_id,
                });
            }
        }
        let replies = self.replies.iter();
        let replies = replies.map(|due| (due.client, due.request_id, due.end - start));
        (bytes.freeze(), replies.collect())
    }
}

/// Answers a `SendInput` whose data the program has (`Some(seq)`, the output position
/// then) or never will (`None`).
pub(super) fn answer(registry: &std::sync::Arc<ClientRegistry>, due: Due, seq: Option<u64>) {
    let request_id = due.request_id;
    let msg = match seq {
        Some(seq) => ServerMessage::InputTaken { request_id, seq },
        None => Refusal::InputNotTaken.reply(Some(request_id)),
    };
    let msg = Outbound::from(msg);
    if let Err(SendError::Full { msg, .. }) = registry.try_send_to_client(due.client, msg) {
        let registry = registry.clone();
        tokio::spawn(async move {
            let send = registry.send_to_client(due.client, msg);
            let _ = tokio::time::timeout(ANSWER_TIMEOUT, send).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(data: &'static [u8], reply: Option<u32>) -> Input {
        Input {
            client: None,
            data: Bytes::from_static(data),
            reply: reply.map(|id| (ClientId::new(7), id)),
        }
    }

    #[test]
    fn a_request_is_answered_once_its_last_byte_is_written() {
        let mut pending = PendingInput::default();
        assert_eq!(pending.take(chunk(b"abc", Some(1))), None);
        assert!(pending.wrote(2).is_empty());
        let done = pending.wrote(1);
        assert_eq!(
            done.iter().map(|due| due.request_id).collect::<Vec<_>>(),
            [1]
        );
        assert!(pending.is_empty());
        // An empty chunk is answered at once.
        assert!(pending.take(chunk(b"", Some(2))).is_some());
    }

    #[test]
    fn carried_input_keeps_each_answer_at_its_byte() {
        let mut pending = PendingInput::default();
        pending.take(chunk(b"abcd", Some(1)));
        pending.wrote(1);
        let queued = [chunk(b"ef", None), chunk(b"gh", Some(2))];
        let (bytes, replies) = pending.export(queued.into_iter());
        assert_eq!(&bytes[..], b"bcdefgh");
        let offsets: Vec<_> = replies.iter().map(|(_, id, at)| (*id, *at)).collect();
        assert_eq!(offsets, [(1, 3), (2, 7)]);
        let mut restored = PendingInput::restored(bytes, replies);
        assert!(restored.wrote(2).is_empty());
        assert_eq!(restored.wrote(1).len(), 1);
        assert_eq!(restored.wrote(4).len(), 1);
        assert!(restored.drop_all().is_empty());
    }
}
