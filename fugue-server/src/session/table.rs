//! `Sessions`: the table of running sessions, by id and by name.
//!
//! The table only maps names to handles; each session's state lives in its own task
//! (`session::run`). The table's mutex is std, held for a few map operations and never
//! across an `.await`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use fugue_protocol::ErrorCode;
use uuid::Uuid;

use crate::session::SessionHandle;

/// Longest session name accepted, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 64;

#[derive(Default)]
struct Table {
    by_id: HashMap<Uuid, SessionHandle>,
    by_name: HashMap<String, Uuid>,
    /// Next candidate for a generated name.
    next_auto: u64,
}

/// Running sessions. Names are unique; a session keeps its id across renames.
#[derive(Default)]
pub(crate) struct Sessions {
    table: Mutex<Table>,
}

/// A typed refusal, turned into `ServerMessage::Error` by the handler.
pub(crate) type Refusal = (ErrorCode, String);

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic elsewhere cannot leave the maps half-updated (each update is one insert or
        // remove), so a poisoned lock is still consistent.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Finds a session by name, or by id (full uuid text).
    pub(crate) fn find(&self, name_or_id: &str) -> Result<SessionHandle, Refusal> {
        let table = self.lock();
        let id = table
            .by_name
            .get(name_or_id)
            .copied()
            .or_else(|| Uuid::parse_str(name_or_id).ok());
        id.and_then(|id| table.by_id.get(&id).cloned())
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

    /// Reserves `name` (or a generated one) so no concurrent create can take it.
    pub(crate) fn reserve_name(&self, name: Option<&str>) -> Result<String, Refusal> {
        let mut table = self.lock();
        let name = match name {
            Some(name) => {
                validate_name(name)?;
                if table.by_name.contains_key(name) {
                    return Err(duplicate_name(name));
                }
                name.to_owned()
            }
            None => loop {
                let candidate = table.next_auto.to_string();
                table.next_auto += 1;
                if !table.by_name.contains_key(&candidate) {
                    break candidate;
                }
            },
        };
        table.by_name.insert(name.clone(), Uuid::nil());
        Ok(name)
    }

    /// Releases a name reserved by [`Sessions::reserve_name`] whose session never started.
    pub(crate) fn release_name(&self, name: &str) {
        let mut table = self.lock();
        if table.by_name.get(name) == Some(&Uuid::nil()) {
            table.by_name.remove(name);
        }
    }

    /// Publishes a started session under its reserved name.
    pub(crate) fn insert(&self, name: &str, handle: SessionHandle) {
        let mut table = self.lock();
        table.by_name.insert(name.to_owned(), handle.id);
        table.by_id.insert(handle.id, handle);
    }

    /// Removes a session that ended.
    pub(crate) fn remove(&self, id: Uuid) {
        let mut table = self.lock();
        if let Some(handle) = table.by_id.remove(&id) {
            let name = handle.meta.name();
            if table.by_name.get(&name) == Some(&id) {
                table.by_name.remove(&name);
            }
        }
    }

    /// Renames a session; the id stays.
    pub(crate) fn rename(&self, name_or_id: &str, new_name: &str) -> Result<(), Refusal> {
        validate_name(new_name)?;
        let handle = self.find(name_or_id)?;
        let mut table = self.lock();
        let old_name = handle.meta.name();
        if old_name == new_name {
            return Ok(());
        }
        if table.by_name.contains_key(new_name) {
            return Err(duplicate_name(new_name));
        }
        if !table.by_id.contains_key(&handle.id) {
            return Err(unknown_session(name_or_id));
        }
        table.by_name.remove(&old_name);
        table.by_name.insert(new_name.to_owned(), handle.id);
        handle.meta.set_name(new_name);
        Ok(())
    }
}

/// Checks a session name: 1 to 64 printable characters, no `/`, not `.` or `..`, not a
/// bare uuid.
pub(crate) fn validate_name(name: &str) -> Result<(), Refusal> {
    let invalid = |why: &str| {
        Err((
            ErrorCode::InvalidName,
            format!("invalid session name {name:?}: {why}"),
        ))
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return invalid("it is longer than 64 characters");
    }
    if name.chars().any(|c| c.is_control()) {
        return invalid("it contains a control character");
    }
    if name.contains('/') {
        return invalid("it contains '/'");
    }
    if name == "." || name == ".." {
        return invalid("it is a path component");
    }
    if name.trim() != name {
        return invalid("it starts or ends with whitespace");
    }
    if Uuid::parse_str(name).is_ok() {
        return invalid("it looks like a session id");
    }
    Ok(())
}

fn unknown_session(name_or_id: &str) -> Refusal {
    (
        ErrorCode::UnknownSession,
        format!("no session named {name_or_id:?}"),
    )
}

fn duplicate_name(name: &str) -> Refusal {
    (
        ErrorCode::DuplicateName,
        format!("a session named {name:?} already exists"),
    )
}

#[cfg(test)]
mod tests {
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
            let (code, _) = validate_name(bad).expect_err(bad);
            assert_eq!(code, ErrorCode::InvalidName, "{bad:?}");
        }
        let (code, _) = validate_name(&Uuid::new_v4().to_string()).expect_err("uuid");
        assert_eq!(code, ErrorCode::InvalidName);
    }

    #[test]
    fn generated_names_skip_taken_ones() {
        let sessions = Sessions::default();
        assert_eq!(sessions.reserve_name(Some("1")).unwrap(), "1");
        assert_eq!(sessions.reserve_name(None).unwrap(), "0");
        assert_eq!(sessions.reserve_name(None).unwrap(), "2");
        let (code, _) = sessions.reserve_name(Some("2")).unwrap_err();
        assert_eq!(code, ErrorCode::DuplicateName);
        sessions.release_name("2");
        assert_eq!(sessions.reserve_name(Some("2")).unwrap(), "2");
    }
}
