//! The sled engine: kaisen's embedded store, one process on one disk. The
//! only module that imports sled.
//!
//! Reads answer from sled's page cache in microseconds, so they run on the
//! calling task. Writes run on tokio's blocking pool: each is one
//! (multi-tree) transaction whose body has no side effects (sled may run it
//! again), then waits for the group commit (`commit`), which makes it
//! durable before the operation returns.
//!
//! Folder layout: one sled database, one tree per kind of record (see the
//! fields of [`SledEngine`]); keys in `keys`.

mod applications;
mod audit;
mod commit;
mod disclosures;
mod events;
mod export;
mod import;
mod keys;
mod lines;
mod logins;
mod operators;
mod outbox;
mod prefixes;
mod provider_api;
mod sessions;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::domain::{ApplicationId, CustomerId, ProviderCode, Timestamp};

use super::export::{ExportRecord, ExportSink};
use super::operators::{ActionFilter, NewAction, OperatorAction, OperatorRecord, OperatorSession};
use super::rules::{AddressLimit, SessionLimits};
use super::{
    ApplicationRecord, Audit, ConsentRecord, Deliver, DeliverEvent, Delivery, DisclosurePage,
    DisclosureRecord, Engine, EventDelivery, EventRecord, ImportHead, ImportReport, LineImport,
    LineRecord, LineSettings, LoginFailures, NewApplication, NewSession, OutboxRecord,
    PrefixRecord, ProviderRecord, Queues, SessionRecord, StoreError, SubmitError, Submitted,
    WorkStep,
};

/// sled's page cache for `serve` (sled's default).
const CACHE: u64 = 1 << 30;
/// sled's page cache for `import`. sled's process grows to about twice its
/// cache; an import reads little back, and a smaller cache barely slows it.
const IMPORT_CACHE: u64 = 128 << 20;

/// The sled database. Cloning is cheap: every clone shares the same trees.
#[derive(Clone)]
pub struct SledEngine {
    /// `customer_id` → [`LineRecord`] (JSON).
    lines: ::sled::Tree,
    /// `provider_code` → [`ProviderRecord`] (JSON), in code order.
    providers: ::sled::Tree,
    /// `customer_id 0x00 provider_code` → [`super::SettingRecord`] (JSON). No
    /// entry means 「通知しない」.
    settings: ::sled::Tree,
    /// `application_id u64 BE` → [`ApplicationRecord`] (JSON).
    applications: ::sled::Tree,
    /// `customer_id 0x00 application_id u64 BE` → empty: a line's applications.
    line_applications: ::sled::Tree,
    /// `customer_id 0x00 provider_code` → `application_id u64 BE`: the
    /// change being worked for that provider (at most one).
    pending: ::sled::Tree,
    /// `customer_id 0x00 idempotency_key` → `application_id u64 BE`.
    idempotency: ::sled::Tree,
    /// `due i64 BE (sign-flipped) application_id u64 BE` → [`WorkStep`] byte:
    /// the worker's queue, in due order.
    work: ::sled::Tree,
    /// Small singletons: `consent` → [`ConsentRecord`], `notices` → JSON
    /// list of strings, `seq/YYYY-MM-DD` → u32 BE (that day's last
    /// sequence), `import/unfinished` → the file's name (JSON) while an
    /// import writes.
    meta: ::sled::Tree,
    /// `application_id u64 BE` → [`OutboxRecord`] (JSON): completion mails
    /// not yet delivered, written in the transaction that completes the work.
    outbox: ::sled::Tree,
    /// `customer_id` → [`LoginFailures`] (JSON): failed logins in a row, and
    /// a lock. Not exported: like sessions, it is short-lived security state.
    login_failures: ::sled::Tree,
    /// `session_id (32 hex chars)` → [`SessionRecord`] (JSON).
    sessions: ::sled::Tree,
    /// `network ++ length ++ from` → [`PrefixRecord`] (JSON): which line
    /// held which IPv6 prefix when (`prefixes.rs`).
    prefixes: ::sled::Tree,
    /// `customer_id 0x00 ++` a `prefixes` key → empty: a line's prefixes.
    line_prefixes: ::sled::Tree,
    /// `customer_id 0x00 at id` → [`DisclosureRecord`] (JSON): every time
    /// a line's customer ID was given (`disclosures.rs`).
    disclosures: ::sled::Tree,
    /// `customer_id 0x00 provider_code` → i64 BE: when it was last given.
    last_disclosures: ::sled::Tree,
    /// `provider_code 0x00 sequence u64 BE` → the event and its delivery
    /// (JSON): every event for a provider (`events.rs`).
    events: ::sled::Tree,
    /// `provider_code 0x00 customer_id 0x00 sequence u64 BE` → empty: the
    /// undelivered events, each line's in order.
    event_queue: ::sled::Tree,
    /// `client_id 0x00 jti` → expiry (i64 BE): accepted client assertions.
    /// Not exported: short-lived security state.
    assertion_ids: ::sled::Tree,
    /// `name` → [`OperatorRecord`] (JSON): the console's accounts.
    operators: ::sled::Tree,
    /// `session_id` → [`OperatorSession`] (JSON). Not exported.
    operator_sessions: ::sled::Tree,
    /// `id u64 BE` → [`OperatorAction`] (JSON): 「操作履歴」, append-only.
    operator_actions: ::sled::Tree,
    /// Held while an action is appended: it orders the log's IDs.
    action_log: Arc<Mutex<()>>,
    commit: commit::GroupCommit,
    /// The provider catalogue's version: one process owns the folder, so
    /// a counter in memory, moved on by whatever writes providers, is the
    /// whole truth.
    catalogue_version: Arc<AtomicU64>,
    /// Held by each submission's transaction (see `submit`): every
    /// submission writes its day's sequence, so two at once would conflict
    /// and sled would run one again. One process owns the folder, so a
    /// lock in memory serialises them all.
    submissions: Arc<Mutex<()>>,
    /// Failed logins per client address: recent failure times, newest
    /// last. In memory, as the folder has one process; a restart forgets
    /// them (the per-ID locks are in `login_failures` and stay).
    address_failures: Arc<Mutex<std::collections::HashMap<IpAddr, Vec<Timestamp>>>>,
    /// Held while mail is delivered: one delivery pass at a time is this
    /// folder's claim on its mails.
    delivering: Arc<tokio::sync::Mutex<()>>,
    /// Held while events are delivered: the claim on the events.
    delivering_events: Arc<tokio::sync::Mutex<()>>,
    path: PathBuf,
}

