//! Applications: submitting one atomically, reading them back, and the
//! worker's queue that takes each through 受付済 → 工事中 → 完了.

use ::sled::Transactional;
use ::sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use shared::domain::{ApplicationId, CustomerId, ProviderCode, Setting, Timestamp};

use super::super::rules::{self, ProviderFacts};
use super::events::StoredEvent;
use super::{SledEngine, corrupt, decode, encode, keys};
use crate::store::{
    ApplicationRecord, ConsentRecord, EventDelivery, NewApplication, OutboxRecord, ProviderRecord,
    SettingRecord, StoreError, SubmitError, Submitted, WorkStep,
};

impl WorkStep {
    fn from_byte(b: &[u8]) -> Option<Self> {
        match b {
            [0] => Some(Self::Start),
            [1] => Some(Self::Complete),
            _ => None,
        }
    }
}

type TxResult<T> = Result<T, ConflictableTransactionError<SubmitError>>;

fn abort<T>(e: impl Into<SubmitError>) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e.into()))
}

fn tx_decode<T: serde::de::DeserializeOwned>(what: &'static str, bytes: &[u8]) -> TxResult<T> {
    decode(what, bytes).or_else(abort)
}

fn tx_encode<T: serde::Serialize>(what: &'static str, value: &T) -> TxResult<Vec<u8>> {
    encode(what, value).or_else(abort)
}

pub(super) fn id_from(what: &'static str, bytes: &[u8]) -> Result<ApplicationId, StoreError> {
    keys::trailing_u64(bytes)
        .and_then(|n| ApplicationId::from_u64(n).ok())
        .ok_or_else(|| corrupt(what, "bad application id"))
}

fn flatten<T>(result: Result<T, TransactionError<SubmitError>>) -> Result<T, SubmitError> {
    result.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => SubmitError::Store(e.into()),
    })
}

/// The trees a step of work writes.
type StepTrees = (
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
);

/// Writes the event a completed change to `setting` sends `code`, if any
/// (`rules::event_of`), with its sequence and, for a grant, its disclosure.
fn write_event(
    trees: &StepTrees,
    record: &ApplicationRecord,
    code: &ProviderCode,
    setting: Setting,
    now: Timestamp,
) -> TxResult<()> {
    let (providers, disclosures, last, events, queue, meta) =
        (&trees.5, &trees.6, &trees.7, &trees.8, &trees.9, &trees.10);
    let provider: Option<ProviderRecord> = providers
        .get(code.as_str())?
        .map(|v| tx_decode("providers", &v))
        .transpose()?;
    let facts = rules::EventFacts {
        registered: provider.is_some_and(|p| p.api.is_some()),
        received: last
            .get(keys::line_provider(&record.customer_id, code))?
            .is_some(),
    };
    let Some(kind) = rules::event_of(setting, facts) else {
        return Ok(());
    };
    let (mut event, disclosure) = rules::new_event(kind, code, record, now);
    let seq_key = keys::event_sequence(code);
    let last_sequence = match meta.get(&seq_key)? {
        Some(v) => match <[u8; 8]>::try_from(v.as_ref()) {
            Ok(bytes) => u64::from_be_bytes(bytes),
            Err(_) => return abort(corrupt("meta", format!("{seq_key} is not 8 bytes"))),
        },
        None => 0,
    };
    event.sequence = last_sequence + 1;
    meta.insert(seq_key.as_bytes(), &event.sequence.to_be_bytes())?;
    if let Some(d) = &disclosure {
        super::disclosures::write_in(disclosures, last, d, &tx_encode("disclosures", d)?)?;
    }
    let stored = StoredEvent {
        record: event,
        delivery: EventDelivery::due(now),
    };
    let (record, sequence) = (&stored.record, stored.record.sequence);
    queue.insert(keys::queued_event(code, &record.customer_id, sequence), &[])?;
    events.insert(keys::event(code, sequence), tx_encode("events", &stored)?)?;
    Ok(())
}

