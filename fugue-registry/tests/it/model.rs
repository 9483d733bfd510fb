//! Model-based property test: random operation sequences run against the registry and
//! against a plain `HashMap` model; after every step the two must agree and the registry's
//! indexes must be consistent.

use std::collections::{BTreeSet, HashMap, VecDeque};

use fugue_registry::{BroadcastReport, ClientId, Registry, RegistryError, SendError};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tokio::sync::mpsc;

use crate::support::Device;

type ModelRegistry = Registry<u8, u32, Device>;

/// Clients are picked from a few fixed ids, so ids get reused after unregistering.
#[derive(Debug, Clone)]
enum Op {
    Register {
        slot: u64,
        identity: Option<u32>,
        capacity: usize,
    },
    Unregister {
        slot: u64,
    },
    Attach {
        slot: u64,
        session: u8,
    },
    Detach {
        slot: u64,
    },
    TrySend {
        slot: u64,
    },
    Broadcast {
        session: u8,
        except: Option<u64>,
    },
    Drain {
        slot: u64,
    },
    HangUp {
        slot: u64,
    },
    ClearLagging {
        slot: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..6u64;
    let session = 0..3u8;
    prop_oneof![
        3 => (slot.clone(), prop::option::of(0..3u32), 1..=3usize)
            .prop_map(|(slot, identity, capacity)| Op::Register { slot, identity, capacity }),
        1 => slot.clone().prop_map(|slot| Op::Unregister { slot }),
        3 => (slot.clone(), session.clone()).prop_map(|(slot, session)| Op::Attach { slot, session }),
        1 => slot.clone().prop_map(|slot| Op::Detach { slot }),
        2 => slot.clone().prop_map(|slot| Op::TrySend { slot }),
        3 => (session, prop::option::of(slot.clone())).prop_map(|(session, except)| Op::Broadcast { session, except }),
        2 => slot.clone().prop_map(|slot| Op::Drain { slot }),
        1 => slot.clone().prop_map(|slot| Op::HangUp { slot }),
        1 => slot.prop_map(|slot| Op::ClearLagging { slot }),
    ]
}

/// What the model knows about one live client.
#[derive(Debug)]
struct ModelClient {
    identity: Option<u32>,
    session: Option<u8>,
    capacity: usize,
    queue: VecDeque<u32>,
    lagging: bool,
    hung_up: bool,
}

#[derive(Default)]
struct Harness {
    model: HashMap<ClientId, ModelClient>,
    receivers: HashMap<ClientId, mpsc::Receiver<u32>>,
}

impl Harness {
    /// Removes a client from the model; its receiver must see the channel closed.
    fn forget(&mut self, id: ClientId) -> Result<(), TestCaseError> {
        self.model.remove(&id);
        if let Some(rx) = self.receivers.remove(&id) {
            prop_assert!(
                rx.is_closed(),
                "client {id} removed but its channel is open"
            );
        }
        Ok(())
    }

    fn step(&mut self, registry: &ModelRegistry, op: Op, msg: u32) -> Result<(), TestCaseError> {
        match op {
            Op::Register {
                slot,
                identity,
                capacity,
            } => {
                let id = ClientId::new(slot);
                let (tx, rx) = mpsc::channel(capacity);
                let result = registry.replace_client(
                    id,
                    tx,
                    Device {
                        identity,
                        read_only: false,
                    },
                );
                if self.model.contains_key(&id) {
                    prop_assert_eq!(result, Err(RegistryError::DuplicateClient(id)));
                    return Ok(());
                }
                let holder = identity.and_then(|identity| {
                    self.model
                        .iter()
                        .find(|(_, c)| c.identity == Some(identity))
                        .map(|(id, _)| *id)
                });
                prop_assert_eq!(result, Ok(holder));
                if let Some(old) = holder {
                    self.forget(old)?;
                }
                let client = ModelClient {
                    identity,
                    session: None,
                    capacity,
                    queue: VecDeque::new(),
                    lagging: false,
                    hung_up: false,
                };
                self.model.insert(id, client);
                self.receivers.insert(id, rx);
            }
            Op::Unregister { slot } => {
                let id = ClientId::new(slot);
                prop_assert_eq!(registry.unregister_client(id), self.model.contains_key(&id));
                self.forget(id)?;
            }
            Op::Attach { slot, session } => {
                let id = ClientId::new(slot);
                let result = registry.attach_to_session(id, session);
                match self.model.get_mut(&id) {
                    None => prop_assert_eq!(result, Err(RegistryError::UnknownClient(id))),
                    Some(client) => prop_assert_eq!(result, Ok(client.session.replace(session))),
                }
            }
            Op::Detach { slot } => {
                let id = ClientId::new(slot);
                let expected = self
                    .model
                    .get_mut(&id)
                    .and_then(|client| client.session.take());
                prop_assert_eq!(registry.detach_from_session(id), expected);
            }
            Op::TrySend { slot } => self.try_send(registry, ClientId::new(slot), msg)?,
            Op::Broadcast { session, except } => {
                self.broadcast(registry, session, except.map(ClientId::new), msg)?
            }
            Op::Drain { slot } => {
                let id = ClientId::new(slot);
                if let (Some(client), Some(rx)) =
                    (self.model.get_mut(&id), self.receivers.get_mut(&id))
                {
                    let mut got = Vec::new();
                    while let Ok(msg) = rx.try_recv() {
                        got.push(msg);
                    }
                    prop_assert_eq!(got, client.queue.drain(..).collect::<Vec<_>>());
                }
            }
            Op::HangUp { slot } => {
                let id = ClientId::new(slot);
                if let Some(client) = self.model.get_mut(&id) {
                    self.receivers.remove(&id);
                    client.hung_up = true;
                    client.queue.clear();
                }
            }
            Op::ClearLagging { slot } => {
                let id = ClientId::new(slot);
                let was = self
                    .model
                    .get_mut(&id)
                    .is_some_and(|client| std::mem::take(&mut client.lagging));
                prop_assert_eq!(registry.clear_lagging(id), was);
            }
        }
        Ok(())
    }

