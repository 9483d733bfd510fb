//! A session taken by one client at a time: `fugue run` claims the session while its
//! command runs, so that two runs never type into one shell together. A claim is released
//! by its client (`Release`) or when the client's connection ends; one who asks meanwhile
//! waits.

use std::sync::{Mutex, PoisonError};

use fugue_registry::ClientId;
use tokio::sync::Notify;

/// Who holds a session's claim.
#[derive(Default)]
pub(crate) struct Claim {
    holder: Mutex<Option<ClientId>>,
    released: Notify,
}

impl Claim {
    /// Takes the claim for `client` if nobody else holds it.
    pub(crate) fn try_take(&self, client: ClientId) -> bool {
        let mut holder = self.holder.lock().unwrap_or_else(PoisonError::into_inner);
        match *holder {
            Some(other) if other != client => false,
            _ => {
                *holder = Some(client);
                true
            }
        }
    }

    /// Takes the claim for `client`, waiting for its holder to release it.
    pub(crate) async fn take(&self, client: ClientId) {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if self.try_take(client) {
                return;
            }
            released.await;
        }
    }

    /// Releases the claim if `client` holds it; whether it did.
    pub(crate) fn release(&self, client: ClientId) -> bool {
        let mut holder = self.holder.lock().unwrap_or_else(PoisonError::into_inner);
        if *holder != Some(client) {
            return false;
        }
        *holder = None;
        drop(holder);
        self.released.notify_waiters();
        true
    }

    /// The client holding it.
    pub(crate) fn holder(&self) -> Option<ClientId> {
        *self.holder.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiting_client_gets_the_claim_once_it_is_released() {
        let claim = std::sync::Arc::new(Claim::default());
        let (first, second) = (ClientId::new(1), ClientId::new(2));
        assert!(claim.try_take(first));
        assert!(claim.try_take(first), "taking it again is a no-op");
        assert!(!claim.try_take(second));
        let waiter = tokio::spawn({
            let claim = claim.clone();
            async move { claim.take(second).await }
        });
        tokio::task::yield_now().await;
        assert!(!claim.release(second), "only the holder releases");
        assert!(claim.release(first));
        waiter.await.unwrap();
        assert_eq!(claim.holder(), Some(second));
    }
}