fn sled_error(e: ::sled::Error) -> StoreError {
    StoreError::Engine {
        engine: "sled",
        detail: e.to_string(),
    }
}

impl From<::sled::Error> for StoreError {
    fn from(e: ::sled::Error) -> Self {
        sled_error(e)
    }
}

impl SledEngine {
    /// Opens (or creates) the database in `path`, with every tree; for an
    /// import with a smaller cache.
    pub fn open(path: &Path, for_import: bool) -> Result<Self, StoreError> {
        let db = ::sled::Config::new()
            .path(path)
            .mode(::sled::Mode::HighThroughput)
            .cache_capacity(if for_import { IMPORT_CACHE } else { CACHE })
            .open()
            .map_err(|e| match e {
                // sled reports a held lock as `Other`, naming it in the message.
                ::sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                    StoreError::InUse(path.display().to_string())
                }
                other => sled_error(other),
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
            prefixes: tree("prefixes")?,
            line_prefixes: tree("line_prefixes")?,
            disclosures: tree("disclosures")?,
            last_disclosures: tree("last_disclosures")?,
            assertion_ids: tree("assertion_ids")?,
            events: tree("events")?,
            event_queue: tree("event_queue")?,
            login_failures: tree("login_failures")?,
            outbox: tree("outbox")?,
            operators: tree("operators")?,
            operator_sessions: tree("operator_sessions")?,
            operator_actions: tree("operator_actions")?,
            action_log: Arc::default(),
            commit: commit::GroupCommit::start(db, path.to_path_buf()),
            catalogue_version: Arc::default(),
            submissions: Arc::default(),
            address_failures: Arc::default(),
            delivering: Arc::default(),
            delivering_events: Arc::default(),
            path: path.to_path_buf(),
        })
    }

    /// Waits until everything written so far is on disk. One thread serves
    /// every waiting caller with one flush and one fsync.
    fn sync(&self) -> Result<(), StoreError> {
        self.commit.sync()
    }

    /// Runs a write (and its sync) on the blocking pool.
    async fn blocking<T, E>(
        &self,
        f: impl FnOnce(&Self) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let engine = self.clone();
        tokio::task::spawn_blocking(move || f(&engine))
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
    }

    /// Moves the catalogue's version on: providers were written.
    fn providers_changed(&self) {
        self.catalogue_version.fetch_add(1, Ordering::SeqCst);
    }
}

fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Encode {
        what,
        detail: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

fn corrupt(what: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.into(),
    }
}

#[async_trait]
impl Engine for SledEngine {
    fn name(&self) -> &'static str {
        "sled"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.meta.get("consent")?;
        Ok(())
    }

    async fn line(&self, id: &CustomerId) -> Result<Option<LineRecord>, StoreError> {
        self.line_record(id)
    }

    async fn has_no_lines(&self) -> Result<bool, StoreError> {
        Ok(self.lines.is_empty())
    }

    async fn line_settings(&self, id: &CustomerId) -> Result<LineSettings, StoreError> {
        self.settings_of(id)
    }

    async fn notices(&self) -> Result<Vec<String>, StoreError> {
        self.notices_record()
    }

    async fn consent(&self) -> Result<Option<ConsentRecord>, StoreError> {
        self.consent_record()
    }

    async fn provider(&self, code: &ProviderCode) -> Result<Option<ProviderRecord>, StoreError> {
        self.provider_record(code)
    }

    async fn catalogue_version(&self) -> Result<u64, StoreError> {
        Ok(self.catalogue_version.load(Ordering::SeqCst))
    }

    async fn providers(&self) -> Result<(u64, Vec<(ProviderCode, ProviderRecord)>), StoreError> {
        let version = self.catalogue_version.load(Ordering::SeqCst);
        Ok((version, self.all_providers()?))
    }

    async fn submit(&self, new: &NewApplication) -> Result<Submitted, SubmitError> {
        let new = new.clone();
        self.blocking(move |e| e.submit_sync(&new)).await
    }

    async fn application(
        &self,
        id: ApplicationId,
    ) -> Result<Option<ApplicationRecord>, StoreError> {
        self.application_record(id)
    }

    async fn line_applications(
        &self,
        id: &CustomerId,
    ) -> Result<Vec<ApplicationRecord>, StoreError> {
        self.applications_of(id)
    }

    async fn run_due_work(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(ApplicationRecord, WorkStep)>, StoreError> {
        self.blocking(move |e| e.run_due_work_sync(now)).await
    }

    async fn next_work_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.next_work()
    }

    async fn deliver_due_mail(
        &self,
        now: Timestamp,
        limit: usize,
        deliver: &Deliver,
    ) -> Result<usize, StoreError> {
        // One process owns the folder: one pass at a time claims its mails.
        let _claim = self.delivering.lock().await;
        let due = self.due_mail(now, limit)?;
        let tried = due.len();
        for (record, mail) in due {
            let id = record.id;
            match deliver(record, mail).await {
                Delivery::Sent(at) => self.blocking(move |e| e.mail_sent_sync(id, at)).await?,
                Delivery::Failed(retry) => {
                    self.blocking(move |e| e.mail_failed_sync(id, &retry))
                        .await?;
                }
            }
        }
        Ok(tried)
    }

    async fn next_mail_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.next_mail()
    }

    async fn outbox(&self) -> Result<Vec<(ApplicationId, OutboxRecord)>, StoreError> {
        self.outbox_entries()
    }

    async fn queues(&self, now: Timestamp) -> Result<Queues, StoreError> {
        // Counting a tree walks it: off the async workers.
        self.blocking(move |e| e.queues_at(now)).await
    }

    async fn login(
        &self,
        line: &CustomerId,
        session: &NewSession,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let (line, session) = (line.clone(), session.clone());
        self.blocking(move |e| e.login_sync(&line, &session)).await
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.session_record(id)
    }

    async fn touch_session(&self, id: &str, at: Timestamp) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.blocking(move |e| e.touch_session_sync(&id, at)).await
    }

    async fn end_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let id = id.to_owned();
        self.blocking(move |e| e.end_session_sync(&id)).await
    }

    async fn sweep_sessions(
        &self,
        now: Timestamp,
        limits: SessionLimits,
    ) -> Result<usize, StoreError> {
        self.blocking(move |e| e.sweep_sessions_sync(now, limits))
            .await
    }

    async fn login_failures(&self, id: &CustomerId) -> Result<Option<LoginFailures>, StoreError> {
        self.login_failures_of(id)
    }

    async fn record_login_failure(
        &self,
        id: &CustomerId,
        now: Timestamp,
        max: u32,
        lock_secs: i64,
    ) -> Result<LoginFailures, StoreError> {
        let id = id.clone();
        self.blocking(move |e| e.record_login_failure_sync(&id, now, max, lock_secs))
            .await
    }

    async fn sweep_login_failures(
        &self,
        now: Timestamp,
        older_than: i64,
    ) -> Result<usize, StoreError> {
        self.blocking(move |e| e.sweep_login_failures_sync(now, older_than))
            .await
    }

    async fn address_wait(
        &self,
        addr: IpAddr,
        now: Timestamp,
        limit: AddressLimit,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self.address_wait_at(addr, now, limit))
    }

    async fn record_address_failure(
        &self,
        addr: IpAddr,
        now: Timestamp,
        limit: AddressLimit,
    ) -> Result<(), StoreError> {
        self.record_address_failure_at(addr, now, limit);
        Ok(())
    }

    async fn unfinished_import(&self) -> Result<Option<String>, StoreError> {
        self.unfinished_import_name()
    }

    async fn begin_import(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.blocking(move |e| e.begin_import_sync(&name)).await
    }

    async fn import_head(&self, head: &ImportHead) -> Result<ImportReport, StoreError> {
        let head = head.clone();
        self.blocking(move |e| e.import_head_sync(&head)).await
    }

    async fn import_lines(&self, chunk: &[LineImport]) -> Result<ImportReport, StoreError> {
        // The marker makes a chunk's durability unnecessary until the end
        // (`finish_import` syncs): the chunk is written, not synced.
        let chunk = chunk.to_vec();
        self.blocking(move |e| e.import_lines_sync(&chunk)).await
    }

    async fn key_hashes(
        &self,
        ids: &[CustomerId],
    ) -> Result<Vec<(CustomerId, String)>, StoreError> {
        let mut found = Vec::new();
        for id in ids {
            if let Some(line) = self.line_record(id)? {
                found.push((id.clone(), line.access_key_hash));
            }
        }
        Ok(found)
    }

    async fn import_prefixes(&self, prefixes: &[PrefixRecord]) -> Result<ImportReport, StoreError> {
        let prefixes = prefixes.to_vec();
        self.blocking(move |e| e.import_prefixes_sync(&prefixes))
            .await
    }

    async fn finish_import(&self) -> Result<(), StoreError> {
        self.blocking(|e| e.finish_import_sync()).await
    }

    async fn prefixes(&self) -> Result<Vec<PrefixRecord>, StoreError> {
        self.blocking(|e| e.all_prefixes()).await
    }

    async fn prefix_at(
        &self,
        addr: std::net::Ipv6Addr,
        at: Timestamp,
    ) -> Result<Option<PrefixRecord>, StoreError> {
        self.prefix_holding(addr, at)
    }

    async fn line_prefixes(&self, id: &CustomerId) -> Result<Vec<PrefixRecord>, StoreError> {
        self.prefixes_of(id)
    }

    async fn first_use_of_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires: Timestamp,
    ) -> Result<bool, StoreError> {
        let (client_id, jti) = (client_id.to_owned(), jti.to_owned());
        self.blocking(move |e| e.first_use_sync(&client_id, &jti, expires))
            .await
    }

    async fn sweep_assertion_ids(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.blocking(move |e| e.sweep_assertion_ids_sync(now))
            .await
    }

    async fn token_key(&self) -> Result<[u8; 32], StoreError> {
        self.blocking(|e| e.token_key_sync()).await
    }

    async fn record_disclosure(&self, disclosure: &DisclosureRecord) -> Result<(), StoreError> {
        let disclosure = disclosure.clone();
        self.blocking(move |e| e.record_disclosure_sync(&disclosure))
            .await
    }

    async fn line_disclosures(
        &self,
        id: &CustomerId,
        skip: u64,
        limit: u64,
    ) -> Result<DisclosurePage, StoreError> {
        self.disclosures_of(id, skip, limit)
    }

    async fn provider_events(
        &self,
        provider: &ProviderCode,
        after: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        self.events_after(provider, after, limit)
    }

    async fn deliver_due_events(
        &self,
        now: Timestamp,
        limit: usize,
        deliver: &DeliverEvent,
    ) -> Result<usize, StoreError> {
        // One process owns the folder: one pass at a time claims its events.
        let _claim = self.delivering_events.lock().await;
        let due = self.blocking(move |e| e.due_events(now, limit)).await?;
        let tried = due.len();
        let outcomes = futures_util::future::join_all(due.into_iter().map(|event| {
            let attempt = deliver(event.record.clone(), event.delivery);
            async move { (event.record, attempt.await) }
        }))
        .await;
        if !outcomes.is_empty() {
            self.blocking(move |e| e.record_deliveries_sync(&outcomes))
                .await?;
        }
        Ok(tried)
    }

    async fn next_event_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.blocking(|e| e.next_event()).await
    }

    async fn undelivered_events(&self) -> Result<Vec<(EventRecord, EventDelivery)>, StoreError> {
        self.blocking(|e| e.undelivered()).await
    }

    async fn add_operator(&self, record: &OperatorRecord) -> Result<bool, StoreError> {
        let record = record.clone();
        self.blocking(move |e| e.add_operator_sync(&record)).await
    }

    async fn operator(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError> {
        self.operator_record(name)
    }

    async fn operators(&self) -> Result<Vec<OperatorRecord>, StoreError> {
        self.operator_records()
    }

    async fn update_operator(
        &self,
        record: &OperatorRecord,
    ) -> Result<Option<OperatorRecord>, StoreError> {
        let record = record.clone();
        self.blocking(move |e| e.update_operator_sync(&record))
            .await
    }

    async fn put_operator_session(
        &self,
        id: &str,
        session: &OperatorSession,
    ) -> Result<(), StoreError> {
        let (id, session) = (id.to_owned(), session.clone());
        self.blocking(move |e| e.put_operator_session_sync(&id, &session))
            .await
    }

    async fn operator_session(&self, id: &str) -> Result<Option<OperatorSession>, StoreError> {
        self.operator_session_record(id)
    }

    async fn end_operator_session(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.blocking(move |e| e.end_operator_session_sync(&id))
            .await
    }

    async fn sweep_operator_sessions(
        &self,
        now: Timestamp,
        idle_secs: i64,
        total_secs: i64,
    ) -> Result<usize, StoreError> {
        self.blocking(move |e| e.sweep_operator_sessions_sync(now, idle_secs, total_secs))
            .await
    }

    async fn record_action(&self, action: &NewAction) -> Result<OperatorAction, StoreError> {
        let action = action.clone();
        self.blocking(move |e| e.record_action_sync(&action)).await
    }

    async fn actions(&self, filter: &ActionFilter) -> Result<Vec<OperatorAction>, StoreError> {
        self.actions_matching(filter)
    }

    async fn unlock_line(&self, id: &CustomerId) -> Result<bool, StoreError> {
        let id = id.clone();
        self.blocking(move |e| e.unlock_line_sync(&id)).await
    }

    async fn retry_mail_now(&self, id: ApplicationId, now: Timestamp) -> Result<bool, StoreError> {
        self.blocking(move |e| e.retry_mail_now_sync(id, now)).await
    }

    async fn retry_event_now(
        &self,
        provider: &ProviderCode,
        sequence: u64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let provider = provider.clone();
        self.blocking(move |e| e.retry_event_now_sync(&provider, sequence, now))
            .await
    }

    async fn export_records(&self, sink: &mut ExportSink<'_>) -> Result<(), StoreError> {
        self.export_all(sink)
    }

    async fn holds_data(&self) -> Result<Option<&'static str>, StoreError> {
        Ok(self.first_non_empty_tree())
    }

    async fn restore_records(&self, records: Vec<ExportRecord>) -> Result<(), StoreError> {
        self.blocking(move |e| e.restore_sync(records)).await
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.blocking(|e| e.clear_sync()).await
    }

    async fn audit(&self) -> Result<Audit, StoreError> {
        self.blocking(|e| e.audit_all()).await
    }
}

impl std::fmt::Debug for SledEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledEngine")
            .field("path", &self.path)
            .finish()
    }
}
