//! Applications: submitting one atomically, reading them back, and the
//! worker's queue that takes each through 受付済 → 工事中 → 完了.

use shared::api::ChangeRow;
use shared::domain::{
    Applicant, ApplicationId, ApplicationState, CustomerId, ProviderCode, Setting, SettingMethod,
    Timestamp,
};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::{
    ApplicationRecord, ConsentRecord, OutboxRecord, SettingRecord, Store, StoreError, decode,
    encode, keys,
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
    pub setting: Setting,
    /// The providers to change, without duplicates.
    pub providers: Vec<ProviderCode>,
    /// The applicant.
    pub applicant: Applicant,
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

/// A step of the work on an application, stored as one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkStep {
    /// 受付済 → 工事中.
    Start = 0,
    /// 工事中 → 完了: the changes take effect.
    Complete = 1,
}

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

fn tx_decode<T: serde::de::DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> TxResult<T> {
    decode(tree, bytes).or_else(abort)
}

fn tx_encode<T: serde::Serialize>(tree: &'static str, value: &T) -> TxResult<Vec<u8>> {
    encode(tree, value).or_else(abort)
}

pub(super) fn id_from(tree: &'static str, bytes: &[u8]) -> Result<ApplicationId, StoreError> {
    keys::trailing_u64(bytes)
        .and_then(|n| ApplicationId::from_u64(n).ok())
        .ok_or_else(|| StoreError::Corrupt {
            tree,
            detail: "bad application id".into(),
        })
}

fn flatten<T>(result: Result<T, TransactionError<SubmitError>>) -> Result<T, SubmitError> {
    result.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => SubmitError::Store(e.into()),
    })
}

