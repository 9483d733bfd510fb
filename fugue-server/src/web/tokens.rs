//! The browser viewer's tokens: minted with 256 random bits, kept only as their SHA-256,
//! checked by hashing what a browser presents (so the lookup never compares the secret
//! itself), expired by time, revoked all at once; and the rate limit on failed attempts,
//! counted per peer address.
//!
//! Invariant: a token's text is returned once, to the `fugue web` that minted it, and
//! never stored or logged.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Failed attempts allowed per [`FAILURE_WINDOW`] before attempts are refused unread.
const MAX_FAILURES: usize = 20;
/// The window the failures are counted in.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Addresses whose failures are remembered before the quiet ones are forgotten.
const MAX_PEERS: usize = 1024;

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
    /// Not live either, and too many failures from its address lately.
    RateLimited,
}

/// The live tokens, by hash, and the recent failures.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    by_hash: HashMap<[u8; 32], Grant>,
    /// Recent failures by the peer's address, oldest first.
    failures: HashMap<IpAddr, VecDeque<Instant>>,
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

    /// The grant of `token`, if it is live. A failure counts against `from`: past
    /// [`MAX_FAILURES`] in [`FAILURE_WINDOW`] its failures are answered `RateLimited`
    /// (a live token still works: it cannot be guessed, and a flood of bad ones from the
    /// same address, loopback above all, must not lock out its rightful holders).
    pub(crate) fn check(
        &mut self,
        token: &str,
        from: IpAddr,
        now: Instant,
    ) -> Result<Grant, Denied> {
        let live = self
            .by_hash
            .get(&hash(token))
            .filter(|grant| grant.expires > SystemTime::now())
            .cloned();
        if let Some(grant) = live {
            return Ok(grant);
        }
        if self.failures.len() > MAX_PEERS {
            self.failures.retain(|_, seen| {
                seen.back()
                    .is_some_and(|at| now.duration_since(*at) < FAILURE_WINDOW)
            });
        }
        let seen = self.failures.entry(from).or_default();
        while seen
            .front()
            .is_some_and(|at| now.duration_since(*at) >= FAILURE_WINDOW)
        {
            seen.pop_front();
        }
        if seen.len() >= MAX_FAILURES {
            return Err(Denied::RateLimited);
        }
        seen.push_back(now);
        Err(Denied::Unauthorized)
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

    use std::net::Ipv4Addr;

    const HERE: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

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
        let checked = tokens.check(&text, HERE, Instant::now()).unwrap();
        assert!(checked.operator);
        assert_eq!(
            tokens.check("nope", HERE, Instant::now()),
            Err(Denied::Unauthorized)
        );
    }

    #[test]
    fn expired_and_revoked_tokens_are_refused_alike() {
        let mut tokens = Tokens::default();
        let old = tokens.mint(grant(0)).unwrap();
        assert_eq!(
            tokens.check(&old, HERE, Instant::now()),
            Err(Denied::Unauthorized)
        );
        let live = tokens.mint(grant(60)).unwrap();
        assert_eq!(tokens.revoke_all(), 1);
        assert_eq!(
            tokens.check(&live, HERE, Instant::now()),
            Err(Denied::Unauthorized)
        );
    }

    #[test]
    fn a_burst_of_failures_is_rate_limited_per_address_and_a_live_token_still_works() {
        let mut tokens = Tokens::default();
        let good = tokens.mint(grant(60)).unwrap();
        let start = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert_eq!(tokens.check("bad", HERE, start), Err(Denied::Unauthorized));
        }
        assert_eq!(tokens.check("bad", HERE, start), Err(Denied::RateLimited));
        assert!(
            tokens.check(&good, HERE, start).is_ok(),
            "its holder is not locked out"
        );
        let elsewhere = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(
            tokens.check("bad", elsewhere, start),
            Err(Denied::Unauthorized)
        );
        let later = start + FAILURE_WINDOW;
        assert_eq!(tokens.check("bad", HERE, later), Err(Denied::Unauthorized));
    }
}
