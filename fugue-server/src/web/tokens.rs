//! The browser viewer's tokens: minted with 256 random bits, kept only as their SHA-256,
//! checked by hashing what a browser presents (so the lookup never compares the secret
//! itself), expired by time, revoked all at once; and the rate limit on failed attempts.
//!
//! Invariant: a token's text is returned once, to the `fugue web` that minted it, and
//! never stored or logged.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Failed attempts allowed per [`FAILURE_WINDOW`] before attempts are refused unread.
const MAX_FAILURES: usize = 20;
/// The window the failures are counted in.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// What a token lets its holder do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    /// It may type and resize (an operator), or only watch (a viewer).
    pub(crate) operator: bool,
    /// The ids of the sessions it may see; `None` for every session.
    pub(crate) sessions: Option<Vec<Uuid>>,
    /// When it stops working.
    pub(crate) expires: SystemTime,
}

impl Grant {
    /// Whether the token may see session `id`.
    pub(crate) fn allows(&self, id: Uuid) -> bool {
        self.sessions.as_ref().is_none_or(|ids| ids.contains(&id))
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    /// Unknown, expired or revoked: one answer for all three.
    Unauthorized,
    /// Too many failures lately; the token was not looked at.
    RateLimited,
}

/// The live tokens, by hash, and the recent failures.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    by_hash: HashMap<[u8; 32], Grant>,
    failures: Vec<Instant>,
}

impl Tokens {
    /// Mints a token for `grant`: its text, which the caller hands to the user once.
    ///
    /// # Errors
    ///
    /// When the system's random source fails.
    pub(crate) fn mint(&mut self, grant: Grant) -> Result<String, getrandom::Error> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)?;
        let text = secret.iter().fold(String::with_capacity(64), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        });
        self.purge(SystemTime::now());
        self.by_hash.insert(hash(&text), grant);
        Ok(text)
    }

    /// The grant of `token`, if it is live; a failure counts toward the rate limit.
    pub(crate) fn check(&mut self, token: &str, now: Instant) -> Result<Grant, Denied> {
        self.failures
            .retain(|at| now.duration_since(*at) < FAILURE_WINDOW);
        if self.failures.len() >= MAX_FAILURES {
            return Err(Denied::RateLimited);
        }
        let live = self
            .by_hash
            .get(&hash(token))
            .filter(|grant| grant.expires > SystemTime::now())
            .cloned();
        live.ok_or_else(|| {
            self.failures.push(now);
            Denied::Unauthorized
        })
    }

    /// Forgets every token; returns how many were live.
    pub(crate) fn revoke_all(&mut self) -> usize {
        self.purge(SystemTime::now());
        let count = self.by_hash.len();
        self.by_hash.clear();
        count
    }

    /// The live tokens, by hash, for an upgrade.
    pub(crate) fn export(&mut self) -> Vec<([u8; 32], Grant)> {
        self.purge(SystemTime::now());
        self.by_hash
            .iter()
            .map(|(hash, grant)| (*hash, grant.clone()))
            .collect()
    }

    /// Takes on the tokens an old server exported.
    pub(crate) fn import(&mut self, tokens: Vec<([u8; 32], Grant)>) {
        self.by_hash.extend(tokens);
    }

    fn purge(&mut self, now: SystemTime) {
        self.by_hash.retain(|_, grant| grant.expires > now);
    }
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(secs: u64) -> Grant {
        Grant {
            operator: true,
            sessions: None,
            expires: SystemTime::now() + Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_minted_token_is_accepted_and_only_its_hash_is_kept() {
        let mut tokens = Tokens::default();
        let text = tokens.mint(grant(60)).unwrap();
        assert_eq!(text.len(), 64);
        let keys: Vec<_> = tokens.by_hash.keys().copied().collect();
        assert_eq!(keys, [hash(&text)]);
        let checked = tokens.check(&text, Instant::now()).unwrap();
        assert!(checked.operator);
        assert_eq!(
            tokens.check("nope", Instant::now()),
            Err(Denied::Unauthorized)
        );
    }

    #[test]
    fn expired_and_revoked_tokens_are_refused_alike() {
        let mut tokens = Tokens::default();
        let old = tokens.mint(grant(0)).unwrap();
        assert_eq!(
            tokens.check(&old, Instant::now()),
            Err(Denied::Unauthorized)
        );
        let live = tokens.mint(grant(60)).unwrap();
        assert_eq!(tokens.revoke_all(), 1);
        assert_eq!(
            tokens.check(&live, Instant::now()),
            Err(Denied::Unauthorized)
        );
    }

    #[test]
    fn a_burst_of_failures_is_rate_limited_until_the_window_passes() {
        let mut tokens = Tokens::default();
        let good = tokens.mint(grant(60)).unwrap();
        let start = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert_eq!(tokens.check("bad", start), Err(Denied::Unauthorized));
        }
        assert_eq!(tokens.check(&good, start), Err(Denied::RateLimited));
        let later = start + FAILURE_WINDOW;
        assert!(tokens.check(&good, later).is_ok());
    }
}
