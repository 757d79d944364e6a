//! The disclosure log (SPEC §8): `disclosures` holds each under
//! `customer_id 0x00 at (i64 BE, sign-flipped) id`, so that a line's are
//! one key prefix in time order; `last_disclosures` holds
//! `customer_id 0x00 provider_code` → the time (i64 BE) of the newest.

use ::sled::Transactional;
use ::sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use shared::domain::{CustomerId, ProviderCode, Timestamp};

use super::lines::provider_code_of;
use super::{SledEngine, corrupt, decode, encode, keys};
use crate::store::{DisclosurePage, DisclosureRecord, StoreError};

/// The key of a disclosure.
fn disclosure_key(d: &DisclosureRecord) -> Vec<u8> {
    let mut key = keys::line_prefix(&d.customer_id);
    key.extend_from_slice(&keys::instant(d.at));
    key.extend_from_slice(d.id.as_bytes());
    key
}

/// Writes a disclosure (`value`, encoded) and moves its provider's newest
/// time on, inside a transaction over `disclosures` and `last_disclosures`.
pub(super) fn write_in(
    disclosures: &TransactionalTree,
    last: &TransactionalTree,
    d: &DisclosureRecord,
    value: &[u8],
) -> Result<(), UnabortableTransactionError> {
    disclosures.insert(disclosure_key(d), value)?;
    let last_key = keys::line_provider(&d.customer_id, &d.provider);
    let newer = last.get(&last_key)?.is_none_or(|old| {
        <[u8; 8]>::try_from(old.as_ref()).map_or(true, |old| i64::from_be_bytes(old) < d.at.unix())
    });
    if newer {
        last.insert(last_key, &d.at.unix().to_be_bytes())?;
    }
    Ok(())
}

impl SledEngine {
    /// Writes a disclosure and its provider's newest time in one
    /// transaction (no caller syncs: see `record_disclosure`).
    pub(super) fn write_disclosure(&self, d: &DisclosureRecord) -> Result<(), StoreError> {
        let value = encode("disclosures", d)?;
        (&self.disclosures, &self.last_disclosures)
            .transaction(|(disclosures, last)| {
                write_in(disclosures, last, d, &value)?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => e.into(),
            })
    }

    /// Writes a disclosure durably.
    pub(super) fn record_disclosure_sync(&self, d: &DisclosureRecord) -> Result<(), StoreError> {
        self.write_disclosure(d)?;
        self.sync()
    }

    /// A page of a line's disclosures, newest first.
    pub(super) fn disclosures_of(
        &self,
        id: &CustomerId,
        skip: u64,
        limit: u64,
    ) -> Result<DisclosurePage, StoreError> {
        let prefix = keys::line_prefix(id);
        let total = self.disclosures.scan_prefix(&prefix).keys().count() as u64;
        let items = self
            .disclosures
            .scan_prefix(&prefix)
            .values()
            .rev()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|value| decode("disclosures", &value?))
            .collect::<Result<_, _>>()?;
        Ok(DisclosurePage { total, items })
    }

    /// When the customer ID was last given to each provider, by code.
    pub(super) fn last_disclosed(
        &self,
        prefix: &[u8],
    ) -> Result<Vec<(ProviderCode, Timestamp)>, StoreError> {
        self.last_disclosures
            .scan_prefix(prefix)
            .map(|entry| {
                let (key, value) = entry?;
                let at = <[u8; 8]>::try_from(value.as_ref())
                    .map_err(|_| corrupt("last_disclosures", "a time that is not 8 bytes"))?;
                Ok((
                    provider_code_of(&key[prefix.len()..])?,
                    Timestamp::from_unix(i64::from_be_bytes(at)),
                ))
            })
            .collect()
    }

    /// Every disclosure, by line, then time, then ID (the export's order).
    pub(super) fn all_disclosures(
        &self,
    ) -> impl Iterator<Item = Result<DisclosureRecord, StoreError>> + '_ {
        self.disclosures
            .iter()
            .values()
            .map(|value| decode("disclosures", &value?))
    }
}
