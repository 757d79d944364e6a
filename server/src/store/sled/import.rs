//! Writing a checked import file in chunks, and only what differs.
//!
//! An import file may hold millions of lines, too many for one transaction.
//! So `begin_import` first records an "import unfinished" marker (`meta`
//! `import/unfinished` → the file's name, JSON) and syncs it; then
//! `import_head` writes the providers, notices and consent in one
//! transaction, `import_lines` the lines chunk by chunk, and
//! `finish_import` syncs, removes the marker and syncs again. A crash in
//! between leaves the marker: the store then refuses the database for
//! serving, naming the file, and only an import opens it, so that running
//! an import to its end clears it.

use ::sled::Transactional;
use ::sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{SledEngine, decode, encode, keys};
use crate::store::{ImportHead, ImportReport, LineImport, StoreError};

/// The `meta` key of the "import unfinished" marker.
const UNFINISHED: &[u8] = b"import/unfinished";

impl SledEngine {
    /// The name of the file whose import began but did not finish, if any.
    pub(super) fn unfinished_import_name(&self) -> Result<Option<String>, StoreError> {
        self.meta
            .get(UNFINISHED)?
            .map(|name| decode("meta", &name))
            .transpose()
    }

    /// Marks the database as being imported into from `name`, durably,
    /// before anything else is written.
    pub(super) fn begin_import_sync(&self, name: &str) -> Result<(), StoreError> {
        self.meta.insert(UNFINISHED, encode("meta", &name)?)?;
        self.sync()
    }

    /// Writes the providers, notices and consent in one transaction,
    /// durably.
    pub(super) fn import_head_sync(&self, head: &ImportHead) -> Result<ImportReport, StoreError> {
        let trees = (&self.providers, &self.meta);
        let result = trees.transaction(|(providers, meta)| {
            let mut report = ImportReport::default();
            let put =
                |tree: &::sled::transaction::TransactionalTree, key: &[u8], value: Vec<u8>| {
                    let changed = tree.get(key)?.as_deref() != Some(value.as_slice());
                    if changed {
                        tree.insert(key, value)?;
                    }
                    Ok::<_, ConflictableTransactionError<StoreError>>(changed)
                };
            for (code, record) in &head.providers {
                report.providers += usize::from(put(
                    providers,
                    code.as_str().as_bytes(),
                    encode("providers", record).map_err(ConflictableTransactionError::Abort)?,
                )?);
            }
            if let Some(notices) = &head.notices {
                report.notices = put(
                    meta,
                    b"notices",
                    encode("meta", notices).map_err(ConflictableTransactionError::Abort)?,
                )?;
            }
            if let Some(consent) = &head.consent {
                report.consent = put(
                    meta,
                    b"consent",
                    encode("meta", consent).map_err(ConflictableTransactionError::Abort)?,
                )?;
            }
            Ok(report)
        });
        let report = result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => e.into(),
        })?;
        self.providers_changed();
        self.sync()?;
        Ok(report)
    }

    /// Writes a chunk of lines and their settings, only the records that
    /// differ from the stored ones. Each customer ID must appear once in
    /// the whole import, and so each setting key. Records are inserted one
    /// by one: the marker makes a chunk's atomicity unnecessary, and sled
    /// batches of 10,000 lines made a 1,000,000-line import peak at 1.5 GB
    /// of memory, against a few hundred MB one by one. Not synced: the
    /// marker stays until `finish_import_sync` has synced everything.
    pub(super) fn import_lines_sync(
        &self,
        chunk: &[LineImport],
    ) -> Result<ImportReport, StoreError> {
        let mut report = ImportReport::default();
        let lines = Span::of(&self.lines)?;
        let settings = Span::of(&self.settings)?;
        for line in chunk {
            let key = line.id.as_str().as_bytes();
            if lines.put(&self.lines, key, encode("lines", &line.record)?)? {
                report.lines += 1;
            }
            for (code, record) in &line.settings {
                let key = keys::line_provider(&line.id, code);
                if settings.put(&self.settings, &key, encode("settings", record)?)? {
                    report.settings += 1;
                }
            }
        }
        Ok(report)
    }

    /// Makes everything durable, then removes the marker (durably too).
    pub(super) fn finish_import_sync(&self) -> Result<(), StoreError> {
        self.sync()?;
        self.meta.remove(UNFINISHED)?;
        self.sync()
    }
}

/// The smallest and largest key of a tree when a chunk begins: a key
/// outside them is not stored, so it needs no read to know it differs.
struct Span(Option<(::sled::IVec, ::sled::IVec)>);

impl Span {
    fn of(tree: &::sled::Tree) -> Result<Self, StoreError> {
        Ok(Self(match (tree.first()?, tree.last()?) {
            (Some((first, _)), Some((last, _))) => Some((first, last)),
            _ => None,
        }))
    }

    /// Stores `value` under `key` unless `tree` holds it already; says
    /// whether it did.
    fn put(&self, tree: &::sled::Tree, key: &[u8], value: Vec<u8>) -> Result<bool, StoreError> {
        if let Some((first, last)) = &self.0
            && first.as_ref() <= key
            && key <= last.as_ref()
            && tree.get(key)?.as_deref() == Some(value.as_slice())
        {
            return Ok(false);
        }
        tree.insert(key, value)?;
        Ok(true)
    }
}
