//! What the provider API keeps (SPEC §8): the IDs of accepted client
//! assertions in `assertion_ids` (`client_id 0x00 jti` → expiry, i64 BE)
//! and the access tokens' key in `meta` (`token_key` → 32 bytes).

use shared::domain::Timestamp;

use super::{SledEngine, corrupt};
use crate::store::StoreError;

/// The `meta` key of the access tokens' key.
const TOKEN_KEY: &[u8] = b"token_key";

impl SledEngine {
    /// Records an assertion's `jti` unless it is there, durably.
    pub(super) fn first_use_sync(
        &self,
        client_id: &str,
        jti: &str,
        expires: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut key = client_id.as_bytes().to_vec();
        key.push(0);
        key.extend_from_slice(jti.as_bytes());
        let first = self
            .assertion_ids
            .compare_and_swap(
                key,
                None as Option<&[u8]>,
                Some(&expires.unix().to_be_bytes()),
            )?
            .is_ok();
        if first {
            self.sync()?;
        }
        Ok(first)
    }

    /// Removes the assertion IDs expired at `now`, durably.
    pub(super) fn sweep_assertion_ids_sync(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut swept = 0;
        for entry in self.assertion_ids.iter() {
            let (key, value) = entry?;
            let expires = <[u8; 8]>::try_from(value.as_ref())
                .map(i64::from_be_bytes)
                .map_err(|_| corrupt("assertion_ids", "an expiry that is not 8 bytes"))?;
            if expires <= now.unix() {
                self.assertion_ids.remove(key)?;
                swept += 1;
            }
        }
        if swept > 0 {
            self.sync()?;
        }
        Ok(swept)
    }

    /// The access tokens' key, made (and synced) at the first call.
    pub(super) fn token_key_sync(&self) -> Result<[u8; 32], StoreError> {
        let made: [u8; 32] = rand::random();
        let stored =
            match self
                .meta
                .compare_and_swap(TOKEN_KEY, None as Option<&[u8]>, Some(&made[..]))?
            {
                Ok(()) => {
                    self.sync()?;
                    return Ok(made);
                }
                Err(found) => found.current,
            };
        stored
            .as_deref()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| corrupt("meta", "the token key is not 32 bytes"))
    }
}
