//! kaisen's storage: one interface of domain operations ([`Store`], over
//! an [`Engine`]) and the engines behind it: sled, embedded, for one
//! process on one disk (`--db <dir>`, module `sled`), and PostgreSQL, for
//! any number of processes on one database (`--database postgres://…`,
//! module `postgres`). No sled or PostgreSQL type leaves its engine's
//! module; the rules of SPEC §4 that storage enforces live in `rules`,
//! called by both engines.
//!
//! Every operation is async and every write is durable when it returns:
//! see [`Engine`] for the contract.

mod engine;
pub mod export;
pub mod operators;
mod postgres;
mod records;
pub mod rules;
mod sled;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use shared::api::PROVIDERS_PER_PAGE;
use shared::domain::{ApplicationId, CustomerId, ProviderCode, Setting, Timestamp};

pub use engine::{
    Deliver, DeliverEvent, Delivery, Engine, NewApplication, NewSession, Submitted, WorkStep,
};
pub use export::{
    EXPORT_FORMAT, EXPORT_VERSION, ExportError, ExportSummary, RestoreError, RestoreSummary,
};
pub use records::{
    ApplicationRecord, ChangeRecord, ConsentRecord, LineRecord, LineSettings, LoginFailures,
    Notified, Offered, OfferedPage, OutboxRecord, ProviderRecord, SessionRecord, SettingRecord,
};
pub use records::{DisclosurePage, DisclosureRecord, LookupRecord, ProviderApi};
pub use records::{EventDelivery, EventKind, EventRecord};
pub use records::{ImportHead, ImportReport, LineImport, PREFIX_LENGTHS, PrefixRecord};
pub use rules::{AddressLimit, SessionLimits};

/// A failure of the storage itself. The cause is logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The engine failed (its own message).
    #[error("{engine}: {detail}")]
    Engine {
        /// `sled` or `postgres`.
        engine: &'static str,
        /// What failed.
        detail: String,
    },
    /// The database cannot be reached now (PostgreSQL down, failing over).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A stored value does not decode: never skipped, always an error.
    #[error("corrupt record in {what}: {detail}")]
    Corrupt {
        /// Where it is (a tree, a table).
        what: &'static str,
        /// What failed.
        detail: String,
    },
    /// A record could not be encoded.
    #[error("cannot encode a record for {what}: {detail}")]
    Encode {
        /// Where it was for.
        what: &'static str,
        /// What failed.
        detail: String,
    },
    /// Syncing or reading a file failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Another process (a running `kaisen serve`) has the database open.
    #[error("the database in {0} is in use by another kaisen process (a running `serve`?)")]
    InUse(String),
    /// An import began writing and did not finish (it crashed or failed part
    /// way), so the database holds only part of that file.
    #[error(
        "the import of {file} into {db} did not finish, so the database holds only part of it; \
         run `kaisen import {file} {flag}` again (any import that runs to its end clears this)"
    )]
    UnfinishedImport {
        /// The file being imported.
        file: String,
        /// The database.
        db: String,
        /// The flag naming it, e.g. `--db /srv/kaisen/db`.
        flag: String,
    },
}

/// Why an application was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The consent text changed since the subscriber read it.
    #[error("the consent document has changed")]
    ConsentChanged,
    /// No such provider.
    #[error("unknown provider {0}")]
    UnknownProvider(ProviderCode),
    /// A change for this provider (named) is being worked already.
    #[error("a change for {0} is in progress")]
    ProviderBusy(String),
    /// This provider (named) already has the setting asked for.
    #[error("{0} already has that setting")]
    AlreadySet(String),
    /// This day's sequence of IDs is used up.
    #[error("no application ID left today")]
    DayFull,
}

/// Which database to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The embedded sled store in this folder.
    Sled(PathBuf),
    /// A PostgreSQL database, by URL (`postgres://…`).
    Postgres(String),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sled(dir) => write!(f, "{}", dir.display()),
            Self::Postgres(url) => write!(f, "{}", redact(url)),
        }
    }
}

impl Location {
    /// The command-line flag that names it: `--db <dir>` or `--database <url>`
    /// (its password hidden).
    pub fn flag(&self) -> String {
        match self {
            Self::Sled(_) => format!("--db {self}"),
            Self::Postgres(_) => format!("--database {self}"),
        }
    }
}

/// A URL with its password, if any, replaced by `***`.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// What the database is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Serving, or an operator command: a database whose last import did
    /// not finish is refused ([`StoreError::UnfinishedImport`]).
    Serve,
    /// An import, which may open such a database (and, with sled, uses a
    /// smaller cache: it reads each record at most once).
    Import,
}