impl SledEngine {
    /// Stores an application with its pending changes, its idempotency key
    /// and its work, in one transaction; a key already used returns the
    /// application it made. On disk when it returns.
    pub(super) fn submit_sync(&self, new: &NewApplication) -> Result<Submitted, SubmitError> {
        let trees = (
            &self.applications,
            &self.line_applications,
            &self.pending,
            &self.idempotency,
            &self.work,
            &self.meta,
            &self.settings,
            &self.providers,
        );
        let one_at_a_time = self
            .submissions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let submitted = flatten(trees.transaction(
            |(apps, line_apps, pending, idem, work, meta, settings, providers)| {
                let idem_key = keys::line_idempotency(&new.customer_id, &new.idempotency_key);
                if let Some(id) = idem.get(&idem_key)? {
                    let id = id_from("idempotency", &id).or_else(abort)?;
                    let Some(record) = apps.get(keys::application(id))? else {
                        return abort(corrupt(
                            "idempotency",
                            format!("key points at missing application {id}"),
                        ));
                    };
                    return Ok(Submitted {
                        record: tx_decode("applications", &record)?,
                        replayed: true,
                    });
                }

                let consent: Option<ConsentRecord> = meta
                    .get("consent")?
                    .map(|v| tx_decode("meta", &v))
                    .transpose()?;
                let mut facts = Vec::with_capacity(new.providers.len());
                for code in &new.providers {
                    let key = keys::line_provider(&new.customer_id, code);
                    let provider: Option<ProviderRecord> = providers
                        .get(code.as_str())?
                        .map(|v| tx_decode("providers", &v))
                        .transpose()?;
                    let current = match settings.get(&key)? {
                        Some(v) => tx_decode::<SettingRecord>("settings", &v)?.setting,
                        None => Setting::DoNotNotify,
                    };
                    facts.push(ProviderFacts {
                        provider,
                        pending: pending.get(&key)?.is_some(),
                        current,
                    });
                }
                let accepted = rules::check_submission(new, consent, facts).or_else(abort)?;

                let seq_key = keys::day_sequence(new.received_at.jst_date());
                let last = match meta.get(&seq_key)? {
                    Some(v) => match <[u8; 4]>::try_from(v.as_ref()) {
                        Ok(bytes) => u32::from_be_bytes(bytes),
                        Err(_) => {
                            return abort(corrupt(
                                "meta",
                                format!("{seq_key} is {} bytes, not 4", v.len()),
                            ));
                        }
                    },
                    None => 0,
                };
                let sequence = last.saturating_add(1);
                let record = accepted.into_record(new, sequence).or_else(abort)?;
                meta.insert(seq_key.as_bytes(), &sequence.to_be_bytes())?;

                let id_bytes = keys::application(record.id);
                apps.insert(&id_bytes, tx_encode("applications", &record)?)?;
                line_apps.insert(keys::line_application(&new.customer_id, record.id), &[])?;
                for code in &new.providers {
                    pending.insert(keys::line_provider(&new.customer_id, code), &id_bytes)?;
                }
                idem.insert(idem_key, &id_bytes)?;
                for (due, step) in rules::work_of(&record) {
                    work.insert(&keys::work(due, record.id), &[step as u8])?;
                }
                Ok(Submitted {
                    record,
                    replayed: false,
                })
            },
        ))?;
        // Durable before it returns, a replay too (its first answer may
        // have been cut off before the sync); the lock is not held across
        // the sync, so submissions waiting for it share one group commit.
        drop(one_at_a_time);
        self.sync()?;
        Ok(submitted)
    }

    /// An application by its ID.
    pub(super) fn application_record(
        &self,
        id: ApplicationId,
    ) -> Result<Option<ApplicationRecord>, StoreError> {
        self.applications
            .get(keys::application(id))?
            .map(|v| decode("applications", &v))
            .transpose()
    }

    /// A line's applications, newest first.
    pub(super) fn applications_of(
        &self,
        line: &CustomerId,
    ) -> Result<Vec<ApplicationRecord>, StoreError> {
        let mut records = Vec::new();
        for entry in self
            .line_applications
            .scan_prefix(keys::line_prefix(line))
            .rev()
        {
            let (key, _) = entry?;
            let id = id_from("line_applications", &key)?;
            let record = self.application_record(id)?.ok_or_else(|| {
                corrupt(
                    "line_applications",
                    format!("index points at missing application {id}"),
                )
            })?;
            records.push(record);
        }
        Ok(records)
    }

