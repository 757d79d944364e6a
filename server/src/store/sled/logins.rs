//! Failed logins: per customer ID in the database, so that a restart does
//! not reset a lock; per client address in memory (one process owns the
//! folder).

use std::net::IpAddr;
use std::sync::PoisonError;

use shared::domain::{CustomerId, Timestamp};

use super::{SledEngine, decode, encode};
use crate::store::rules::{self, AddressLimit};
use crate::store::{LoginFailures, StoreError};

impl SledEngine {
    /// The failed logins in a row of `id`, if any.
    pub(super) fn login_failures_of(
        &self,
        id: &CustomerId,
    ) -> Result<Option<LoginFailures>, StoreError> {
        self.login_failures
            .get(id.as_str())?
            .map(|v| decode("login_failures", &v))
            .transpose()
    }

    /// Counts a failed login, atomically, on disk when it returns.
    pub(super) fn record_login_failure_sync(
        &self,
        id: &CustomerId,
        now: Timestamp,
        max: u32,
        lock_secs: i64,
    ) -> Result<LoginFailures, StoreError> {
        loop {
            let old = self.login_failures.get(id.as_str())?;
            let previous: Option<LoginFailures> = old
                .as_ref()
                .map(|v| decode("login_failures", v))
                .transpose()?;
            let next = rules::after_login_failure(previous.as_ref(), now, max, lock_secs);
            let swapped = self.login_failures.compare_and_swap(
                id.as_str(),
                old,
                Some(encode("login_failures", &next)?),
            )?;
            if swapped.is_ok() {
                self.sync()?;
                return Ok(next);
            }
        }
    }

    /// Removes counters that can no longer matter, on disk when it returns.
    pub(super) fn sweep_login_failures_sync(
        &self,
        now: Timestamp,
        older_than: i64,
    ) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in self.login_failures.iter() {
            let (key, value) = entry?;
            let r: LoginFailures = decode("login_failures", &value)?;
            if rules::login_failures_stale(&r, now, older_than)
                && self
                    .login_failures
                    .compare_and_swap(&key, Some(value), None::<&[u8]>)?
                    .is_ok()
            {
                removed += 1;
            }
        }
        // Sweeping old addresses' failures too.
        self.address_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, recent| {
                recent
                    .last()
                    .is_some_and(|at| now.unix() - at.unix() < older_than)
            });
        if removed > 0 {
            self.sync()?;
        }
        Ok(removed)
    }

    /// How long `addr` must wait at `now`, if it must.
    pub(super) fn address_wait_at(
        &self,
        addr: IpAddr,
        now: Timestamp,
        limit: AddressLimit,
    ) -> Option<u64> {
        let failures = self
            .address_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let newest_first: Vec<Timestamp> = failures
            .get(&addr)
            .map(|recent| recent.iter().rev().copied().collect())
            .unwrap_or_default();
        rules::address_wait(&newest_first, now, limit)
    }

    /// Counts a failed login from `addr`, keeping the `max` latest.
    pub(super) fn record_address_failure_at(
        &self,
        addr: IpAddr,
        now: Timestamp,
        limit: AddressLimit,
    ) {
        let mut failures = self
            .address_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let recent = failures.entry(addr).or_default();
        recent.push(now);
        let excess = recent.len().saturating_sub(limit.max.max(1));
        recent.drain(..excess);
    }
}
