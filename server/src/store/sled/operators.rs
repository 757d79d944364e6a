//! The operator console's records: accounts (`operators`), sessions
//! (`operator_sessions`) and the action log (`operator_actions`), and the
//! console's interventions on the other trees.

use shared::domain::{ApplicationId, CustomerId, ProviderCode, Timestamp};

use super::events::StoredEvent;
use super::{SledEngine, corrupt, decode, encode, keys};
use crate::store::operators::{
    self, ActionFilter, NewAction, OperatorAction, OperatorRecord, OperatorSession,
};
use crate::store::{OutboxRecord, StoreError};

impl SledEngine {
    /// Stores a new account unless its name is taken.
    pub(super) fn add_operator_sync(&self, record: &OperatorRecord) -> Result<bool, StoreError> {
        let added = self
            .operators
            .compare_and_swap(
                record.name.as_str(),
                None::<&[u8]>,
                Some(encode("operators", record)?),
            )?
            .is_ok();
        if added {
            self.sync()?;
        }
        Ok(added)
    }

    /// An account by name.
    pub(super) fn operator_record(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError> {
        self.operators
            .get(name)?
            .map(|v| decode("operators", &v))
            .transpose()
    }

    /// Every account, by name.
    pub(super) fn operator_records(&self) -> Result<Vec<OperatorRecord>, StoreError> {
        self.operators
            .iter()
            .values()
            .map(|v| decode("operators", &v?))
            .collect()
    }

    /// Replaces an account still at the revision `record` names.
    pub(super) fn update_operator_sync(
        &self,
        record: &OperatorRecord,
    ) -> Result<Option<OperatorRecord>, StoreError> {
        let Some(old) = self.operators.get(record.name.as_str())? else {
            return Ok(None);
        };
        let stored: OperatorRecord = decode("operators", &old)?;
        if stored.revision != record.revision {
            return Ok(None);
        }
        let next = OperatorRecord {
            revision: record.revision + 1,
            ..record.clone()
        };
        let swapped = self.operators.compare_and_swap(
            record.name.as_str(),
            Some(old),
            Some(encode("operators", &next)?),
        )?;
        if swapped.is_err() {
            return Ok(None);
        }
        self.sync()?;
        Ok(Some(next))
    }

    /// Stores a session.
    pub(super) fn put_operator_session_sync(
        &self,
        id: &str,
        session: &OperatorSession,
    ) -> Result<(), StoreError> {
        self.operator_sessions
            .insert(id, encode("operator_sessions", session)?)?;
        self.sync()
    }

    /// A session by ID.
    pub(super) fn operator_session_record(
        &self,
        id: &str,
    ) -> Result<Option<OperatorSession>, StoreError> {
        self.operator_sessions
            .get(id)?
            .map(|v| decode("operator_sessions", &v))
            .transpose()
    }

    /// Ends a session.
    pub(super) fn end_operator_session_sync(&self, id: &str) -> Result<(), StoreError> {
        if self.operator_sessions.remove(id)?.is_some() {
            self.sync()?;
        }
        Ok(())
    }

    /// Removes the sessions run out at `now`.
    pub(super) fn sweep_operator_sessions_sync(
        &self,
        now: Timestamp,
        idle_secs: i64,
        total_secs: i64,
    ) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in self.operator_sessions.iter() {
            let (key, value) = entry?;
            let session: OperatorSession = decode("operator_sessions", &value)?;
            if operators::operator_session_expired(&session, now, idle_secs, total_secs)
                && self
                    .operator_sessions
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

    /// Appends an action under the next ID (one process owns the folder:
    /// the lock in memory orders the log).
    pub(super) fn record_action_sync(
        &self,
        action: &NewAction,
    ) -> Result<OperatorAction, StoreError> {
        let recorded = {
            let _order = self
                .action_log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let id = match self.operator_actions.last()? {
                Some((key, _)) => action_id(&key)? + 1,
                None => 1,
            };
            let recorded = OperatorAction {
                id,
                action: action.clone(),
            };
            self.operator_actions
                .insert(id.to_be_bytes(), encode("operator_actions", &recorded)?)?;
            recorded
        };
        self.sync()?;
        Ok(recorded)
    }

    /// The logged actions `filter` selects, newest first.
    pub(super) fn actions_matching(
        &self,
        filter: &ActionFilter,
    ) -> Result<Vec<OperatorAction>, StoreError> {
        let end = filter.before.unwrap_or(u64::MAX);
        let mut found = Vec::new();
        for entry in self.operator_actions.range(..end.to_be_bytes()).rev() {
            if found.len() >= filter.limit {
                break;
            }
            let (_, value) = entry?;
            let action: OperatorAction = decode("operator_actions", &value)?;
            if filter.matches(&action) {
                found.push(action);
            }
        }
        Ok(found)
    }

    /// Writes a restored action (not synced: the restore syncs).
    pub(super) fn restore_action(&self, action: &OperatorAction) -> Result<(), StoreError> {
        self.operator_actions
            .insert(action.id.to_be_bytes(), encode("operator_actions", action)?)?;
        Ok(())
    }

    /// Every action, oldest first (the export's order).
    pub(super) fn all_actions(
        &self,
    ) -> impl Iterator<Item = Result<OperatorAction, StoreError>> + '_ {
        self.operator_actions
            .iter()
            .values()
            .map(|value| decode("operator_actions", &value?))
    }

    /// Forgets a customer ID's failed logins.
    pub(super) fn unlock_line_sync(&self, id: &CustomerId) -> Result<bool, StoreError> {
        let removed = self.login_failures.remove(id.as_str())?.is_some();
        if removed {
            self.sync()?;
        }
        Ok(removed)
    }

    /// Makes a waiting mail due now.
    pub(super) fn retry_mail_now_sync(
        &self,
        id: ApplicationId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let key = keys::application(id);
        loop {
            let Some(old) = self.outbox.get(key)? else {
                return Ok(false);
            };
            let mut mail: OutboxRecord = decode("outbox", &old)?;
            mail.next_attempt_at = mail.next_attempt_at.min(now);
            let swapped =
                self.outbox
                    .compare_and_swap(key, Some(old), Some(encode("outbox", &mail)?))?;
            if swapped.is_ok() {
                self.sync()?;
                return Ok(true);
            }
        }
    }

    /// Makes an undelivered event due now.
    pub(super) fn retry_event_now_sync(
        &self,
        provider: &ProviderCode,
        sequence: u64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let key = keys::event(provider, sequence);
        loop {
            let Some(old) = self.events.get(&key)? else {
                return Ok(false);
            };
            let mut event: StoredEvent = decode("events", &old)?;
            if event.delivery.delivered_at.is_some() {
                return Ok(false);
            }
            event.delivery.next_attempt_at = event.delivery.next_attempt_at.min(now);
            let swapped = self.events.compare_and_swap(
                key.as_slice(),
                Some(old),
                Some(encode("events", &event)?),
            )?;
            if swapped.is_ok() {
                self.sync()?;
                return Ok(true);
            }
        }
    }
}

/// The ID of an `operator_actions` key.
fn action_id(key: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(key)
        .map(u64::from_be_bytes)
        .map_err(|_| corrupt("operator_actions", "a key is not 8 bytes"))
}
