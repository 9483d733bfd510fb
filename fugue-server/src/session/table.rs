//! `Table`: the running sessions, by id and by name, and the naming rules.
//!
//! The table only maps names to handles; each session's state lives in its own task
//! (`task.rs`). The table's mutex is std, held for a few map operations and never across
//! an `.await`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

use super::SessionHandle;
use crate::refusal::Refusal;

/// Longest session name accepted, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 64;

#[derive(Default)]
struct Maps {
    by_id: HashMap<Uuid, SessionHandle>,
    by_name: HashMap<String, Uuid>,
    /// Next candidate for a generated name.
    next_auto: u64,
}

/// Running sessions. Names are unique; a session keeps its id across renames.
#[derive(Default)]
pub(crate) struct Table {
    maps: Mutex<Maps>,
}

impl Table {
    fn lock(&self) -> MutexGuard<'_, Maps> {
        // A panic elsewhere cannot leave the maps half-updated (each update is one insert or
        // remove), so a poisoned lock is still consistent.
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Finds a session by name, or by id (full uuid text).
    pub(crate) fn find(&self, name_or_id: &str) -> Result<SessionHandle, Refusal> {
        let maps = self.lock();
        let id = maps
            .by_name
            .get(name_or_id)
            .copied()
            .or_else(|| Uuid::parse_str(name_or_id).ok());
        id.and_then(|id| maps.by_id.get(&id).cloned())
            .ok_or_else(|| unknown_session(name_or_id))
    }

    /// All sessions, oldest first.
    pub(crate) fn all(&self) -> Vec<SessionHandle> {
        let mut handles: Vec<SessionHandle> = self.lock().by_id.values().cloned().collect();
        handles.sort_by_key(|handle| handle.meta.created_unix_ms);
        handles
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// The number the next generated name starts from.
    pub(crate) fn next_auto(&self) -> u64 {
        self.lock().next_auto
    }

    /// Makes generated names start from `next`.
    pub(crate) fn set_next_auto(&self, next: u64) {
        self.lock().next_auto = next;
    }

    /// Reserves `name` (or a generated one) so no concurrent create can take it.
    pub(crate) fn reserve_name(&self, name: Option<&str>) -> Result<String, Refusal> {
        let mut maps = self.lock();
        let name = match name {
            Some(name) => {
                validate_name(name)?;
                if maps.by_name.contains_key(name) {
                    return Err(duplicate_name(name));
                }
                name.to_owned()
            }
            None => loop {
                let candidate = maps.next_auto.to_string();
                maps.next_auto += 1;
                if !maps.by_name.contains_key(&candidate) {
                    break candidate;
                }
            },
        };
        maps.by_name.insert(name.clone(), Uuid::nil());
        Ok(name)
    }

    /// Releases a name reserved by [`Table::reserve_name`] whose session never started.
    pub(crate) fn release_name(&self, name: &str) {
        let mut maps = self.lock();
        if maps.by_name.get(name) == Some(&Uuid::nil()) {
            maps.by_name.remove(name);
        }
    }

    /// Publishes a started session under its reserved name.
    pub(crate) fn insert(&self, name: &str, handle: SessionHandle) {
        let mut maps = self.lock();
        maps.by_name.insert(name.to_owned(), handle.id);
        maps.by_id.insert(handle.id, handle);
    }

    /// Removes a session that ended.
    pub(crate) fn remove(&self, id: Uuid) {
        let mut maps = self.lock();
        if let Some(handle) = maps.by_id.remove(&id) {
            let name = handle.meta.name();
            if maps.by_name.get(&name) == Some(&id) {
                maps.by_name.remove(&name);
            }
        }
    }

    /// Renames a session; the id stays.
    pub(crate) fn rename(&self, name_or_id: &str, new_name: &str) -> Result<(), Refusal> {
        validate_name(new_name)?;
        let handle = self.find(name_or_id)?;
        let mut maps = self.lock();
        let old_name = handle.meta.name();
        if old_name == new_name {
            return Ok(());
        }
        if maps.by_name.contains_key(new_name) {
            return Err(duplicate_name(new_name));
        }
        if !maps.by_id.contains_key(&handle.id) {
            return Err(unknown_session(name_or_id));
        }
        maps.by_name.remove(&old_name);
        maps.by_name.insert(new_name.to_owned(), handle.id);
        handle.meta.set_name(new_name);
        Ok(())
    }
}

/// Checks a session name: 1 to 64 printable characters, no `/`, not `.` or `..`, not a
/// bare uuid.
pub(crate) fn validate_name(name: &str) -> Result<(), Refusal> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.chars().count() > MAX_NAME_CHARS {
        "it is longer than 64 characters"
    } else if name.chars().any(|c| c.is_control()) {
        "it contains a control character"
    } else if name.contains('/') {
        "it contains '/'"
    } else if name == "." || name == ".." {
        "it is a path component"
    } else if name.trim() != name {
        "it starts or ends with whitespace"
    } else if Uuid::parse_str(name).is_ok() {
        "it looks like a session id"
    } else {
        return Ok(());
    };
    Err(Refusal::InvalidName {
        name: name.to_owned(),
        why,
    })
}

fn unknown_session(name_or_id: &str) -> Refusal {
    Refusal::UnknownSession(name_or_id.to_owned())
}

fn duplicate_name(name: &str) -> Refusal {
    Refusal::DuplicateName(name.to_owned())
}

#[cfg(test)]
mod tests {
    use fugue_protocol::ErrorCode;

    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(validate_name("work").is_ok());
        assert!(validate_name("日本語 ok").is_ok());
        for bad in [
            "",
            "a/b",
            ".",
            "..",
            " lead",
            "trail ",
            "bell\u{7}",
            "nul\0",
            &"x".repeat(65),
        ] {
            let refusal = validate_name(bad).expect_err(bad);
            assert_eq!(refusal.code(), ErrorCode::InvalidName, "{bad:?}");
        }
        let refusal = validate_name(&Uuid::new_v4().to_string()).expect_err("uuid");
        assert_eq!(refusal.code(), ErrorCode::InvalidName);
    }

    #[test]
    fn generated_names_skip_taken_ones() {
        let sessions = Table::default();
        assert_eq!(sessions.reserve_name(Some("1")).unwrap(), "1");
        assert_eq!(sessions.reserve_name(None).unwrap(), "0");
        assert_eq!(sessions.reserve_name(None).unwrap(), "2");
        let refusal = sessions.reserve_name(Some("2")).unwrap_err();
        assert_eq!(refusal.code(), ErrorCode::DuplicateName);
        sessions.release_name("2");
        assert_eq!(sessions.reserve_name(Some("2")).unwrap(), "2");
    }
}