/// Applies the schema's migrations: for PostgreSQL, how many were applied
/// now and the schema's version; `None` for sled, which has none.
pub async fn migrate(location: &Location) -> Result<Option<(usize, i32)>, StoreError> {
    match location {
        Location::Sled(_) => Ok(None),
        Location::Postgres(url) => postgres::migrate(url).await.map(Some),
    }
}

/// Every provider in code order: see [`Store::catalogue`].
pub type Catalogue = Arc<[(ProviderCode, ProviderRecord)]>;

/// The provider `code` in `catalogue` (which is in code order), if there.
pub fn provider_in<'a>(
    catalogue: &'a Catalogue,
    code: &ProviderCode,
) -> Option<&'a ProviderRecord> {
    catalogue
        .binary_search_by(|(c, _)| c.cmp(code))
        .ok()
        .map(|i| &catalogue[i].1)
}

/// The storage interface, over one engine. Cloning is cheap.
#[derive(Clone)]
pub struct Store {
    engine: Arc<dyn Engine>,
    /// The provider catalogue as last read, with its version.
    catalogue: Arc<RwLock<Option<(u64, Catalogue)>>>,
    location: Location,
}

impl Store {
    /// Opens (or creates) the database at `location`.
    pub async fn open(location: &Location, purpose: Purpose) -> Result<Self, StoreError> {
        let engine: Arc<dyn Engine> = match location {
            Location::Sled(dir) => {
                let dir = dir.clone();
                let engine = tokio::task::spawn_blocking(move || {
                    sled::SledEngine::open(&dir, purpose == Purpose::Import)
                })
                .await
                .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
                Arc::new(engine)
            }
            Location::Postgres(url) => Arc::new(postgres::PgEngine::open(url).await?),
        };
        let store = Self {
            engine,
            catalogue: Arc::default(),
            location: location.clone(),
        };
        if purpose == Purpose::Serve
            && let Some(file) = store.engine.unfinished_import().await?
        {
            return Err(StoreError::UnfinishedImport {
                file,
                db: location.to_string(),
                flag: location.flag(),
            });
        }
        Ok(store)
    }

    /// A store over `engine`, opened on `location`.
    pub fn over(engine: Arc<dyn Engine>, location: Location) -> Self {
        Self {
            engine,
            catalogue: Arc::default(),
            location,
        }
    }

    /// Where the database is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The engine, for the operations that need no more than it gives.
    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    /// Every provider in code order. Kept in memory and read again only
    /// when the engine's catalogue version changes (an import or a restore,
    /// in any process, wrote providers).
    pub async fn catalogue(&self) -> Result<Catalogue, StoreError> {
        let version = self.engine.catalogue_version().await?;
        self.catalogue_at(version).await
    }

    async fn catalogue_at(&self, version: u64) -> Result<Catalogue, StoreError> {
        if let Some((kept, catalogue)) = &*self
            .catalogue
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            && *kept == version
        {
            return Ok(catalogue.clone());
        }
        let (version, providers) = self.engine.providers().await?;
        let catalogue: Catalogue = providers.into();
        *self
            .catalogue
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some((version, catalogue.clone()));
        Ok(catalogue)
    }

    /// Forgets the kept catalogue (after this process wrote providers).
    pub fn forget_catalogue(&self) {
        *self
            .catalogue
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The providers set to 「通知する」 for a line, in code order (S2).
    pub async fn notifications(&self, id: &CustomerId) -> Result<Vec<Notified>, StoreError> {
        let line = self.engine.line_settings(id).await?;
        let catalogue = self.catalogue_at(line.catalogue_version).await?;
        let mut rows = Vec::new();
        for (code, setting) in &line.settings {
            if setting.setting != Setting::Notify {
                continue;
            }
            let provider =
                provider_in(&catalogue, code)
                    .cloned()
                    .ok_or_else(|| StoreError::Corrupt {
                        what: "settings",
                        detail: format!("setting for unknown provider {code}"),
                    })?;
            rows.push(Notified {
                pending: line.is_pending(code),
                last_disclosed_at: line.last_disclosed_to(code),
                code: code.clone(),
                provider,
                setting: setting.clone(),
            });
        }
        Ok(rows)
    }

    /// One page of the providers that are 「通知しない」 for a line, in code
    /// order (S3). A page past the last gives the last page.
    pub async fn offered_page(
        &self,
        id: &CustomerId,
        page: u32,
    ) -> Result<OfferedPage, StoreError> {
        let line = self.engine.line_settings(id).await?;
        let catalogue = self.catalogue_at(line.catalogue_version).await?;
        // A line has a few settings and the catalogue many providers: a
        // sorted list searched per provider beats hashing each code.
        let mut notified: Vec<&ProviderCode> = line
            .settings
            .iter()
            .filter(|(_, s)| s.setting == Setting::Notify)
            .map(|(code, _)| code)
            .collect();
        notified.sort_unstable();
        let matching: Vec<_> = catalogue
            .iter()
            .filter(|(code, _)| notified.binary_search(&code).is_err())
            .collect();
        let per_page = PROVIDERS_PER_PAGE as usize;
        let (page, pages) = rules::page_of(matching.len(), page, per_page);
        let items = matching
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|(code, provider)| Offered {
                pending: line.is_pending(code),
                code: code.clone(),
                provider: provider.clone(),
            })
            .collect();
        Ok(OfferedPage {
            total: matching.len() as u64,
            page: u32::try_from(page).unwrap_or(u32::MAX),
            pages: u32::try_from(pages).unwrap_or(u32::MAX),
            items,
        })
    }

