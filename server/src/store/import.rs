//! Writing a checked import file in chunks, and only what differs.
//!
//! An import file may hold millions of lines, too many for one transaction.
//! So [`Store::begin_import`] first records an "import unfinished" marker
//! (`meta` `import/unfinished` → the file's name, JSON) and syncs it; then
//! [`ImportWriter::head`] writes the providers, notices and consent in one
//! transaction, [`ImportWriter::lines`] the lines chunk by chunk, and
//! [`ImportWriter::finish`] syncs, removes the marker and syncs again. A crash in between leaves the marker: [`Store::open`] then refuses
//! the database, naming the file, and only [`Store::open_for_import`] opens
//! it, so that running an import to its end clears it.

use shared::domain::{CustomerId, ProviderCode};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{
    ConsentRecord, LineRecord, ProviderRecord, SettingRecord, Store, StoreError, decode, encode,
    keys,
};

/// The `meta` key of the "import unfinished" marker.
const UNFINISHED: &[u8] = b"import/unfinished";

/// What an import writes before its lines: small, so kept whole.
#[derive(Debug, Clone, Default)]
pub struct ImportHead {
    /// Providers to add or update.
    pub providers: Vec<(ProviderCode, ProviderRecord)>,
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

/// An import being written; see the module documentation. Dropping it
/// without [`ImportWriter::finish`] leaves the marker in place.
#[must_use = "an import not finished leaves the database marked unfinished"]
pub struct ImportWriter<'s> {
    store: &'s Store,
    report: ImportReport,
}

impl Store {
    /// The name of the file whose import began but did not finish, if any.
    pub fn unfinished_import(&self) -> Result<Option<String>, StoreError> {
        self.meta
            .get(UNFINISHED)?
            .map(|name| decode("meta", &name))
            .transpose()
    }

    /// Marks the database as being imported into from `name`, durably,
    /// before anything else is written.
    pub fn begin_import(&self, name: &str) -> Result<ImportWriter<'_>, StoreError> {
        self.meta.insert(UNFINISHED, encode("meta", &name)?)?;
        self.sync()?;
        Ok(ImportWriter {
            store: self,
            report: ImportReport::default(),
        })
    }
}

impl ImportWriter<'_> {
    /// Writes the providers, notices and consent in one transaction.
    pub fn head(&mut self, head: &ImportHead) -> Result<(), StoreError> {
        let trees = (&self.store.providers, &self.store.meta);
        let result = trees.transaction(|(providers, meta)| {
            let mut report = ImportReport::default();
            let put = |tree: &sled::transaction::TransactionalTree, key: &[u8], value: Vec<u8>| {
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
            TransactionError::Storage(e) => StoreError::Sled(e),
        })?;
        self.store.forget_catalogue();
        self.report.providers += report.providers;
        self.report.notices |= report.notices;
        self.report.consent |= report.consent;
        Ok(())
    }

    /// Writes a chunk of lines and their settings, only the records that
    /// differ from the stored ones. Each customer ID must appear once in
    /// the whole import, and so each setting key. Records are inserted one
    /// by one: the marker makes a chunk's atomicity unnecessary, and sled
    /// batches of 10,000 lines made a 1,000,000-line import peak at 1.5 GB
    /// of memory, against a few hundred MB one by one.
    pub fn lines(&mut self, chunk: &[LineImport]) -> Result<(), StoreError> {
        let lines = Span::of(&self.store.lines)?;
        let settings = Span::of(&self.store.settings)?;
        for line in chunk {
            let key = line.id.as_str().as_bytes();
            if lines.put(&self.store.lines, key, encode("lines", &line.record)?)? {
                self.report.lines += 1;
            }
            for (code, record) in &line.settings {
                let key = keys::line_provider(&line.id, code);
                if settings.put(&self.store.settings, &key, encode("settings", record)?)? {
                    self.report.settings += 1;
                }
            }
        }
        Ok(())
    }

    /// Makes everything durable, then removes the marker (durably too).
    pub fn finish(self) -> Result<ImportReport, StoreError> {
        self.store.sync()?;
        self.store.meta.remove(UNFINISHED)?;
        self.store.sync()?;
        Ok(self.report)
    }
}

/// The smallest and largest key of a tree when a chunk begins: a key
/// outside them is not stored, so it needs no read to know it differs.
struct Span(Option<(sled::IVec, sled::IVec)>);

impl Span {
    fn of(tree: &sled::Tree) -> Result<Self, StoreError> {
        Ok(Self(match (tree.first()?, tree.last()?) {
            (Some((first, _)), Some((last, _))) => Some((first, last)),
            _ => None,
        }))
    }

    /// Stores `value` under `key` unless `tree` holds it already; says
    /// whether it did.
    fn put(&self, tree: &sled::Tree, key: &[u8], value: Vec<u8>) -> Result<bool, StoreError> {
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
