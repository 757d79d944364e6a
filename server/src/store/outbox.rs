//! The outbox of completion mails: written in the transaction that completes
//! the work, emptied only once a mail is delivered, so a mail server that is
//! down delays mail but never loses it.

use shared::domain::{ApplicationId, Timestamp};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{ApplicationRecord, OutboxRecord, Store, StoreError, decode, encode, keys};

impl Store {
    /// The mails due at `now`, with their applications, in ID order.
    pub fn due_mail(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(ApplicationRecord, OutboxRecord)>, StoreError> {
        let mut due = Vec::new();
        for entry in self.outbox.iter() {
            let (key, value) = entry?;
            let mail: OutboxRecord = decode("outbox", &value)?;
            if mail.next_attempt_at > now {
                continue;
            }
            let id = keys::trailing_u64(&key)
                .and_then(|n| ApplicationId::from_u64(n).ok())
                .ok_or_else(|| StoreError::Corrupt {
                    tree: "outbox",
                    detail: "bad key".into(),
                })?;
            let record = self.application(id)?.ok_or_else(|| StoreError::Corrupt {
                tree: "outbox",
                detail: format!("mail for missing application {id}"),
            })?;
            due.push((record, mail));
        }
        Ok(due)
    }

    /// Every mail waiting in the outbox, due or not, in application ID
    /// order: what an operator (or a test) looks at when mail is late.
    pub fn outbox(&self) -> Result<Vec<(ApplicationId, OutboxRecord)>, StoreError> {
        let mut waiting = Vec::new();
        for entry in self.outbox.iter() {
            let (key, value) = entry?;
            let id = keys::trailing_u64(&key)
                .and_then(|n| ApplicationId::from_u64(n).ok())
                .ok_or_else(|| StoreError::Corrupt {
                    tree: "outbox",
                    detail: "bad key".into(),
                })?;
            waiting.push((id, decode("outbox", &value)?));
        }
        Ok(waiting)
    }

    /// When the next mail is due, if any waits.
    pub fn next_mail_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let mut next: Option<Timestamp> = None;
        for entry in self.outbox.iter() {
            let (_, value) = entry?;
            let at = decode::<OutboxRecord>("outbox", &value)?.next_attempt_at;
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        Ok(next)
    }

    /// Records a delivered mail: out of the outbox and onto the application,
    /// in one transaction.
    pub fn mail_sent(&self, id: ApplicationId, at: Timestamp) -> Result<(), StoreError> {
        let key = keys::application(id);
        let result = (&self.outbox, &self.applications).transaction(|(outbox, apps)| {
            if outbox.remove(&key)?.is_none() {
                return Ok(());
            }
            let Some(bytes) = apps.get(key)? else {
                return Ok(());
            };
            let mut record: ApplicationRecord =
                decode("applications", &bytes).map_err(ConflictableTransactionError::Abort)?;
            record.mail_sent_at = Some(at);
            apps.insert(&key, encode(&record))?;
            Ok(())
        });
        result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        })
    }

    /// Records a failed delivery and when to try again.
    pub fn mail_failed(&self, id: ApplicationId, mail: &OutboxRecord) -> Result<(), StoreError> {
        let key = keys::application(id);
        // Only if still queued: never resurrect a mail recorded as sent.
        if let Some(old) = self.outbox.get(key)? {
            let _ = self
                .outbox
                .compare_and_swap(key, Some(old), Some(encode(mail)))?;
        }
        Ok(())
    }
}
