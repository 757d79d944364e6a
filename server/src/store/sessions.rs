//! Server-side session records.

use super::{SessionRecord, Store, StoreError, decode, encode};

impl Store {
    /// Stores a session under its ID: a new one at login, or one with its
    /// activity recorded.
    pub fn put_session(&self, session_id: &str, record: &SessionRecord) -> Result<(), StoreError> {
        self.sessions
            .insert(session_id, encode("sessions", record)?)?;
        Ok(())
    }

    /// A session by its ID.
    pub fn session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.sessions
            .get(session_id)?
            .map(|v| decode("sessions", &v))
            .transpose()
    }

    /// Ends a session.
    pub fn delete_session(&self, session_id: &str) -> Result<(), StoreError> {
        self.sessions.remove(session_id)?;
        Ok(())
    }

    /// Ends a session and answers it, if there was one.
    pub fn take_session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.sessions
            .remove(session_id)?
            .map(|v| decode("sessions", &v))
            .transpose()
    }

    /// Removes every session for which `expired` says so; returns how many.
    pub fn sweep_sessions(
        &self,
        expired: impl Fn(&SessionRecord) -> bool,
    ) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in self.sessions.iter() {
            let (key, value) = entry?;
            let record: SessionRecord = decode("sessions", &value)?;
            if expired(&record) {
                self.sessions.remove(key)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
