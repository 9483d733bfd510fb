//! A generic, thread-safe registry of connected clients: who is connected, which session each
//! is attached to, and how to reach them.
//!
//! The registry knows nothing about sockets, terminals or a wire protocol. It is generic over
//! the session key `K`, the message type `M` that clients are sent, and a per-client info
//! type `I` (see [`ClientInfo`]). Each client is reached through the sending half of a
//! bounded [`tokio::sync::mpsc`] channel whose receiving half a connection task drains.
//!
//! # Example
//!
//! ```
//! use fugue_registry::Registry;
//! use tokio::sync::mpsc;
//!
//! // A chat hub: rooms are strings, messages are shared strings.
//! let registry: Registry<String, std::sync::Arc<str>> = Registry::new();
//!
//! let alice = registry.next_client_id();
//! let (alice_tx, mut alice_rx) = mpsc::channel(16);
//! registry.register_client(alice, alice_tx)?;
//! registry.attach_to_session(alice, "rust".to_string())?;
//!
//! let bob = registry.next_client_id();
//! let (bob_tx, mut bob_rx) = mpsc::channel(16);
//! registry.register_client(bob, bob_tx)?;
//! registry.attach_to_session(bob, "rust".to_string())?;
//!
//! // Bob speaks: everyone in the room but Bob hears it.
//! let report = registry.broadcast_to_session_except(&"rust".to_string(), bob, "hi!".into());
//! assert_eq!(report.delivered, 1);
//! assert_eq!(alice_rx.try_recv().ok().as_deref(), Some("hi!"));
//! assert!(bob_rx.try_recv().is_err());
//! # Ok::<(), fugue_registry::RegistryError>(())
//! ```
//!
//! # Thread safety
//!
//! [`Registry`] is `Send + Sync` (for `Send` key, message and info types) and every method
//! takes `&self`: share it behind an `Arc` between any number of tasks and threads. No method
//! blocks on a channel, and no lock is ever held across an `.await`: only
//! [`Registry::send_to_client`] awaits, and it holds no lock while it does. Each operation on
//! one client (register, attach, detach, unregister) is atomic with respect to the others on
//! the same client, so the client index and the session index agree after any interleaving.
//!
//! # Slow clients
//!
//! Broadcasts never wait for a client. A client whose queue is full when a broadcast reaches
//! it is marked *lagging*; broadcasts then skip it until its owner calls
//! [`Registry::clear_lagging`] (typically after draining the queue and sending the client one
//! full resynchronisation), so a stalled client never slows the others and never receives a
//! stream with holes in it.

mod client;
mod delivery;
mod error;
mod health;
mod id;
mod info;
mod invariants;
mod query;
mod registration;
mod registry;
mod reserve;

pub use client::{ClientSnapshot, LagFlag};
pub use delivery::BroadcastReport;
pub use error::{RegistryError, SendError};
pub use health::HealthSnapshot;
pub use id::ClientId;
pub use info::ClientInfo;
pub use registration::Registration;
pub use registry::Registry;
pub use reserve::Reservation;

/// Compiles and runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
