//! Server-side session records.

use ::sled::Transactional;
use ::sled::transaction::{ConflictableTransactionError, TransactionError};
use shared::domain::{CustomerId, Timestamp};

use super::{SledEngine, decode, encode};
use crate::store::rules::{self, SessionLimits};
use crate::store::{NewSession, SessionRecord, StoreError};

impl SledEngine {
    /// A login succeeded: one transaction forgets the line's failures,
    /// ends the replaced session and stores the new one; then syncs.
    pub(super) fn login_sync(
        &self,
        line: &CustomerId,
        session: &NewSession,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let value = encode("sessions", &session.record)?;
        let result = (&self.sessions, &self.login_failures).transaction(|(sessions, failures)| {
            failures.remove(line.as_str())?;
            let replaced = match &session.replacing {
                Some(old) => sessions.remove(old.as_str())?,
                None => None,
            };
            sessions.insert(session.id.as_str(), value.clone())?;
            Ok::<_, ConflictableTransactionError<StoreError>>(replaced)
        });
        let replaced = result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => e.into(),
        })?;
        self.sync()?;
        replaced.map(|v| decode("sessions", &v)).transpose()
    }

    /// A session by its ID.
    pub(super) fn session_record(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.sessions
            .get(id)?
            .map(|v| decode("sessions", &v))
            .transpose()
    }

    /// Records a request of a session that still exists.
    pub(super) fn touch_session_sync(&self, id: &str, at: Timestamp) -> Result<(), StoreError> {
        let Some(old) = self.sessions.get(id)? else {
            return Ok(());
        };
        let mut record: SessionRecord = decode("sessions", &old)?;
        record.last_seen = at;
        // Lost to a concurrent logout: the session is gone, as it should be.
        let _ =
            self.sessions
                .compare_and_swap(id, Some(old), Some(encode("sessions", &record)?))?;
        self.sync()
    }

    /// Ends a session and returns it, if there was one.
    pub(super) fn end_session_sync(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let ended = self.sessions.remove(id)?;
        if ended.is_some() {
            self.sync()?;
        }
        ended.map(|v| decode("sessions", &v)).transpose()
    }

    /// Removes every session run out at `now`; returns how many.
    pub(super) fn sweep_sessions_sync(
        &self,
        now: Timestamp,
        limits: SessionLimits,
    ) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in self.sessions.iter() {
            let (key, value) = entry?;
            let record: SessionRecord = decode("sessions", &value)?;
            if rules::session_expired(&record, now, limits)
                && self
                    .sessions
                    .compare_and_swap(&key, Some(value), None::<&[u8]>)?
                    .is_ok()
            {
                removed += 1;
            }
        }
        if removed > 0 {
            self.sync()?;
        }
        Ok(removed)
    }
}
