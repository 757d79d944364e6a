//! Failed logins per customer ID, counted in the database so that a
//! restart does not reset a lock.

use shared::domain::{CustomerId, Timestamp};

use super::{LoginFailures, Store, StoreError, decode, encode};

impl Store {
    /// Until when `id` is locked, if it is locked at `now`.
    pub fn login_locked_until(
        &self,
        id: &CustomerId,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        let record: Option<LoginFailures> = self
            .login_failures
            .get(id.as_str())?
            .map(|v| decode("login_failures", &v))
            .transpose()?;
        Ok(record
            .and_then(|r| r.locked_until)
            .filter(|until| *until > now))
    }

    /// Counts a failed login; the `max`th failure in a row locks the ID for
    /// `lock_secs`. Returns the lock's end when this failure locked it.
    pub fn record_login_failure(
        &self,
        id: &CustomerId,
        now: Timestamp,
        max: u32,
        lock_secs: i64,
    ) -> Result<Option<Timestamp>, StoreError> {
        let mut corrupt = None;
        let updated = self.login_failures.update_and_fetch(id.as_str(), |old| {
            let previous = match old
                .map(|v| decode::<LoginFailures>("login_failures", v))
                .transpose()
            {
                Ok(p) => p,
                Err(e) => {
                    corrupt = Some(e);
                    return old.map(<[u8]>::to_vec);
                }
            };
            // A lock that has run out starts a fresh count.
            let count = previous
                .filter(|p| p.locked_until.is_none_or(|u| u <= now))
                .map_or(0, |p| p.count)
                + 1;
            let locked_until = (count >= max).then(|| now.plus_secs(lock_secs));
            let next = LoginFailures {
                count: if locked_until.is_some() { 0 } else { count },
                last_at: now,
                locked_until,
            };
            match encode("login_failures", &next) {
                Ok(bytes) => Some(bytes),
                Err(e) => {
                    corrupt = Some(e);
                    old.map(<[u8]>::to_vec)
                }
            }
        })?;
        if let Some(e) = corrupt {
            return Err(e);
        }
        let record: Option<LoginFailures> =
            updated.map(|v| decode("login_failures", &v)).transpose()?;
        Ok(record.and_then(|r| r.locked_until))
    }

    /// Forgets the failures of `id` after a successful login.
    pub fn clear_login_failures(&self, id: &CustomerId) -> Result<(), StoreError> {
        self.login_failures.remove(id.as_str())?;
        Ok(())
    }

    /// Removes counters that can no longer matter: unlocked and older than
    /// `older_than`, or with a lock that has run out.
    pub fn sweep_login_failures(
        &self,
        now: Timestamp,
        older_than: i64,
    ) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in self.login_failures.iter() {
            let (key, value) = entry?;
            let r: LoginFailures = decode("login_failures", &value)?;
            let stale = match r.locked_until {
                Some(until) => until <= now,
                None => now.unix() - r.last_at.unix() > older_than,
            };
            if stale
                && self
                    .login_failures
                    .compare_and_swap(&key, Some(value), None::<&[u8]>)?
                    .is_ok()
            {
                removed += 1;
            }
        }
        Ok(removed)
    }
}