    /// Whether a change is being worked for any provider of the line.
    pub async fn changing(&self, id: &CustomerId) -> Result<bool, StoreError> {
        Ok(!self.engine.line_settings(id).await?.pending.is_empty())
    }

    /// Until when `id` is locked at `now`, if it is.
    pub async fn login_locked_until(
        &self,
        id: &CustomerId,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        let failures = self.engine.login_failures(id).await?;
        Ok(rules::locked_until(failures.as_ref(), now))
    }

    /// Counts a failed login; returns the lock's end when this failure
    /// locked the ID.
    pub async fn record_login_failure(
        &self,
        id: &CustomerId,
        now: Timestamp,
        max: u32,
        lock_secs: i64,
    ) -> Result<Option<Timestamp>, StoreError> {
        let after = self
            .engine
            .record_login_failure(id, now, max, lock_secs)
            .await?;
        Ok(after.locked_until)
    }

    /// Changes an operator account: `change` gets the account as stored and
    /// answers what to write (or `None`, to write nothing); when another
    /// write came between, in any process, the account is read again and
    /// `change` asked again (`Engine::update_operator`). Returns the
    /// account as written, or `None` when it does not exist or `change`
    /// declined.
    pub async fn modify_operator(
        &self,
        name: &str,
        mut change: impl FnMut(&operators::OperatorRecord) -> Option<operators::OperatorRecord> + Send,
    ) -> Result<Option<operators::OperatorRecord>, StoreError> {
        loop {
            let Some(current) = self.engine.operator(name).await? else {
                return Ok(None);
            };
            let Some(next) = change(&current) else {
                return Ok(None);
            };
            if let Some(stored) = self.engine.update_operator(&next).await? {
                return Ok(Some(stored));
            }
        }
    }

    /// How long `addr` must wait before its next login, if it must.
    pub async fn address_wait(
        &self,
        addr: IpAddr,
        now: Timestamp,
        limit: AddressLimit,
    ) -> Result<Option<u64>, StoreError> {
        self.engine.address_wait(addr, now, limit).await
    }
}

impl std::ops::Deref for Store {
    type Target = dyn Engine;

    fn deref(&self) -> &Self::Target {
        self.engine.as_ref()
    }
}

/// The work, mail and events waiting: see [`Engine::queues`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Queues {
    /// Steps of work queued (due or not).
    pub work: usize,
    /// Seconds since the application of the oldest queued step was received.
    pub oldest_work_age_secs: i64,
    /// Mails in the outbox.
    pub mail: usize,
    /// Seconds since the work of the oldest waiting mail was completed.
    pub oldest_mail_age_secs: i64,
    /// Events for providers not yet delivered.
    pub events: usize,
    /// Seconds since the oldest undelivered event's change was done.
    pub oldest_event_age_secs: i64,
}

/// Everything [`Engine::audit`] reads, each list in key order.
#[derive(Debug, Clone)]
pub struct Audit {
    /// Every application, in ID order.
    pub applications: Vec<ApplicationRecord>,
    /// The line index: (line, application).
    pub line_applications: Vec<(CustomerId, ApplicationId)>,
    /// Every recorded setting: (line, provider, setting).
    pub settings: Vec<(CustomerId, ProviderCode, SettingRecord)>,
    /// Pending markers: (line, provider, the application changing it).
    pub pending: Vec<(CustomerId, ProviderCode, ApplicationId)>,
    /// Idempotency keys: (line, key, the application it made).
    pub idempotency: Vec<(CustomerId, String, ApplicationId)>,
    /// The worker's queue: (due, application, step), in due order.
    pub work: Vec<(Timestamp, ApplicationId, WorkStep)>,
    /// Completion mails not yet delivered: (application, entry).
    pub outbox: Vec<(ApplicationId, OutboxRecord)>,
}
