//! The storage interface: the domain operations every engine provides.
//!
//! The contract, for every engine:
//!
//! - Every write is durable when it returns (synced to disk, or committed
//!   with `synchronous_commit = on`): no caller syncs anything.
//! - Each operation is atomic: it happens whole or not at all.
//! - The rules of SPEC §4 are decided by `store::rules`, with the facts
//!   the engine read inside the same transaction in which it writes.
//! - With several processes on one database (PostgreSQL), each promise
//!   holds across them: one application per idempotency key, one change
//!   at a time per provider, each step of work and each mail claimed by one
//!   process at a time, lockouts and address limits counted across all.
//!
//! The conformance suite (`server/tests/store`) holds both engines to it.

use std::net::IpAddr;

use async_trait::async_trait;
use shared::domain::{ApplicationId, CustomerId, ProviderCode, Timestamp};

use super::export::{ExportRecord, ExportSink};
use super::operators::{ActionFilter, NewAction, OperatorAction, OperatorRecord, OperatorSession};
use super::rules::{AddressLimit, SessionLimits};
use super::{
    ApplicationRecord, Audit, ConsentRecord, DisclosurePage, DisclosureRecord, EventDelivery,
    EventRecord, ImportHead, ImportReport, LineImport, LineRecord, LineSettings, LoginFailures,
    OutboxRecord, PrefixRecord, ProviderRecord, Queues, SessionRecord, StoreError, SubmitError,
};

/// An application to store, already validated.
#[derive(Debug, Clone)]
pub struct NewApplication {
    /// The line applying.
    pub customer_id: CustomerId,
    /// The client's idempotency key.
    pub idempotency_key: String,
    /// The hash of the consent text the subscriber agreed to.
    pub consent_hash: String,
    /// The setting to apply.
    pub setting: shared::domain::Setting,
    /// The providers to change, without duplicates.
    pub providers: Vec<ProviderCode>,
    /// The applicant.
    pub applicant: shared::domain::Applicant,
    /// Now.
    pub received_at: Timestamp,
    /// How long the work takes.
    pub work_delay_secs: i64,
}

/// A stored application, new or found again by its idempotency key.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The application.
    pub record: ApplicationRecord,
    /// True when the key had been used: nothing new was stored.
    pub replayed: bool,
}

/// A step of the work on an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorkStep {
    /// 受付済 → 工事中.
    Start = 0,
    /// 工事中 → 完了: the changes take effect.
    Complete = 1,
}

/// A successful login: its new session, and the session the browser held
/// until then, which it replaces.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The new session's ID.
    pub id: String,
    /// The new session.
    pub record: SessionRecord,
    /// The ID of the session the browser held, if any.
    pub replacing: Option<String>,
}

/// How one delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered at this time.
    Sent(Timestamp),
    /// Not delivered: the outbox entry after this attempt.
    Failed(OutboxRecord),
}

/// Delivers one application's mail (its outbox entry as it was).
pub type Deliver = dyn Fn(ApplicationRecord, OutboxRecord) -> futures_util::future::BoxFuture<'static, Delivery>
    + Send
    + Sync;

/// Delivers one event (its delivery as it stood) and answers how it
/// stands after this attempt: delivered, or failed and due again later.
pub type DeliverEvent = dyn Fn(EventRecord, EventDelivery) -> futures_util::future::BoxFuture<'static, EventDelivery>
    + Send
    + Sync;