    fn try_send(
        &mut self,
        registry: &ModelRegistry,
        id: ClientId,
        msg: u32,
    ) -> Result<(), TestCaseError> {
        let result = registry.try_send_to_client(id, msg);
        let Some(client) = self.model.get_mut(&id) else {
            prop_assert_eq!(result, Err(SendError::UnknownClient(id)));
            return Ok(());
        };
        if client.hung_up {
            prop_assert_eq!(result, Err(SendError::Disconnected(id)));
            return self.forget(id);
        }
        if client.queue.len() == client.capacity {
            prop_assert_eq!(result, Err(SendError::Full { id, msg }));
        } else {
            prop_assert_eq!(result, Ok(()));
            client.queue.push_back(msg);
        }
        Ok(())
    }

    fn broadcast(
        &mut self,
        registry: &ModelRegistry,
        session: u8,
        except: Option<ClientId>,
        msg: u32,
    ) -> Result<(), TestCaseError> {
        let report = match except {
            Some(except) => registry.broadcast_to_session_except(&session, except, msg),
            None => registry.broadcast_to_session(&session, msg),
        };
        let mut expected = BroadcastReport::default();
        for (id, client) in &mut self.model {
            if client.session != Some(session) || Some(*id) == except {
                continue;
            }
            if client.lagging {
                expected.lagging.push(*id);
            } else if client.hung_up {
                expected.disconnected.push(*id);
            } else if client.queue.len() == client.capacity {
                client.lagging = true;
                expected.lagging.push(*id);
            } else {
                client.queue.push_back(msg);
                expected.delivered += 1;
            }
        }
        prop_assert_eq!(report.delivered, expected.delivered);
        prop_assert_eq!(sorted(&report.lagging), sorted(&expected.lagging));
        prop_assert_eq!(sorted(&report.disconnected), sorted(&expected.disconnected));
        for id in expected.disconnected {
            self.forget(id)?;
        }
        Ok(())
    }

    fn check(&self, registry: &ModelRegistry) -> Result<(), TestCaseError> {
        registry.check_invariants().map_err(TestCaseError::fail)?;
        prop_assert_eq!(registry.client_count(), self.model.len());
        let sessions: BTreeSet<u8> = self
            .model
            .values()
            .filter_map(|client| client.session)
            .collect();
        prop_assert_eq!(registry.session_count(), sessions.len());
        for (id, client) in &self.model {
            prop_assert_eq!(registry.get_attached_session(*id), client.session);
            prop_assert_eq!(registry.is_lagging(*id), client.lagging);
        }
        for session in sessions {
            let mut members: Vec<ClientId> = self
                .model
                .iter()
                .filter(|(_, client)| client.session == Some(session))
                .map(|(id, _)| *id)
                .collect();
            members.sort_unstable();
            prop_assert_eq!(registry.get_session_clients(&session), members);
        }
        Ok(())
    }
}

fn sorted(ids: &[ClientId]) -> Vec<ClientId> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn registry_behaves_like_a_hashmap_model(ops in prop::collection::vec(op(), 1..80)) {
        let registry = ModelRegistry::new();
        let mut harness = Harness::default();
        for (step, op) in ops.into_iter().enumerate() {
            harness.step(&registry, op, step as u32)?;
            harness.check(&registry)?;
        }
    }
}
