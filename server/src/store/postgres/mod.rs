//! The PostgreSQL engine: any number of kaisen processes on one database.
//! The only module that imports tokio-postgres.
//!
//! The database, not a process, resolves every race: a unique constraint
//! makes an idempotency key one application, the primary key of `pending`
//! keeps one change at a time per line and provider, work and mail are
//! claimed with `FOR UPDATE SKIP LOCKED` (a process that dies loses its
//! claim with its connection, or when its lease runs out), and sessions and
//! failed-login counters are rows that every process reads. Every write is
//! a transaction committed before the operation returns; with
//! `synchronous_commit = on` (the default) that is durable.
//!
//! The statements run at every request or submission (the session, S2's
//! settings, a submission's) are prepared once per connection (deadpool's
//! statement cache), and those that need no answer before the next are
//! pipelined: each read or submission costs as few round trips, and as
//! little planning, as it can.
//!
//! The schema is in `migrations/`, applied in order under an advisory lock
//! (`migrate`).

mod applications;
mod disclosures;
mod events;
mod export;
mod import;
mod lines;
mod logins;
mod migrate;
mod operators;
mod outbox;
mod prefixes;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::domain::{ApplicationId, CustomerId, ProviderCode, Timestamp};
use tokio_postgres::error::SqlState;

use super::export::{ExportRecord, ExportSink};
use super::operators::{ActionFilter, NewAction, OperatorAction, OperatorRecord, OperatorSession};
use super::rules::{AddressLimit, SessionLimits};
use super::{
    ApplicationRecord, Audit, ConsentRecord, Deliver, DeliverEvent, DisclosurePage,
    DisclosureRecord, Engine, EventDelivery, EventRecord, ImportHead, ImportReport, LineImport,
    LineRecord, LineSettings, LoginFailures, NewApplication, NewSession, OutboxRecord,
    PrefixRecord, ProviderRecord, Queues, SessionRecord, StoreError, SubmitError, Submitted,
    WorkStep,
};

/// Connections per process.
const POOL_SIZE: usize = 32;
/// How long a request waits for a connection (or for one to be made)
/// before the database counts as unavailable.
const POOL_WAIT: Duration = Duration::from_secs(5);

/// The PostgreSQL database. Cloning is cheap.
#[derive(Clone)]
pub struct PgEngine {
    pool: Pool,
    /// Two connections for drawing blocks of application sequence numbers
    /// (see `applications`).
    sequence_pool: Pool,
    /// Application sequence numbers drawn for this process and not yet
    /// used, per day: see `applications::Sequences`.
    sequences: Arc<applications::Sequences>,
}

impl std::fmt::Debug for PgEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgEngine").finish_non_exhaustive()
    }
}

/// A failure of tokio-postgres: unavailable when the connection is gone or
/// the server is starting, shutting down or read-only (a standby being
/// promoted), an engine error otherwise.
fn pg_error(e: tokio_postgres::Error) -> StoreError {
    let unavailable = e.is_closed()
        || e.as_db_error().is_none()
        || e.code().is_some_and(|code| {
            [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::READ_ONLY_SQL_TRANSACTION,
                SqlState::CONNECTION_FAILURE,
                SqlState::CONNECTION_EXCEPTION,
            ]
            .contains(code)
        });
    if unavailable {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Engine {
            engine: "postgres",
            detail: match e.as_db_error() {
                Some(db) => format!("{}: {}", db.code().code(), db.message()),
                None => e.to_string(),
            },
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        pg_error(e)
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => pg_error(e),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// Whether `e` is a conflict that running the transaction again resolves:
/// a unique key taken meanwhile, a serialisation failure, a deadlock.
fn retryable(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|code| {
        [
            SqlState::UNIQUE_VIOLATION,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
        ]
        .contains(code)
    })
}

impl PgEngine {
    /// Connects to `url` and applies the schema's migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let engine = Self::connect(url)?;
        engine.migrate().await?;
        Ok(engine)
    }

    /// A pool for `url`; no connection is made yet.
    fn connect(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| StoreError::Engine {
            engine: "postgres",
            detail: format!("the database URL is not valid: {e}"),
        })?;
        let pool = |manager, size| {
            Pool::builder(manager)
                .max_size(size)
                .wait_timeout(Some(POOL_WAIT))
                .create_timeout(Some(POOL_WAIT))
                .recycle_timeout(Some(POOL_WAIT))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .map_err(|e| StoreError::Engine {
                    engine: "postgres",
                    detail: e.to_string(),
                })
        };
        let manager_of = |config: tokio_postgres::Config| {
            Manager::from_config(
                config,
                tokio_postgres::NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            )
        };
        Ok(Self {
            pool: pool(manager_of(config.clone()), POOL_SIZE)?,
            sequence_pool: pool(manager_of(config), 2)?,
            sequences: Arc::default(),
        })
    }

    /// A connection from the pool.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }
}