/// The storage interface (see the module documentation for its contract).
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// `sled` or `postgres`.
    fn name(&self) -> &'static str;

    /// Answers when the database can be read and written: `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;

    // Lines, providers, the consent document and notices.

    /// A line, if loaded.
    async fn line(&self, id: &CustomerId) -> Result<Option<LineRecord>, StoreError>;
    /// Whether no line has been loaded yet.
    async fn has_no_lines(&self) -> Result<bool, StoreError>;
    /// A line's settings and pending changes, read together.
    async fn line_settings(&self, id: &CustomerId) -> Result<LineSettings, StoreError>;
    /// The operator's notices.
    async fn notices(&self) -> Result<Vec<String>, StoreError>;
    /// The consent document in force, if one was loaded.
    async fn consent(&self) -> Result<Option<ConsentRecord>, StoreError>;
    /// A provider, if loaded.
    async fn provider(&self, code: &ProviderCode) -> Result<Option<ProviderRecord>, StoreError>;
    /// The version of the provider catalogue: it changes whenever an import
    /// or a restore writes providers, in any process.
    async fn catalogue_version(&self) -> Result<u64, StoreError>;
    /// Every provider in code order, with the catalogue's version.
    async fn providers(&self) -> Result<(u64, Vec<(ProviderCode, ProviderRecord)>), StoreError>;

    // Applications and their work.

    /// Stores an application with its pending changes and its work, or,
    /// when its idempotency key was used by this line, returns the
    /// application the key made (a replay: nothing is written).
    async fn submit(&self, new: &NewApplication) -> Result<Submitted, SubmitError>;
    /// An application by its ID.
    async fn application(&self, id: ApplicationId)
    -> Result<Option<ApplicationRecord>, StoreError>;
    /// A line's applications, newest first.
    async fn line_applications(
        &self,
        id: &CustomerId,
    ) -> Result<Vec<ApplicationRecord>, StoreError>;
    /// Claims and runs every step of work due at `now`, each once (two
    /// processes never run the same step), and returns the applications
    /// moved on with the step each took.
    async fn run_due_work(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(ApplicationRecord, WorkStep)>, StoreError>;
    /// When the next step of work is due, if any is queued.
    async fn next_work_due(&self) -> Result<Option<Timestamp>, StoreError>;

    // The outbox of completion mails.

    /// Delivers at most `limit` of the mails due at `now`, one at a time, each through
    /// `deliver`, and records how it went: a sent mail leaves the outbox
    /// and is recorded on its application, a failed one waits for its
    /// retry (never a mail recorded as sent). A mail being delivered is
    /// claimed: no other process delivers it meanwhile, and a process that
    /// dies while delivering loses its claim. Returns how many were tried.
    async fn deliver_due_mail(
        &self,
        now: Timestamp,
        limit: usize,
        deliver: &Deliver,
    ) -> Result<usize, StoreError>;
    /// When the next mail is due, if any waits.
    async fn next_mail_due(&self) -> Result<Option<Timestamp>, StoreError>;
    /// Every mail waiting, due or not, in application ID order.
    async fn outbox(&self) -> Result<Vec<(ApplicationId, OutboxRecord)>, StoreError>;
    /// How much work and mail wait at `now`, and how old the oldest is.
    async fn queues(&self, now: Timestamp) -> Result<Queues, StoreError>;

    // Sessions.

    /// A login succeeded: forgets the line's failed logins, ends the
    /// session it replaces and starts the new one. Returns the replaced
    /// session, if there was one.
    async fn login(
        &self,
        line: &CustomerId,
        session: &NewSession,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// A session by its ID.
    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Records a session's request at `at`.
    async fn touch_session(&self, id: &str, at: Timestamp) -> Result<(), StoreError>;
    /// Ends a session and returns it, if there was one.
    async fn end_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Removes every session run out at `now`; returns how many.
    async fn sweep_sessions(
        &self,
        now: Timestamp,
        limits: SessionLimits,
    ) -> Result<usize, StoreError>;

    // Failed logins.

    /// The failed logins in a row of a customer ID, if any.
    async fn login_failures(&self, id: &CustomerId) -> Result<Option<LoginFailures>, StoreError>;
    /// Counts a failed login of `id` (`rules::after_login_failure`) and
    /// returns the counter after it.
    async fn record_login_failure(
        &self,
        id: &CustomerId,
        now: Timestamp,
        max: u32,
        lock_secs: i64,
    ) -> Result<LoginFailures, StoreError>;
    /// Removes counters that can no longer matter
    /// (`rules::login_failures_stale`); returns how many.
    async fn sweep_login_failures(
        &self,
        now: Timestamp,
        older_than: i64,
    ) -> Result<usize, StoreError>;
    /// How many seconds `addr` must wait before its next login at `now`
    /// (`rules::address_wait`), if it must.
    async fn address_wait(
        &self,
        addr: IpAddr,
        now: Timestamp,
        limit: AddressLimit,
    ) -> Result<Option<u64>, StoreError>;
    /// Counts a failed login from `addr`.
    async fn record_address_failure(
        &self,
        addr: IpAddr,
        now: Timestamp,
        limit: AddressLimit,
    ) -> Result<(), StoreError>;

    // Import (SPEC §5).

    /// The name of the file whose import began but did not finish, if any.
    async fn unfinished_import(&self) -> Result<Option<String>, StoreError>;
    /// Marks the database as being imported into from `name`.
    async fn begin_import(&self, name: &str) -> Result<(), StoreError>;
    /// Writes the providers, notices and consent in one transaction; says
    /// what changed.
    async fn import_head(&self, head: &ImportHead) -> Result<ImportReport, StoreError>;
    /// Writes a chunk of lines and their settings, only what differs from
    /// the stored records; says what changed.
    async fn import_lines(&self, chunk: &[LineImport]) -> Result<ImportReport, StoreError>;
    /// The stored key hashes of the lines of `ids` that exist.
    async fn key_hashes(&self, ids: &[CustomerId])
    -> Result<Vec<(CustomerId, String)>, StoreError>;
    /// Writes prefix assignments checked by an import (after its lines),
    /// each replacing the one with its prefix and start, only what
    /// differs; says what changed.
    async fn import_prefixes(&self, prefixes: &[PrefixRecord]) -> Result<ImportReport, StoreError>;
    /// Clears the mark of [`Engine::begin_import`].
    async fn finish_import(&self) -> Result<(), StoreError>;

    // IPv6 prefixes (SPEC §5, §8).

    /// Every prefix assignment, by prefix (network, then length) then start.
    async fn prefixes(&self) -> Result<Vec<PrefixRecord>, StoreError>;
    /// The assignment whose prefix held `addr` at `at`, if any (at most
    /// one: the import refuses overlaps).
    async fn prefix_at(
        &self,
        addr: std::net::Ipv6Addr,
        at: Timestamp,
    ) -> Result<Option<PrefixRecord>, StoreError>;
    /// The assignment whose prefix held `addr` at `at`, if its line is set
    /// to 「通知する」 for `provider` now: a lookup's question, asked in one
    /// read where the engine can.
    async fn notifying_prefix_at(
        &self,
        addr: std::net::Ipv6Addr,
        at: Timestamp,
        provider: &ProviderCode,
    ) -> Result<Option<PrefixRecord>, StoreError> {
        let Some(prefix) = self.prefix_at(addr, at).await? else {
            return Ok(None);
        };
        let line = self.line_settings(&prefix.customer_id).await?;
        let notify = line
            .settings
            .iter()
            .any(|(code, s)| code == provider && s.setting == shared::domain::Setting::Notify);
        Ok(notify.then_some(prefix))
    }
    /// A line's prefix assignments, by prefix then start.
    async fn line_prefixes(&self, id: &CustomerId) -> Result<Vec<PrefixRecord>, StoreError>;

    // The provider API (SPEC §8).

    /// Records the `jti` of a client's assertion until `expires`, durably;
    /// false when it was recorded before (a replay), by any process.
    async fn first_use_of_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Removes the assertion IDs expired at `now`; returns how many.
    async fn sweep_assertion_ids(&self, now: Timestamp) -> Result<usize, StoreError>;
    /// The key access tokens are signed with: made at the first call and
    /// the same for every process on the database from then on.
    async fn token_key(&self) -> Result<[u8; 32], StoreError>;

    // Disclosures (SPEC §8).

    /// Records that a line's customer ID was given to a provider, durably,
    /// and moves that provider's 最終通知日時 for the line on.
    async fn record_disclosure(&self, disclosure: &DisclosureRecord) -> Result<(), StoreError>;
    /// `limit` of a line's disclosures after the newest `skip`, newest
    /// first (by time, then ID), and how many it has.
    async fn line_disclosures(
        &self,
        id: &CustomerId,
        skip: u64,
        limit: u64,
    ) -> Result<DisclosurePage, StoreError>;

    // Events (SPEC §8): written by `run_due_work` with the completions.

    /// Up to `limit` of a provider's events after the sequence `after`, in
    /// sequence order (the pull; a cursor never skips an event committed
    /// later, as sequences are drawn in commit order).
    async fn provider_events(
        &self,
        provider: &ProviderCode,
        after: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError>;
    /// Delivers at most `limit` of the events due at `now` through
    /// `deliver`, at once, and records how each went. Each line's events
    /// for a provider go in order: an event waits while an earlier one of
    /// its line and provider is undelivered. An event being delivered is
    /// claimed: no other process delivers it meanwhile, and a process that
    /// dies while delivering loses its claim. Returns how many were tried.
    async fn deliver_due_events(
        &self,
        now: Timestamp,
        limit: usize,
        deliver: &DeliverEvent,
    ) -> Result<usize, StoreError>;
    /// When the next event may be delivered, if any waits (the earliest of
    /// the events first in line).
    async fn next_event_due(&self) -> Result<Option<Timestamp>, StoreError>;
    /// Every event not yet delivered, by provider then sequence.
    async fn undelivered_events(&self) -> Result<Vec<(EventRecord, EventDelivery)>, StoreError>;

    // The operator console (SPEC §5, `store::operators`).

    /// Stores a new operator account; false when the name is taken.
    async fn add_operator(&self, record: &OperatorRecord) -> Result<bool, StoreError>;
    /// An operator account by name.
    async fn operator(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError>;
    /// Every operator account, by name.
    async fn operators(&self) -> Result<Vec<OperatorRecord>, StoreError>;
    /// Replaces an operator account if it is still at `record.revision`
    /// (by any process), moving the revision on; returns the record as
    /// stored, or `None` when it changed meanwhile (read it again).
    async fn update_operator(
        &self,
        record: &OperatorRecord,
    ) -> Result<Option<OperatorRecord>, StoreError>;
    /// Stores an operator session, new or changed.
    async fn put_operator_session(
        &self,
        id: &str,
        session: &OperatorSession,
    ) -> Result<(), StoreError>;
    /// An operator session by its ID.
    async fn operator_session(&self, id: &str) -> Result<Option<OperatorSession>, StoreError>;
    /// Ends an operator session.
    async fn end_operator_session(&self, id: &str) -> Result<(), StoreError>;
    /// Removes the operator sessions run out at `now`; returns how many.
    async fn sweep_operator_sessions(
        &self,
        now: Timestamp,
        idle_secs: i64,
        total_secs: i64,
    ) -> Result<usize, StoreError>;
    /// Appends an action to the operator log, durably, and returns it
    /// with its ID. The log is never changed.
    async fn record_action(&self, action: &NewAction) -> Result<OperatorAction, StoreError>;
    /// The logged actions `filter` selects, newest first.
    async fn actions(&self, filter: &ActionFilter) -> Result<Vec<OperatorAction>, StoreError>;
    /// Forgets a customer ID's failed logins and its lock; false when it
    /// had none.
    async fn unlock_line(&self, id: &CustomerId) -> Result<bool, StoreError>;
    /// Makes an application's waiting mail due at `now`; false when none
    /// waits.
    async fn retry_mail_now(&self, id: ApplicationId, now: Timestamp) -> Result<bool, StoreError>;
    /// Makes an undelivered event due at `now`; false when there is no
    /// such event waiting.
    async fn retry_event_now(
        &self,
        provider: &ProviderCode,
        sequence: u64,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    // Export and restore (`store::export`).

    /// Writes every durable record, in the export's order, to `sink`.
    async fn export_records(&self, sink: &mut ExportSink<'_>) -> Result<(), StoreError>;
    /// The first kind of record the database holds, if it holds any.
    async fn holds_data(&self) -> Result<Option<&'static str>, StoreError>;
    /// Writes records checked by the restore, in export order, into an
    /// empty database, with what they imply (pending changes, queued work,
    /// idempotency keys).
    async fn restore_records(&self, records: Vec<ExportRecord>) -> Result<(), StoreError>;
    /// Removes everything a failed restore wrote.
    async fn clear(&self) -> Result<(), StoreError>;

    // Checks.

    /// Every application, setting, pending marker, idempotency key, queued
    /// step and outbox entry as stored: for checks of the whole database
    /// (the crash test).
    async fn audit(&self) -> Result<Audit, StoreError>;
}
