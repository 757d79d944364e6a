//! IPv6 prefix assignments (SPEC §5 `prefixes`): `prefixes` holds each
//! under `network (16 bytes) ++ length (1) ++ from (i64 BE, sign-flipped)`,
//! so that one prefix's assignments are one key prefix, oldest first;
//! `line_prefixes` indexes them by line.

use std::net::Ipv6Addr;

use shared::domain::{CustomerId, Timestamp};

use super::{SledEngine, decode, encode, keys};
use crate::store::{ImportReport, PREFIX_LENGTHS, PrefixRecord, StoreError};

/// `network ++ length`: the key prefix of one prefix's assignments.
fn prefix_key(prefix: &ipnet::Ipv6Net) -> [u8; 17] {
    let mut key = [0; 17];
    key[..16].copy_from_slice(&prefix.network().octets());
    key[16] = prefix.prefix_len();
    key
}

/// The key of one assignment.
fn assignment_key(p: &PrefixRecord) -> [u8; 25] {
    let mut key = [0; 25];
    key[..17].copy_from_slice(&prefix_key(&p.prefix));
    key[17..].copy_from_slice(&keys::instant(p.from));
    key
}

/// The key of an assignment in a line's index.
fn line_key(p: &PrefixRecord) -> Vec<u8> {
    let mut key = keys::line_prefix(&p.customer_id);
    key.extend_from_slice(&assignment_key(p));
    key
}

impl SledEngine {
    /// Every assignment, by prefix then start.
    pub(super) fn all_prefixes(&self) -> Result<Vec<PrefixRecord>, StoreError> {
        self.prefixes
            .iter()
            .values()
            .map(|value| decode("prefixes", &value?))
            .collect()
    }

    /// Writes assignments checked by an import, each replacing the one with
    /// its prefix and start, only those that differ. Not synced: the
    /// import's marker stays until `finish_import_sync` has synced.
    pub(super) fn import_prefixes_sync(
        &self,
        prefixes: &[PrefixRecord],
    ) -> Result<ImportReport, StoreError> {
        let mut report = ImportReport::default();
        for p in prefixes {
            let key = assignment_key(p);
            let value = encode("prefixes", p)?;
            if self.prefixes.get(key)?.as_deref() == Some(value.as_slice()) {
                continue;
            }
            self.prefixes.insert(key, value)?;
            self.line_prefixes.insert(line_key(p), &[])?;
            report.prefixes += 1;
        }
        Ok(report)
    }

    /// The assignment that held `addr` at `at`: each length a line's
    /// prefix may have is tried, the network of `addr` at that length
    /// being a key prefix.
    pub(super) fn prefix_holding(
        &self,
        addr: Ipv6Addr,
        at: Timestamp,
    ) -> Result<Option<PrefixRecord>, StoreError> {
        for len in PREFIX_LENGTHS {
            let Ok(net) = ipnet::Ipv6Net::new(addr, len) else {
                continue;
            };
            for value in self.prefixes.scan_prefix(prefix_key(&net.trunc())).values() {
                let record: PrefixRecord = decode("prefixes", &value?)?;
                if record.holds_at(at) {
                    return Ok(Some(record));
                }
            }
        }
        Ok(None)
    }

    /// A line's assignments, by prefix then start.
    pub(super) fn prefixes_of(&self, id: &CustomerId) -> Result<Vec<PrefixRecord>, StoreError> {
        let prefix = keys::line_prefix(id);
        let mut found = Vec::new();
        for key in self.line_prefixes.scan_prefix(&prefix).keys() {
            let key = key?;
            let Some(value) = self.prefixes.get(&key[prefix.len()..])? else {
                return Err(super::corrupt("line_prefixes", "an assignment not stored"));
            };
            found.push(decode("prefixes", &value)?);
        }
        Ok(found)
    }
}
