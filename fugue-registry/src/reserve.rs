//! [`Reservation`]: room for several messages in one client's queue, taken all at once
//! ([`Registry::try_reserve`]) or waited for ([`Registry::reserve`]).
//!
//! A caller that changes a client's membership and must then queue what the client sees
//! about it (a snapshot and replayed output after an attach, goodbyes when a session ends)
//! reserves the room first: the change is then made only when every message fits, and the
//! messages cannot fail halfway or be overtaken by a sender that found room in between.

use std::fmt::{self, Debug};
use std::hash::Hash;

use tokio::sync::mpsc::{self, error::TrySendError};

use crate::health::Counters;
use crate::registry::Removal;
use crate::{ClientId, ClientInfo, Registry, SendError};

/// Room reserved in one client's queue. Each [`Reservation::send`] fills one slot;
/// dropping the reservation frees the slots not used.
pub struct Reservation<'a, M> {
    permits: Vec<mpsc::OwnedPermit<M>>,
    counters: &'a Counters,
}

impl<M> Reservation<'_, M> {
    /// Queues `msg` in a reserved slot.
    ///
    /// # Errors
    ///
    /// Hands `msg` back when every slot is used.
    pub fn send(&mut self, msg: M) -> Result<(), M> {
        let Some(permit) = self.permits.pop() else {
            return Err(msg);
        };
        permit.send(msg);
        self.counters.record_delivered(1);
        Ok(())
    }

    /// Slots left.
    #[must_use]
    pub fn len(&self) -> usize {
        self.permits.len()
    }

    /// Whether every slot is used.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.permits.is_empty()
    }
}

impl<M> Debug for Reservation<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("slots", &self.permits.len())
            .finish()
    }
}

impl<K, M, I> Registry<K, M, I>
where
    K: Eq + Hash + Clone + Debug,
    I: ClientInfo,
{
    /// Reserves room for `n` messages in a client's queue, now or not at all. Like direct
    /// sends, a reservation ignores the lagging mark.
    ///
    /// # Errors
    ///
    /// [`SendError::UnknownClient`]; [`SendError::Full`] if the queue has fewer than `n`
    /// free slots (none is kept); [`SendError::Disconnected`] if the receiver is gone, in
    /// which case the client is unregistered.
    pub fn try_reserve(&self, id: ClientId, n: usize) -> Result<Reservation<'_, M>, SendError<()>> {
        let client = self.client(id).ok_or(SendError::UnknownClient(id))?;
        let mut permits = Vec::with_capacity(n);
        for _ in 0..n {
            match client.sender.clone().try_reserve_owned() {
                Ok(permit) => permits.push(permit),
                Err(TrySendError::Full(_)) => return Err(SendError::Full { id, msg: () }),
                Err(TrySendError::Closed(_)) => {
                    self.remove_client(id, Some(client.serial), Removal::ChannelClosed);
                    return Err(SendError::Disconnected(id));
                }
            }
        }
        Ok(self.reservation(permits))
    }

    /// Reserves room for `n` messages in a client's queue, waiting for it. No lock is held
    /// while waiting; wrap the call in a timeout where a stalled client must not hold the
    /// caller up.
    ///
    /// # Errors
    ///
    /// [`SendError::UnknownClient`]; [`SendError::Disconnected`] if the receiver is gone,
    /// in which case the client is unregistered.
    pub async fn reserve(
        &self,
        id: ClientId,
        n: usize,
    ) -> Result<Reservation<'_, M>, SendError<()>> {
        // An `Arc` of the registration, not a map guard, is what lives across the await.
        let client = self.client(id).ok_or(SendError::UnknownClient(id))?;
        let mut permits = Vec::with_capacity(n);
        for _ in 0..n {
            match client.sender.clone().reserve_owned().await {
                Ok(permit) => permits.push(permit),
                Err(_) => {
                    self.remove_client(id, Some(client.serial), Removal::ChannelClosed);
                    return Err(SendError::Disconnected(id));
                }
            }
        }
        Ok(self.reservation(permits))
    }

    fn reservation(&self, permits: Vec<mpsc::OwnedPermit<M>>) -> Reservation<'_, M> {
        Reservation {
            permits,
            counters: &self.counters,
        }
    }
}
