//! Applications: submitting one, reading them back, and the work that takes
//! each through 受付済 → 工事中 → 完了, claimed by one process at a time.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use shared::domain::{ApplicationId, CustomerId, Date, ProviderCode, Setting, Timestamp};

use super::{PgEngine, corrupt, from_json, from_text, id_column, json, retryable, text};
use crate::store::rules::{self, ProviderFacts};
use crate::store::{
    ApplicationRecord, ConsentRecord, DisclosureRecord, EventRecord, NewApplication, ProviderApi,
    ProviderRecord, StoreError, SubmitError, Submitted, WorkStep,
};

/// Sequence numbers are drawn from `day_sequences` this many at a time, so
/// that submissions do not queue on one row: each process uses its block,
/// in order; numbers it never uses are gaps, never drawn again.
const BLOCK: i32 = 16;

/// How often a submission that lost a race (a key or a provider taken by
/// a concurrent one) is run again, to be decided on the new facts.
const ATTEMPTS: usize = 5;

/// This process's drawn, unused sequence numbers: per day, the next and
/// the last of its block.
#[derive(Debug, Default)]
pub(super) struct Sequences {
    blocks: Mutex<HashMap<Date, (u32, u32)>>,
    /// Held while a block is drawn, so that submissions that find the
    /// block used up at once draw one block, not one each.
    drawing: tokio::sync::Mutex<()>,
}

impl Sequences {
    fn take(&self, day: Date) -> Option<u32> {
        let mut blocks = self
            .blocks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (next, last) = blocks.get_mut(&day)?;
        if *next > *last {
            return None;
        }
        *next += 1;
        Some(*next - 1)
    }

    /// A block of `first..=last` for `day` (older days' blocks are let go).
    fn put(&self, day: Date, first: u32, last: u32) {
        let mut blocks = self
            .blocks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        blocks.retain(|d, _| *d >= day);
        blocks.insert(day, (first, last));
    }
}

/// A statement's parameter.
type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

/// A step of work from its `work.step` column.
pub(super) fn step_of(n: i16) -> Result<WorkStep, StoreError> {
    match n {
        0 => Ok(WorkStep::Start),
        1 => Ok(WorkStep::Complete),
        other => Err(corrupt("work", format!("bad step {other}"))),
    }
}

/// An application from its row's `record` column.
pub(super) fn record_of(value: serde_json::Value) -> Result<ApplicationRecord, StoreError> {
    from_json("applications", value)
}

impl PgEngine {
    /// The next sequence number for `day`, drawing a new block (committed
    /// on its own) when this process's is used up.
    async fn sequence(&self, day: Date) -> Result<u32, StoreError> {
        if let Some(n) = self.sequences.take(day) {
            return Ok(n);
        }
        let _drawing = self.sequences.drawing.lock().await;
        if let Some(n) = self.sequences.take(day) {
            return Ok(n);
        }
        // A pool of its own: the submission drawing holds a connection of
        // the main pool for its transaction, and with every connection so
        // held, none would be left to draw with.
        let client = self.sequence_pool.get().await?;
        let row = client
            .query_one(
                "INSERT INTO day_sequences AS s (day, last) VALUES ($1, $2) \
                 ON CONFLICT (day) DO UPDATE SET last = s.last + $2 RETURNING last",
                &[&day.to_string(), &BLOCK],
            )
            .await?;
        let last = u32::try_from(row.get::<_, i32>(0)).unwrap_or(0);
        let first = last.saturating_sub(BLOCK as u32) + 1;
        self.sequences.put(day, first + 1, last);
        Ok(first)
    }