/// Applies the migrations of the database at `url`: how many now, and the
/// schema's version.
pub async fn migrate(url: &str) -> Result<(usize, i32), StoreError> {
    let engine = PgEngine::connect(url)?;
    Ok((engine.migrate().await?, migrate::latest()))
}

/// A record as JSON for a `jsonb` column.
fn json<T: Serialize>(what: &'static str, value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Encode {
        what,
        detail: e.to_string(),
    })
}

/// A record from a `jsonb` column.
fn from_json<T: DeserializeOwned>(
    what: &'static str,
    value: serde_json::Value,
) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

/// A value whose serde form is a string (an enum, a code), as text.
fn text<T: Serialize>(what: &'static str, value: &T) -> Result<String, StoreError> {
    match json(what, value)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(StoreError::Encode {
            what,
            detail: format!("{other} is not a string"),
        }),
    }
}

/// A value whose serde form is a string, from text.
fn from_text<T: DeserializeOwned>(what: &'static str, value: String) -> Result<T, StoreError> {
    from_json(what, serde_json::Value::String(value))
}

fn corrupt(what: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.into(),
    }
}

/// An application ID from its column.
fn application_id(what: &'static str, n: i64) -> Result<ApplicationId, StoreError> {
    u64::try_from(n)
        .ok()
        .and_then(|n| ApplicationId::from_u64(n).ok())
        .ok_or_else(|| corrupt(what, format!("bad application id {n}")))
}

