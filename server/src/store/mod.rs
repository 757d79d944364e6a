//! kaisen's storage: the only module that imports sled, so that a second
//! engine can stand behind the same interface later (SPEC §8).
//!
//! Every method is blocking. Handlers run short reads (and small unsynced
//! writes) on the async worker (`AppState::inline`): sled answers them from
//! its cache in microseconds. Whatever waits for the disk or hashes goes
//! through `spawn_blocking` (`AppState::blocking`).
//! Writes that touch more than one tree are one multi-tree transaction whose
//! body has no side effects (sled may run it again). A write that must
//! survive a crash before it is acknowledged waits for [`Store::sync`].

mod applications;
mod audit;
mod commit;
mod export;
mod import;
mod keys;
mod lines;
mod logins;
mod outbox;
mod records;
mod sessions;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use applications::{NewApplication, SubmitError, Submitted, WorkStep};
pub use audit::Audit;
pub use export::{
    EXPORT_FORMAT, EXPORT_VERSION, ExportError, ExportSummary, RestoreError, RestoreSummary,
};
pub use import::{ImportHead, ImportReport, ImportWriter, LineImport};
pub use outbox::Queues;
pub use records::{
    ApplicationRecord, ConsentRecord, LineRecord, LoginFailures, OutboxRecord, ProviderRecord,
    SessionRecord, SettingRecord,
};

/// A failure of the storage itself. The cause is logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value does not decode: never skipped, always an error.
    #[error("corrupt record in tree {tree}: {detail}")]
    Corrupt {
        /// The tree it is in.
        tree: &'static str,
        /// What failed.
        detail: String,
    },
    /// A record could not be written as JSON.
    #[error("cannot encode a record for tree {tree}: {detail}")]
    Encode {
        /// The tree it was for.
        tree: &'static str,
        /// What failed.
        detail: String,
    },
    /// Syncing to disk failed.
    #[error("sync: {0}")]
    Io(#[from] std::io::Error),
    /// Another process (a running `kaisen serve`) has the database open.
    #[error("the database in {0} is in use by another kaisen process (a running `serve`?)")]
    InUse(String),
    /// The group-commit thread is gone (the store is shutting down).
    #[error("the group-commit thread has stopped")]
    CommitThreadGone,
    /// An import began writing and did not finish (it crashed or failed part
    /// way), so the database holds only part of that file.
    #[error(
        "the import of {file} into {db} did not finish, so the database holds only part of it; \
         run `kaisen import {file} --db {db}` again (any import that runs to its end clears this)"
    )]
    UnfinishedImport {
        /// The file being imported.
        file: String,
        /// The database folder.
        db: String,
    },
}

/// sled's page cache for `serve` (sled's default).
const CACHE: u64 = 1 << 30;
/// sled's page cache for `import`. sled's process grows to about twice its
/// cache; an import reads little back, and a smaller cache barely slows it.
const IMPORT_CACHE: u64 = 128 << 20;

/// The database. Cloning is cheap: every clone shares the same trees.
#[derive(Clone)]
pub struct Store {
    /// `customer_id` → [`LineRecord`] (JSON).
    lines: sled::Tree,
    /// `provider_code` → [`ProviderRecord`] (JSON), in code order.
    providers: sled::Tree,
    /// `customer_id 0x00 provider_code` → [`SettingRecord`] (JSON). No entry
    /// means 「通知しない」.
    settings: sled::Tree,
    /// `application_id u64 BE` → [`ApplicationRecord`] (JSON).
    applications: sled::Tree,
    /// `customer_id 0x00 application_id u64 BE` → empty: a line's applications.
    line_applications: sled::Tree,
    /// `customer_id 0x00 provider_code` → `application_id u64 BE`: the
    /// change being worked for that provider (at most one).
    pending: sled::Tree,
    /// `customer_id 0x00 idempotency_key` → `application_id u64 BE`.
    idempotency: sled::Tree,
    /// `due i64 BE (sign-flipped) application_id u64 BE` → [`WorkStep`] byte:
    /// the worker's queue, in due order.
    work: sled::Tree,
    /// Small singletons: `consent` → [`ConsentRecord`], `notices` → JSON
    /// list of strings, `seq/YYYYMMDD` → u32 BE (that day's last sequence),
    /// `import/unfinished` → the file's name (JSON) while an import writes.
    meta: sled::Tree,
    /// `application_id u64 BE` → [`OutboxRecord`] (JSON): completion mails
    /// not yet delivered, written in the transaction that completes the work.
    outbox: sled::Tree,
    /// `customer_id` → [`LoginFailures`] (JSON): failed logins in a row, and
    /// a lock. Not exported: like sessions, it is short-lived security state.
    login_failures: sled::Tree,
    /// `session_id (32 hex chars)` → [`SessionRecord`] (JSON).
    sessions: sled::Tree,
    commit: commit::GroupCommit,
    /// See [`Store::catalogue`].
    catalogue: Arc<RwLock<lines::KeptCatalogue>>,
    /// Held by each submission's transaction (see [`Store::submit`]).
    submissions: Arc<Mutex<()>>,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) the database in `path`, with every tree. A
    /// database whose last import did not finish is refused
    /// ([`StoreError::UnfinishedImport`]): only an import may open it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let store = Self::open_with(path, CACHE)?;
        match store.unfinished_import()? {
            Some(file) => Err(StoreError::UnfinishedImport {
                file,
                db: path.display().to_string(),
            }),
            None => Ok(store),
        }
    }

    /// Opens the database in `path` for `import`, even when its last import
    /// did not finish, with a smaller cache: an import reads each record at
    /// most once.
    pub fn open_for_import(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, IMPORT_CACHE)
    }

    fn open_with(path: &Path, cache: u64) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .cache_capacity(cache)
            .open()
            .map_err(|e| match e {
                // sled reports a held lock as `Other`, naming it in the message.
                sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                    StoreError::InUse(path.display().to_string())
                }
                other => StoreError::Sled(other),
            })?;
        let tree = |name: &str| db.open_tree(name);
        Ok(Self {
            lines: tree("lines")?,
            providers: tree("providers")?,
            settings: tree("settings")?,
            applications: tree("applications")?,
            line_applications: tree("line_applications")?,
            pending: tree("pending")?,
            idempotency: tree("idempotency")?,
            work: tree("work")?,
            meta: tree("meta")?,
            sessions: tree("sessions")?,
            login_failures: tree("login_failures")?,
            outbox: tree("outbox")?,
            commit: commit::GroupCommit::start(db, path.to_path_buf()),
            catalogue: Arc::default(),
            submissions: Arc::default(),
            path: path.to_path_buf(),
        })
    }

    /// The database's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether no line has been loaded yet.
    pub fn has_no_lines(&self) -> bool {
        self.lines.is_empty()
    }

    /// Waits until everything written so far is on disk. One thread serves
    /// every waiting caller with one flush and one fsync.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.commit.sync()
    }
}

fn encode<T: Serialize>(tree: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Encode {
        tree,
        detail: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree,
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::{StoreError, encode};

    /// A value whose serialisation fails, as a map with non-string keys does.
    struct Unwritable;

    impl serde::Serialize for Unwritable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("cannot be written"))
        }
    }

    #[test]
    fn a_record_that_cannot_be_encoded_is_an_error_not_empty_bytes() {
        let outcome = encode("sessions", &Unwritable);
        assert!(
            matches!(&outcome, Err(StoreError::Encode { tree: "sessions", detail }) if detail.contains("cannot be written")),
            "{outcome:?}"
        );
    }
}