    /// Stores an application (see [`crate::store::Engine::submit`]), in
    /// one transaction: the facts are read in one statement (one
    /// snapshot), decided by `rules`, and written; a concurrent submission
    /// that took a provider first makes the insert fail, and the whole is
    /// run again on the new facts. Submissions of one key take turns.
    pub(super) async fn submit_application(
        &self,
        new: &NewApplication,
    ) -> Result<Submitted, SubmitError> {
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            match self.try_submit(new).await {
                Ok(submitted) => return Ok(submitted),
                Err(Attempt::Again(e)) => last_error = Some(e),
                Err(Attempt::Failed(e)) => return Err(e),
            }
        }
        Err(SubmitError::Store(last_error.map_or_else(
            || corrupt("applications", "no attempt"),
            super::pg_error,
        )))
    }

    async fn try_submit(&self, new: &NewApplication) -> Result<Submitted, Attempt> {
        let mut client = self.client().await.map_err(Attempt::store)?;
        let tx = client.transaction().await.map_err(Attempt::pg)?;
        let line = new.customer_id.as_str();
        let codes: Vec<&str> = new.providers.iter().map(|c| c.as_str()).collect();
        // Every statement of a submission is prepared once per connection,
        // and those that need no answer before the next are pipelined: sent
        // together, run by the server one after another, answered in one
        // round trip (`join!`, never `try_join!`: the first statement's
        // error is the one that tells).
        let (lock, facts) = tokio::try_join!(
            tx.prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 0))"),
            // Every fact in one statement, so from one snapshot.
            tx.prepare_cached(
                "SELECT \
                   (SELECT record FROM applications \
                      WHERE customer_id = $1 AND idempotency_key = $2), \
                   (SELECT value FROM meta WHERE key = 'consent'), \
                   (SELECT coalesce(jsonb_agg(jsonb_build_array(code, service_name, name, purpose, api)), '[]') \
                      FROM providers WHERE code = ANY($3)), \
                   (SELECT coalesce(jsonb_agg(provider), '[]') FROM pending \
                      WHERE customer_id = $1 AND provider = ANY($3)), \
                   (SELECT coalesce(jsonb_agg(jsonb_build_array(provider, setting)), '[]') \
                      FROM settings WHERE customer_id = $1 AND provider = ANY($3))"
            ),
        )
        .map_err(Attempt::pg)?;
        // Submissions of one key wait for each other at the lock, so that
        // a replay racing its original finds it committed (and draws no
        // ID): the facts are read only once it is held.
        let lock_params: [Param; 2] = [&line, &new.idempotency_key];
        let facts_params: [Param; 3] = [&line, &new.idempotency_key, &codes];
        let (locked, facts) = tokio::join!(
            tx.execute(&lock, &lock_params),
            tx.query_one(&facts, &facts_params),
        );
        locked.map_err(Attempt::pg)?;
        let facts = facts.map_err(Attempt::pg)?;
        if let Some(record) = facts.get::<_, Option<serde_json::Value>>(0) {
            return Ok(Submitted {
                record: record_of(record).map_err(Attempt::store)?,
                replayed: true,
            });
        }
        let consent: Option<serde_json::Value> = facts.get(1);
        let consent: Option<ConsentRecord> = consent
            .map(|value| from_json("meta", value))
            .transpose()
            .map_err(Attempt::store)?;
        type Row = (String, String, String, Option<String>, Option<ProviderApi>);
        let providers: Vec<Row> = from_json("providers", facts.get(2)).map_err(Attempt::store)?;
        let providers: HashMap<String, ProviderRecord> = providers
            .into_iter()
            .map(|(code, service_name, name, purpose, api)| {
                let record = ProviderRecord {
                    service_name,
                    name,
                    purpose,
                    api,
                };
                (code, record)
            })
            .collect();
        let pending: Vec<String> = from_json("pending", facts.get(3)).map_err(Attempt::store)?;
        let settings: Vec<(String, String)> =
            from_json("settings", facts.get(4)).map_err(Attempt::store)?;
        let settings: HashMap<String, String> = settings.into_iter().collect();
        let mut facts = Vec::with_capacity(new.providers.len());
        for code in &new.providers {
            let current = match settings.get(code.as_str()) {
                Some(s) => from_text("settings", s.clone()).map_err(Attempt::store)?,
                None => Setting::DoNotNotify,
            };
            facts.push(ProviderFacts {
                provider: providers.get(code.as_str()).cloned(),
                pending: pending.iter().any(|p| p == code.as_str()),
                current,
            });
        }
        let accepted = rules::check_submission(new, consent, facts).map_err(Attempt::Failed)?;
        let sequence = self
            .sequence(new.received_at.jst_date())
            .await
            .map_err(Attempt::store)?;
        let record = accepted
            .into_record(new, sequence)
            .map_err(Attempt::Failed)?;
        let id = id_column(record.id);
        let work = rules::work_of(&record);
        let steps: Vec<i16> = work.iter().map(|(_, step)| *step as i16).collect();
        let dues: Vec<i64> = work.iter().map(|(due, _)| due.unix()).collect();
        let state = text("applications", &record.state).map_err(Attempt::store)?;
        let stored = json("applications", &record).map_err(Attempt::store)?;
        let (application, pending, queued) = tokio::try_join!(
            tx.prepare_cached(
                "INSERT INTO applications (id, customer_id, idempotency_key, state, record) \
                 VALUES ($1, $2, $3, $4, $5)"
            ),
            tx.prepare_cached(
                "INSERT INTO pending (customer_id, provider, application_id) \
                 SELECT $1, unnest($2::text[]), $3"
            ),
            tx.prepare_cached(
                "INSERT INTO work (application_id, step, due) \
                 SELECT $1, unnest($2::smallint[]), unnest($3::bigint[])"
            ),
        )
        .map_err(Attempt::pg)?;
        let application_params: [Param; 5] = [&id, &line, &record.idempotency_key, &state, &stored];
        let pending_params: [Param; 3] = [&line, &codes, &id];
        let work_params: [Param; 3] = [&id, &steps, &dues];
        let (application, pending, queued) = tokio::join!(
            tx.execute(&application, &application_params),
            tx.execute(&pending, &pending_params),
            tx.execute(&queued, &work_params),
        );
        for result in [application, pending, queued] {
            result.map_err(Attempt::pg)?;
        }
        tx.commit().await.map_err(Attempt::pg)?;
        Ok(Submitted {
            record,
            replayed: false,
        })
    }

    /// An application by its ID.
    pub(super) async fn application_record(
        &self,
        id: ApplicationId,
    ) -> Result<Option<ApplicationRecord>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT record FROM applications WHERE id = $1",
                &[&id_column(id)],
            )
            .await?;
        row.map(|row| record_of(row.get(0))).transpose()
    }

    /// A line's applications, newest first.
    pub(super) async fn applications_of(
        &self,
        line: &CustomerId,
    ) -> Result<Vec<ApplicationRecord>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT record FROM applications WHERE customer_id = $1 ORDER BY id DESC",
                &[&line.as_str()],
            )
            .await?;
        rows.into_iter().map(|row| record_of(row.get(0))).collect()
    }

    /// Claims and runs the work due at `now`, a batch per transaction:
    /// the steps are locked with `SKIP LOCKED`, so concurrent workers take
    /// different ones, and their applications `FOR UPDATE`, so two steps of
    /// one application run one after the other.
    pub(super) async fn run_work(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(ApplicationRecord, WorkStep)>, StoreError> {
        let mut done = Vec::new();
        loop {
            let batch = self.work_batch(now).await?;
            if batch.is_empty() {
                return Ok(done);
            }
            done.extend(batch);
        }
    }

    async fn work_batch(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(ApplicationRecord, WorkStep)>, StoreError> {
        const BATCH: i64 = 256;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let claimed = tx
            .query(
                "SELECT application_id, step FROM work WHERE due <= $1 \
                 ORDER BY due, application_id, step LIMIT $2 FOR UPDATE SKIP LOCKED",
                &[&now.unix(), &BATCH],
            )
            .await?;
        if claimed.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let claimed: Vec<(i64, i16)> = claimed.iter().map(|row| (row.get(0), row.get(1))).collect();
        let ids: Vec<i64> = claimed.iter().map(|(id, _)| *id).collect();
        let steps: Vec<i16> = claimed.iter().map(|(_, step)| *step).collect();
        let mut records: HashMap<i64, ApplicationRecord> = HashMap::new();
        for row in tx
            .query(
                "SELECT id, record FROM applications WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                &[&ids],
            )
            .await?
        {
            records.insert(row.get(0), record_of(row.get(1))?);
        }
        // The steps in claim order, each on the application as the steps
        // before it left it; then the writes, a statement each.
        let mut done = Vec::new();
        let mut changed = std::collections::BTreeSet::new();
        let mut settings: BTreeMap<(String, String), (String, String, String)> = BTreeMap::new();
        let (mut released, mut mailed) = (Vec::new(), Vec::new());
        // The settings moved, for their events.
        let mut moved = Vec::new();
        for &(id, step) in &claimed {
            let step = step_of(step)?;
            let record = records
                .get(&id)
                .ok_or_else(|| corrupt("work", format!("work for missing application {id}")))?;
            let Some(stepped) = rules::run_step(record, step, now) else {
                continue;
            };
            let line = stepped.record.customer_id.as_str().to_owned();
            for (code, setting) in &stepped.settings {
                settings.insert(
                    (line.clone(), code.as_str().to_owned()),
                    (
                        text("settings", &setting.setting)?,
                        setting.set_on.to_string(),
                        setting.method.as_str().to_owned(),
                    ),
                );
            }
            for (code, setting) in &stepped.settings {
                moved.push((stepped.record.clone(), code.clone(), setting.setting));
            }
            if !stepped.settings.is_empty() {
                released.push(id);
            }
            if stepped.mail {
                mailed.push(id);
            }
            changed.insert(id);
            done.push((stepped.record.clone(), step));
            records.insert(id, stepped.record);
        }
        tx.execute(
            "DELETE FROM work w USING unnest($1::bigint[], $2::smallint[]) AS c(id, step) \
             WHERE w.application_id = c.id AND w.step = c.step",
            &[&ids, &steps],
        )
        .await?;
        // The facts of the events, read before the settings are written
        // (which leaves their 最終通知日時 as it was anyway).
        let (events, disclosures) = events_of(&tx, &moved, now).await?;
        if !settings.is_empty() {
            let mut columns: [Vec<String>; 5] = Default::default();
            for ((line, code), (setting, set_on, method)) in settings {
                for (column, value) in columns
                    .iter_mut()
                    .zip([line, code, setting, set_on, method])
                {
                    column.push(value);
                }
            }
            let [lines, codes, values, days, methods] = &columns;
            tx.execute(
                "INSERT INTO settings (customer_id, provider, setting, set_on, method) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                 ON CONFLICT (customer_id, provider) DO UPDATE SET setting = EXCLUDED.setting, \
                 set_on = EXCLUDED.set_on, method = EXCLUDED.method",
                &[lines, codes, values, days, methods],
            )
            .await?;
            tx.execute(
                "DELETE FROM pending WHERE application_id = ANY($1)",
                &[&released],
            )
            .await?;
        }
        super::events::write_events(&tx, events, &disclosures, now).await?;
        if !mailed.is_empty() {
            tx.execute(
                "INSERT INTO outbox (application_id, attempts, next_attempt_at) \
                 SELECT unnest($1::bigint[]), 0, $2 ON CONFLICT DO NOTHING",
                &[&mailed, &now.unix()],
            )
            .await?;
        }
        if !changed.is_empty() {
            let (mut keys, mut states, mut values) = (Vec::new(), Vec::new(), Vec::new());
            for id in changed {
                let record = &records[&id];
                keys.push(id);
                states.push(text("applications", &record.state)?);
                values.push(json("applications", record)?);
            }
            tx.execute(
                "UPDATE applications a SET state = c.state, record = c.record \
                 FROM unnest($1::bigint[], $2::text[], $3::jsonb[]) AS c(id, state, record) \
                 WHERE a.id = c.id",
                &[&keys, &states, &values],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done)
    }
}

/// The events the settings `moved` by completed applications send
/// (`rules::event_of`), and the disclosures their grants are logged as,
/// from the providers' registrations and the lines' 最終通知日時 read in `tx`.
async fn events_of(
    tx: &deadpool_postgres::Transaction<'_>,
    moved: &[(ApplicationRecord, ProviderCode, Setting)],
    now: Timestamp,
) -> Result<(Vec<EventRecord>, Vec<DisclosureRecord>), StoreError> {
    if moved.is_empty() {
        return Ok(Default::default());
    }
    let lines: Vec<&str> = moved
        .iter()
        .map(|(r, _, _)| r.customer_id.as_str())
        .collect();
    let codes: Vec<&str> = moved.iter().map(|(_, code, _)| code.as_str()).collect();
    let rows = tx
        .query(
            "SELECT p.api IS NOT NULL, s.last_disclosed_at IS NOT NULL \
             FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS c(line, code, n) \
             LEFT JOIN providers p ON p.code = c.code \
             LEFT JOIN settings s ON s.customer_id = c.line AND s.provider = c.code \
             ORDER BY c.n",
            &[&lines, &codes],
        )
        .await?;
    let (mut events, mut disclosures) = (Vec::new(), Vec::new());
    for ((record, code, setting), row) in moved.iter().zip(&rows) {
        let facts = rules::EventFacts {
            registered: row.get(0),
            received: row.get(1),
        };
        if let Some(kind) = rules::event_of(*setting, facts) {
            let (event, disclosure) = rules::new_event(kind, code, record, now);
            events.push(event);
            disclosures.extend(disclosure);
        }
    }
    Ok((events, disclosures))
}

/// How one attempt at a submission ended, if not stored.
enum Attempt {
    /// A race lost (a key or provider taken meanwhile): run it again.
    Again(tokio_postgres::Error),
    /// Refused or failed for good.
    Failed(SubmitError),
}

impl Attempt {
    fn pg(e: tokio_postgres::Error) -> Self {
        if retryable(&e) {
            Self::Again(e)
        } else {
            Self::Failed(SubmitError::Store(super::pg_error(e)))
        }
    }

    fn store(e: StoreError) -> Self {
        Self::Failed(SubmitError::Store(e))
    }
}