    /// When the next step of work is due, if any is queued.
    pub(super) fn next_work(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self
            .work
            .first()?
            .and_then(|(key, _)| keys::parse_work(&key))
            .map(|(due, _)| due))
    }

    /// Runs every step of work due at `now`, each in its own transaction,
    /// and returns the applications it moved on, on disk. A step already
    /// done (its queue entry gone) is skipped, so running twice applies
    /// nothing twice.
    pub(super) fn run_due_work_sync(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(ApplicationRecord, WorkStep)>, StoreError> {
        let mut done = Vec::new();
        for entry in self.work.range(..keys::work_due_prefix(now.plus_secs(1))) {
            let (key, step) = entry?;
            let step = WorkStep::from_byte(&step).ok_or_else(|| corrupt("work", "bad step"))?;
            if let Some(record) = self.apply_step(&key, step, now)? {
                done.push((record, step));
            }
        }
        if !done.is_empty() {
            self.sync()?;
        }
        Ok(done)
    }

    fn apply_step(
        &self,
        key: &[u8],
        step: WorkStep,
        now: Timestamp,
    ) -> Result<Option<ApplicationRecord>, StoreError> {
        let id = keys::parse_work(key)
            .and_then(|(_, n)| ApplicationId::from_u64(n).ok())
            .ok_or_else(|| corrupt("work", "bad work key"))?;
        let trees = (
            &self.applications,
            &self.work,
            &self.pending,
            &self.settings,
            &self.outbox,
            &self.providers,
            &self.disclosures,
            &self.last_disclosures,
            &self.events,
            &self.event_queue,
            &self.meta,
        );
        let result = trees.transaction(|trees| {
            let (apps, work, pending, settings, outbox) =
                (&trees.0, &trees.1, &trees.2, &trees.3, &trees.4);
            if work.get(key)?.is_none() {
                return Ok(None);
            }
            work.remove(key)?;
            let Some(bytes) = apps.get(keys::application(id))? else {
                return abort(corrupt("work", format!("work for missing {id}")));
            };
            let record: ApplicationRecord = tx_decode("applications", &bytes)?;
            let Some(stepped) = rules::run_step(&record, step, now) else {
                return Ok(None);
            };
            let id_bytes = keys::application(id);
            for (code, setting) in &stepped.settings {
                let key = keys::line_provider(&record.customer_id, code);
                settings.insert(key.as_slice(), tx_encode("settings", setting)?)?;
                if pending.get(&key)?.as_deref() == Some(id_bytes.as_slice()) {
                    pending.remove(key)?;
                }
            }
            for (code, setting) in &stepped.settings {
                write_event(trees, &stepped.record, code, setting.setting, now)?;
            }
            if stepped.mail {
                let mail = OutboxRecord {
                    attempts: 0,
                    next_attempt_at: now,
                    last_error: None,
                };
                outbox.insert(&id_bytes, tx_encode("outbox", &mail)?)?;
            }
            apps.insert(&id_bytes, tx_encode("applications", &stepped.record)?)?;
            Ok(Some(stepped.record))
        });
        flatten(result).map_err(|e| match e {
            SubmitError::Store(e) => e,
            other => corrupt("work", other.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use shared::domain::{Applicant, CustomerId, ProviderCode, Setting, Timestamp};

    use super::super::{SledEngine, keys};
    use crate::store::{Location, NewApplication, Store, StoreError, SubmitError};

    /// The sled engine, a store over it with one line (CAF0000000001, W0001
    /// 「通知しない」) and a consent text, and an application for it.
    async fn store_and_application(dir: &std::path::Path) -> (SledEngine, Store, NewApplication) {
        let engine = SledEngine::open(dir, false).expect("a store");
        let store = Store::over(Arc::new(engine.clone()), Location::Sled(dir.to_path_buf()));
        let file = serde_json::from_value(serde_json::json!({
            "providers": [{"code": "W0001", "service_name": "IP電話", "name": "テスト通信株式会社"}],
            "lines": [{"customer_id": "CAF0000000001", "access_key": "Alpha-Key-0001"}],
            "consent": {"version": "2026-04", "text": "同意します。"},
        }))
        .expect("an import file");
        crate::import::import(&store, file).await.expect("imported");
        let consent_hash = store
            .consent()
            .await
            .expect("read")
            .expect("a consent")
            .hash;
        let applicant: Applicant = serde_json::from_value(serde_json::json!({
            "name": "山田太郎", "phone": "0312345678", "email": null, "wants_mail": false
        }))
        .expect("an applicant");
        let new = NewApplication {
            customer_id: CustomerId::parse("CAF0000000001").expect("an ID"),
            idempotency_key: "0b6c3a4e-8a5b-4c1d-9f3e-2a7b6c5d4e3f".into(),
            consent_hash,
            setting: Setting::Notify,
            providers: vec![ProviderCode::parse("W0001").expect("a code")],
            applicant,
            received_at: Timestamp::from_unix(1_764_547_200),
            work_delay_secs: 60,
        };
        (engine, store, new)
    }

    #[tokio::test]
    async fn a_corrupt_day_counter_is_an_error_not_a_full_day() {
        let dir = tempfile::TempDir::new().expect("a folder");
        let (engine, store, new) = store_and_application(dir.path()).await;
        let key = keys::day_sequence(new.received_at.jst_date());
        engine.meta.insert(key, &[1u8, 2, 3][..]).expect("written");

        let outcome = store.submit(&new).await;

        assert!(
            matches!(
                outcome,
                Err(SubmitError::Store(StoreError::Corrupt { what: "meta", .. }))
            ),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn a_mail_recorded_for_a_missing_application_is_an_error() {
        let dir = tempfile::TempDir::new().expect("a folder");
        let (engine, store, new) = store_and_application(dir.path()).await;
        let id = store.submit(&new).await.expect("submitted").record.id;
        engine
            .applications
            .remove(keys::application(id))
            .expect("removed");
        engine
            .outbox
            .insert(keys::application(id), &b"{}"[..])
            .expect("written");

        let outcome = store
            .deliver_due_mail(new.received_at.plus_secs(3600), usize::MAX, &|_, _| {
                panic!("no mail is delivered for a missing application")
            })
            .await;

        assert!(
            matches!(outcome, Err(StoreError::Corrupt { what: "outbox", .. })),
            "{outcome:?}"
        );
    }
}
