//! Writing a checked import file: one transaction, and only what differs.

use shared::domain::{CustomerId, ProviderCode};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{
    ConsentRecord, LineRecord, ProviderRecord, SettingRecord, Store, StoreError, encode, keys,
};

/// A checked import file, keys already hashed.
#[derive(Debug, Clone)]
pub struct ImportData {
    /// Providers to add or update.
    pub providers: Vec<(ProviderCode, ProviderRecord)>,
    /// Lines to add or update.
    pub lines: Vec<LineImport>,
    /// Notices replacing the old ones, if given.
    pub notices: Option<Vec<String>>,
    /// A consent document replacing the old one, if given.
    pub consent: Option<ConsentRecord>,
}

/// One line to import.
#[derive(Debug, Clone)]
pub struct LineImport {
    /// Its customer ID.
    pub id: CustomerId,
    /// Its record.
    pub record: LineRecord,
    /// Its settings per provider.
    pub settings: Vec<(ProviderCode, SettingRecord)>,
}

/// How many records an import wrote (records equal to the stored ones are
/// not written, so a second import of one file reports zeros).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Providers added or changed.
    pub providers: usize,
    /// Lines added or changed.
    pub lines: usize,
    /// Settings added or changed.
    pub settings: usize,
    /// Whether the notices changed.
    pub notices: bool,
    /// Whether the consent document changed.
    pub consent: bool,
}

impl Store {
    /// Writes an import in one transaction across lines, providers,
    /// settings and meta.
    pub fn import(&self, data: &ImportData) -> Result<ImportReport, StoreError> {
        let trees = (&self.lines, &self.providers, &self.settings, &self.meta);
        let result = trees.transaction(|(lines, providers, settings, meta)| {
            let mut report = ImportReport::default();
            let put = |tree: &sled::transaction::TransactionalTree, key: &[u8], value: Vec<u8>| {
                let changed = tree.get(key)?.as_deref() != Some(value.as_slice());
                if changed {
                    tree.insert(key, value)?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(changed)
            };
            for (code, record) in &data.providers {
                report.providers +=
                    usize::from(put(providers, code.as_str().as_bytes(), encode(record))?);
            }
            for line in &data.lines {
                report.lines += usize::from(put(
                    lines,
                    line.id.as_str().as_bytes(),
                    encode(&line.record),
                )?);
                for (code, record) in &line.settings {
                    report.settings += usize::from(put(
                        settings,
                        &keys::line_provider(&line.id, code),
                        encode(record),
                    )?);
                }
            }
            if let Some(notices) = &data.notices {
                report.notices = put(meta, b"notices", encode(notices))?;
            }
            if let Some(consent) = &data.consent {
                report.consent = put(meta, b"consent", encode(consent))?;
            }
            Ok(report)
        });
        let report = result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        })?;
        self.sync()?;
        Ok(report)
    }
}