impl Store {
    /// Stores an application with its pending changes, its idempotency key
    /// and its work, in one transaction. A key already used returns the
    /// application it made. On disk when it returns.
    pub fn submit(&self, new: &NewApplication) -> Result<Submitted, SubmitError> {
        let catalogue = self.catalogue()?;
        let trees = (
            &self.applications,
            &self.line_applications,
            &self.pending,
            &self.idempotency,
            &self.work,
            &self.meta,
            &self.settings,
        );
        // Every submission reads and writes its day's sequence, so two at
        // once conflict and sled runs one of them again; one at a time,
        // each runs once.
        let one_at_a_time = self
            .submissions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let submitted = flatten(trees.transaction(
            |(apps, line_apps, pending, idem, work, meta, settings)| {
                let idem_key = keys::line_idempotency(&new.customer_id, &new.idempotency_key);
                if let Some(id) = idem.get(&idem_key)? {
                    let id = id_from("idempotency", &id).or_else(abort)?;
                    let record = apps.get(keys::application(id))?.ok_or_else(|| {
                        ConflictableTransactionError::Abort(SubmitError::Store(
                            StoreError::Corrupt {
                                tree: "idempotency",
                                detail: format!("key points at missing application {id}"),
                            },
                        ))
                    })?;
                    return Ok(Submitted {
                        record: tx_decode("applications", &record)?,
                        replayed: true,
                    });
                }

                let consent: Option<ConsentRecord> = meta
                    .get("consent")?
                    .map(|v| tx_decode("meta", &v))
                    .transpose()?;
                let Some(consent) = consent.filter(|c| c.hash == new.consent_hash) else {
                    return abort(SubmitError::ConsentChanged);
                };

                let mut changes = Vec::with_capacity(new.providers.len());
                for code in &new.providers {
                    let Ok(i) = catalogue.binary_search_by(|(c, _)| c.cmp(code)) else {
                        return abort(SubmitError::UnknownProvider(code.clone()));
                    };
                    let provider = catalogue[i].1.clone();
                    let key = keys::line_provider(&new.customer_id, code);
                    if pending.get(&key)?.is_some() {
                        return abort(SubmitError::ProviderBusy(provider.name));
                    }
                    let current = match settings.get(&key)? {
                        Some(v) => tx_decode::<SettingRecord>("settings", &v)?.setting,
                        None => Setting::DoNotNotify,
                    };
                    if current == new.setting {
                        return abort(SubmitError::AlreadySet(provider.name));
                    }
                    changes.push(ChangeRow {
                        provider: code.clone(),
                        service_name: provider.service_name,
                        provider_name: provider.name,
                        setting: new.setting,
                    });
                }

                let date = new.received_at.jst_date();
                let seq_key = format!("seq/{date}");
                let seq = match meta.get(&seq_key)? {
                    Some(v) => match <[u8; 4]>::try_from(v.as_ref()) {
                        Ok(bytes) => u32::from_be_bytes(bytes),
                        Err(_) => {
                            return abort(StoreError::Corrupt {
                                tree: "meta",
                                detail: format!("{seq_key} is {} bytes, not 4", v.len()),
                            });
                        }
                    },
                    None => 0,
                }
                .saturating_add(1);
                if seq > ApplicationId::MAX_SEQUENCE {
                    return abort(SubmitError::DayFull);
                }
                meta.insert(seq_key.as_bytes(), &seq.to_be_bytes())?;

                let id = ApplicationId::new(date, seq);
                let record = ApplicationRecord {
                    id,
                    customer_id: new.customer_id.clone(),
                    received_at: new.received_at,
                    expected_done_at: new.received_at.plus_secs(new.work_delay_secs),
                    completed_at: None,
                    state: ApplicationState::Received,
                    changes,
                    applicant: new.applicant.clone(),
                    consent_version: consent.version,
                    consent_hash: consent.hash,
                    idempotency_key: new.idempotency_key.clone(),
                    mail_sent_at: None,
                };
                let id_bytes = keys::application(id);
                apps.insert(&id_bytes, tx_encode("applications", &record)?)?;
                line_apps.insert(keys::line_application(&new.customer_id, id), &[])?;
                for code in &new.providers {
                    pending.insert(keys::line_provider(&new.customer_id, code), &id_bytes)?;
                }
                idem.insert(idem_key, &id_bytes)?;
                work.insert(
                    &keys::work(record.received_at, id),
                    &[WorkStep::Start as u8],
                )?;
                work.insert(
                    &keys::work(record.expected_done_at, id),
                    &[WorkStep::Complete as u8],
                )?;
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
    pub fn application(&self, id: ApplicationId) -> Result<Option<ApplicationRecord>, StoreError> {
        self.applications
            .get(keys::application(id))?
            .map(|v| decode("applications", &v))
            .transpose()
    }

    /// A line's applications, newest first.
    pub fn line_applications(
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
            let record = self.application(id)?.ok_or_else(|| StoreError::Corrupt {
                tree: "line_applications",
                detail: format!("index points at missing application {id}"),
            })?;
            records.push(record);
        }
        Ok(records)
    }

    /// When the next step of work is due, if any is queued.
    pub fn next_work_due(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self
            .work
            .first()?
            .and_then(|(key, _)| keys::parse_work(&key))
            .map(|(due, _)| due))
    }

    /// Runs every step of work due at `now`, each in its own transaction,
    /// and returns the applications it moved on, on disk. A step already done (its
    /// queue entry gone) is skipped, so running twice applies nothing twice.
    pub fn run_due_work(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(ApplicationRecord, WorkStep)>, StoreError> {
        let mut done = Vec::new();
        for entry in self.work.range(..keys::work_due_prefix(now.plus_secs(1))) {
            let (key, step) = entry?;
            let step = WorkStep::from_byte(&step).ok_or_else(|| StoreError::Corrupt {
                tree: "work",
                detail: "bad step".into(),
            })?;
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
            .ok_or_else(|| StoreError::Corrupt {
                tree: "work",
                detail: "bad work key".into(),
            })?;
        let trees = (
            &self.applications,
            &self.work,
            &self.pending,
            &self.settings,
            &self.outbox,
        );
        let result = trees.transaction(|(apps, work, pending, settings, outbox)| {
            if work.get(key)?.is_none() {
                return Ok(None);
            }
            work.remove(key)?;
            let Some(bytes) = apps.get(keys::application(id))? else {
                return abort(StoreError::Corrupt {
                    tree: "work",
                    detail: format!("work for missing {id}"),
                });
            };
            let mut record: ApplicationRecord = tx_decode("applications", &bytes)?;
            match step {
                WorkStep::Start if record.state == ApplicationState::Received => {
                    record.state = ApplicationState::InProgress;
                }
                WorkStep::Complete if record.state != ApplicationState::Completed => {
                    complete(&record, now, pending, settings)?;
                    if record.applicant.wants_mail {
                        let mail = OutboxRecord {
                            attempts: 0,
                            next_attempt_at: now,
                            last_error: None,
                        };
                        outbox.insert(&keys::application(id), tx_encode("outbox", &mail)?)?;
                    }
                    record.state = ApplicationState::Completed;
                    record.completed_at = Some(now);
                }
                _ => return Ok(None),
            }
            apps.insert(&keys::application(id), tx_encode("applications", &record)?)?;
            Ok(Some(record))
        });
        flatten(result).map_err(|e| match e {
            SubmitError::Store(e) => e,
            other => StoreError::Corrupt {
                tree: "work",
                detail: other.to_string(),
            },
        })
    }
}

/// Applies an application's changes and releases its providers.
fn complete(
    record: &ApplicationRecord,
    now: Timestamp,
    pending: &TransactionalTree,
    settings: &TransactionalTree,
) -> TxResult<()> {
    let id_bytes = keys::application(record.id);
    for change in &record.changes {
        let key = keys::line_provider(&record.customer_id, &change.provider);
        let setting = SettingRecord {
            setting: change.setting,
            set_on: now.jst_date(),
            method: SettingMethod::web(),
        };
        settings.insert(key.as_slice(), tx_encode("settings", &setting)?)?;
        if pending.get(&key)?.as_deref() == Some(id_bytes.as_slice()) {
            pending.remove(key)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use shared::domain::{Applicant, CustomerId, ProviderCode, Setting, Timestamp};

    use super::{NewApplication, SubmitError};
    use crate::store::{Store, StoreError};

    /// A store with one line (CAF0000000001, W0001 「通知しない」) and a
    /// consent text, and an application for it.
    fn store_and_application(dir: &std::path::Path) -> (Store, NewApplication) {
        let store = Store::open(dir).expect("a store");
        let file = serde_json::from_value(serde_json::json!({
            "providers": [{"code": "W0001", "service_name": "IP電話", "name": "テスト通信株式会社"}],
            "lines": [{"customer_id": "CAF0000000001", "access_key": "Alpha-Key-0001"}],
            "consent": {"version": "2026-04", "text": "同意します。"},
        }))
        .expect("an import file");
        crate::import::import(&store, file).expect("imported");
        let consent_hash = store.consent().expect("read").expect("a consent").hash;
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
        (store, new)
    }

    #[test]
    fn a_corrupt_day_counter_is_an_error_not_a_full_day() {
        let dir = tempfile::TempDir::new().expect("a folder");
        let (store, new) = store_and_application(dir.path());
        let key = format!("seq/{}", new.received_at.jst_date());
        store.meta.insert(key, &[1u8, 2, 3][..]).expect("written");

        let outcome = store.submit(&new);

        assert!(
            matches!(
                outcome,
                Err(SubmitError::Store(StoreError::Corrupt { tree: "meta", .. }))
            ),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_mail_recorded_for_a_missing_application_is_an_error() {
        let dir = tempfile::TempDir::new().expect("a folder");
        let (store, new) = store_and_application(dir.path());
        let id = store.submit(&new).expect("submitted").record.id;
        store
            .applications
            .remove(crate::store::keys::application(id))
            .expect("removed");
        store
            .outbox
            .insert(crate::store::keys::application(id), &b"{}"[..])
            .expect("written");

        let outcome = store.mail_sent(id, new.received_at);

        assert!(
            matches!(outcome, Err(StoreError::Corrupt { tree: "outbox", .. })),
            "{outcome:?}"
        );
    }
}