/// An application ID for its column.
fn id_column(id: ApplicationId) -> i64 {
    i64::try_from(id.to_u64()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Engine for PgEngine {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        // A promoted standby, or a primary turned read-only, is not ready.
        let row = client.query_one("SHOW transaction_read_only", &[]).await?;
        if row.get::<_, String>(0) == "on" {
            return Err(StoreError::Unavailable("the database is read-only".into()));
        }
        Ok(())
    }

    async fn line(&self, id: &CustomerId) -> Result<Option<LineRecord>, StoreError> {
        self.line_record(id).await
    }

    async fn has_no_lines(&self) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT NOT EXISTS (SELECT 1 FROM lines)", &[])
            .await?;
        Ok(row.get(0))
    }

    async fn line_settings(&self, id: &CustomerId) -> Result<LineSettings, StoreError> {
        self.settings_of(id).await
    }

    async fn notices(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.meta("notices").await?.unwrap_or_default())
    }

    async fn consent(&self) -> Result<Option<ConsentRecord>, StoreError> {
        self.meta("consent").await
    }

    async fn provider(&self, code: &ProviderCode) -> Result<Option<ProviderRecord>, StoreError> {
        self.provider_record(code).await
    }

    async fn catalogue_version(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT version FROM catalogue", &[])
            .await?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    async fn providers(&self) -> Result<(u64, Vec<(ProviderCode, ProviderRecord)>), StoreError> {
        self.all_providers().await
    }

    async fn submit(&self, new: &NewApplication) -> Result<Submitted, SubmitError> {
        self.submit_application(new).await
    }

    async fn application(
        &self,
        id: ApplicationId,
    ) -> Result<Option<ApplicationRecord>, StoreError> {
        self.application_record(id).await
    }

    async fn line_applications(
        &self,
        id: &CustomerId,
    ) -> Result<Vec<ApplicationRecord>, StoreError> {
        self.applications_of(id).await
    }

    async fn run_due_work(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(ApplicationRecord, WorkStep)>, StoreError> {
        self.run_work(now).await
    }

    async fn next_work_due(&self) -> Result<Option<Timestamp>, StoreError> {
        // After every pass of the worker, which every submission wakes.
        let client = self.client().await?;
        let statement = client.prepare_cached("SELECT min(due) FROM work").await?;
        let row = client.query_one(&statement, &[]).await?;
        Ok(row.get::<_, Option<i64>>(0).map(Timestamp::from_unix))
    }

    async fn deliver_due_mail(
        &self,
        now: Timestamp,
        limit: usize,
        deliver: &Deliver,
    ) -> Result<usize, StoreError> {
        self.deliver(now, limit, deliver).await
    }

    async fn next_mail_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT min(next_attempt_at) FROM outbox", &[])
            .await?;
        Ok(row.get::<_, Option<i64>>(0).map(Timestamp::from_unix))
    }

    async fn outbox(&self) -> Result<Vec<(ApplicationId, OutboxRecord)>, StoreError> {
        self.outbox_entries().await
    }

    async fn queues(&self, now: Timestamp) -> Result<Queues, StoreError> {
        self.queues_at(now).await
    }

    async fn login(
        &self,
        line: &CustomerId,
        session: &NewSession,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.start_session(line, session).await
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.session_record(id).await
    }

    async fn touch_session(&self, id: &str, at: Timestamp) -> Result<(), StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("UPDATE sessions SET last_seen = $2 WHERE id = $1")
            .await?;
        client.execute(&statement, &[&id, &at.unix()]).await?;
        Ok(())
    }

    async fn end_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.delete_session(id).await
    }

    async fn sweep_sessions(
        &self,
        now: Timestamp,
        limits: SessionLimits,
    ) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let removed = client
            .execute(
                "DELETE FROM sessions WHERE $1 - last_seen > $2 OR $1 - created_at > $3",
                &[&now.unix(), &limits.idle_secs, &limits.total_secs],
            )
            .await?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }

    async fn login_failures(&self, id: &CustomerId) -> Result<Option<LoginFailures>, StoreError> {
        self.failures_of(id).await
    }

    async fn record_login_failure(
        &self,
        id: &CustomerId,
        now: Timestamp,
        max: u32,
        lock_secs: i64,
    ) -> Result<LoginFailures, StoreError> {
        self.count_failure(id, now, max, lock_secs).await
    }

    async fn sweep_login_failures(
        &self,
        now: Timestamp,
        older_than: i64,
    ) -> Result<usize, StoreError> {
        self.sweep_failures(now, older_than).await
    }

    async fn address_wait(
        &self,
        addr: IpAddr,
        now: Timestamp,
        limit: AddressLimit,
    ) -> Result<Option<u64>, StoreError> {
        self.address_wait_at(addr, now, limit).await
    }

    async fn record_address_failure(
        &self,
        addr: IpAddr,
        now: Timestamp,
        _limit: AddressLimit,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO address_failures (addr, at) VALUES ($1, $2)",
                &[&addr, &now.unix()],
            )
            .await?;
        Ok(())
    }

    async fn unfinished_import(&self) -> Result<Option<String>, StoreError> {
        self.meta("import_unfinished").await
    }

    async fn begin_import(&self, name: &str) -> Result<(), StoreError> {
        self.put_meta("import_unfinished", &name).await
    }

    async fn import_head(&self, head: &ImportHead) -> Result<ImportReport, StoreError> {
        self.write_head(head).await
    }

    async fn import_lines(&self, chunk: &[LineImport]) -> Result<ImportReport, StoreError> {
        self.write_lines(chunk).await
    }

    async fn key_hashes(
        &self,
        ids: &[CustomerId],
    ) -> Result<Vec<(CustomerId, String)>, StoreError> {
        self.hashes_of(ids).await
    }

    async fn import_prefixes(&self, prefixes: &[PrefixRecord]) -> Result<ImportReport, StoreError> {
        self.import_prefix_chunk(prefixes).await
    }

    async fn prefixes(&self) -> Result<Vec<PrefixRecord>, StoreError> {
        self.all_prefixes().await
    }

    async fn prefix_at(
        &self,
        addr: std::net::Ipv6Addr,
        at: Timestamp,
    ) -> Result<Option<PrefixRecord>, StoreError> {
        self.prefix_holding(addr, at).await
    }

    async fn notifying_prefix_at(
        &self,
        addr: std::net::Ipv6Addr,
        at: Timestamp,
        provider: &ProviderCode,
    ) -> Result<Option<PrefixRecord>, StoreError> {
        self.notifying_prefix(addr, at, provider).await
    }

    async fn line_prefixes(&self, id: &CustomerId) -> Result<Vec<PrefixRecord>, StoreError> {
        self.prefixes_of(id).await
    }

    async fn first_use_of_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires: Timestamp,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let inserted = client
            .execute(
                "INSERT INTO assertion_ids (client_id, jti, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&client_id, &jti, &expires.unix()],
            )
            .await?;
        Ok(inserted == 1)
    }

    async fn sweep_assertion_ids(&self, now: Timestamp) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let swept = client
            .execute(
                "DELETE FROM assertion_ids WHERE expires_at <= $1",
                &[&now.unix()],
            )
            .await?;
        Ok(usize::try_from(swept).unwrap_or(usize::MAX))
    }

    async fn token_key(&self) -> Result<[u8; 32], StoreError> {
        // Made by whichever process asks first; every other reads it. A
        // statement racing the first insert sees neither its own insert
        // nor (in its snapshot) the other's row: the next one sees it.
        let made = hex::encode(rand::random::<[u8; 32]>());
        let client = self.client().await?;
        for _ in 0..3 {
            let row = client
                .query_opt(
                    "WITH made AS (INSERT INTO meta (key, value) \
                     VALUES ('token_key', to_jsonb($1::text)) \
                     ON CONFLICT (key) DO NOTHING RETURNING value) \
                     SELECT value FROM made UNION ALL \
                     SELECT value FROM meta WHERE key = 'token_key' LIMIT 1",
                    &[&made],
                )
                .await?;
            if let Some(row) = row {
                let value: serde_json::Value = row.get(0);
                return value
                    .as_str()
                    .and_then(|text| hex::decode(text).ok())
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .ok_or_else(|| corrupt("meta", "the token key is not 32 bytes in hex"));
            }
        }
        Err(corrupt(
            "meta",
            "the token key can be neither made nor read",
        ))
    }

    async fn record_disclosure(&self, disclosure: &DisclosureRecord) -> Result<(), StoreError> {
        self.record_disclosure_now(disclosure).await
    }

    async fn line_disclosures(
        &self,
        id: &CustomerId,
        skip: u64,
        limit: u64,
    ) -> Result<DisclosurePage, StoreError> {
        self.disclosures_of(id, skip, limit).await
    }

    async fn provider_events(
        &self,
        provider: &ProviderCode,
        after: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        self.events_after(provider, after, limit).await
    }

    async fn deliver_due_events(
        &self,
        now: Timestamp,
        limit: usize,
        deliver: &DeliverEvent,
    ) -> Result<usize, StoreError> {
        self.deliver_events(now, limit, deliver).await
    }

    async fn next_event_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.next_event().await
    }

    async fn undelivered_events(&self) -> Result<Vec<(EventRecord, EventDelivery)>, StoreError> {
        self.undelivered().await
    }

    async fn finish_import(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM meta WHERE key = 'import_unfinished'", &[])
            .await?;
        Ok(())
    }

    async fn add_operator(&self, record: &OperatorRecord) -> Result<bool, StoreError> {
        self.insert_operator(record).await
    }

    async fn operator(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError> {
        self.operator_record(name).await
    }

    async fn operators(&self) -> Result<Vec<OperatorRecord>, StoreError> {
        self.operator_records().await
    }

    async fn update_operator(
        &self,
        record: &OperatorRecord,
    ) -> Result<Option<OperatorRecord>, StoreError> {
        self.replace_operator(record).await
    }

    async fn put_operator_session(
        &self,
        id: &str,
        session: &OperatorSession,
    ) -> Result<(), StoreError> {
        self.upsert_operator_session(id, session).await
    }

    async fn operator_session(&self, id: &str) -> Result<Option<OperatorSession>, StoreError> {
        self.operator_session_record(id).await
    }

    async fn end_operator_session(&self, id: &str) -> Result<(), StoreError> {
        self.delete_operator_session(id).await
    }

    async fn sweep_operator_sessions(
        &self,
        now: Timestamp,
        idle_secs: i64,
        total_secs: i64,
    ) -> Result<usize, StoreError> {
        self.delete_expired_operator_sessions(now, idle_secs, total_secs)
            .await
    }

    async fn record_action(&self, action: &NewAction) -> Result<OperatorAction, StoreError> {
        self.insert_action(action).await
    }

    async fn actions(&self, filter: &ActionFilter) -> Result<Vec<OperatorAction>, StoreError> {
        self.select_actions(filter).await
    }

    async fn unlock_line(&self, id: &CustomerId) -> Result<bool, StoreError> {
        self.delete_login_failures(id).await
    }

    async fn retry_mail_now(&self, id: ApplicationId, now: Timestamp) -> Result<bool, StoreError> {
        self.mail_due_now(id, now).await
    }

    async fn retry_event_now(
        &self,
        provider: &ProviderCode,
        sequence: u64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.event_due_now(provider, sequence, now).await
    }

    async fn export_records(&self, sink: &mut ExportSink<'_>) -> Result<(), StoreError> {
        self.export_all(sink).await
    }

    async fn holds_data(&self) -> Result<Option<&'static str>, StoreError> {
        self.first_non_empty().await
    }

    async fn restore_records(&self, records: Vec<ExportRecord>) -> Result<(), StoreError> {
        self.restore_batch(records).await
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.clear_all().await
    }

    async fn audit(&self) -> Result<Audit, StoreError> {
        self.audit_all().await
    }
}
