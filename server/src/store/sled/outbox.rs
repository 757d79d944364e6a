//! The outbox of completion mails: written in the transaction that completes
//! the work, emptied only once a mail is delivered, so a mail server that is
//! down delays mail but never loses it.

use ::sled::Transactional;
use ::sled::transaction::{ConflictableTransactionError, TransactionError};
use shared::domain::{ApplicationId, Timestamp};

use super::applications::id_from;
use super::{SledEngine, corrupt, decode, encode, keys};
use crate::store::{ApplicationRecord, OutboxRecord, Queues, StoreError};

impl SledEngine {
    /// The mails due at `now`, with their applications, in ID order.
    pub(super) fn due_mail(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(ApplicationRecord, OutboxRecord)>, StoreError> {
        let mut due = Vec::new();
        for entry in self.outbox.iter() {
            if due.len() >= limit {
                break;
            }
            let (key, value) = entry?;
            let mail: OutboxRecord = decode("outbox", &value)?;
            if mail.next_attempt_at > now {
                continue;
            }
            let id = id_from("outbox", &key)?;
            let record = self
                .application_record(id)?
                .ok_or_else(|| corrupt("outbox", format!("mail for missing application {id}")))?;
            due.push((record, mail));
        }
        Ok(due)
    }

    /// Every mail waiting in the outbox, due or not, in application ID
    /// order: what an operator (or a test) looks at when mail is late.
    pub(super) fn outbox_entries(&self) -> Result<Vec<(ApplicationId, OutboxRecord)>, StoreError> {
        let mut waiting = Vec::new();
        for entry in self.outbox.iter() {
            let (key, value) = entry?;
            waiting.push((id_from("outbox", &key)?, decode("outbox", &value)?));
        }
        Ok(waiting)
    }

    /// How much work and mail wait at `now`, and how old the oldest of each
    /// is (since its application was received, or its work completed):
    /// what the metrics report.
    pub(super) fn queues_at(&self, now: Timestamp) -> Result<Queues, StoreError> {
        let age = |at: Option<Timestamp>| at.map_or(0, |at| (now.unix() - at.unix()).max(0));
        let oldest_work = match self.work.first()? {
            Some((key, _)) => self
                .application_record(id_from("work", &key)?)?
                .map(|a| a.received_at),
            None => None,
        };
        let oldest_mail = match self.outbox.first()? {
            Some((key, _)) => self
                .application_record(id_from("outbox", &key)?)?
                .and_then(|a| a.completed_at),
            None => None,
        };
        Ok(Queues {
            work: self.work.len(),
            oldest_work_age_secs: age(oldest_work),
            mail: self.outbox.len(),
            oldest_mail_age_secs: age(oldest_mail),
            events: self.event_queue.len(),
            oldest_event_age_secs: age(self.oldest_undelivered_event()?),
        })
    }

    /// When the next mail is due, if any waits.
    pub(super) fn next_mail(&self) -> Result<Option<Timestamp>, StoreError> {
        let mut next: Option<Timestamp> = None;
        for entry in self.outbox.iter() {
            let (_, value) = entry?;
            let at = decode::<OutboxRecord>("outbox", &value)?.next_attempt_at;
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        Ok(next)
    }

    /// Records a delivered mail: out of the outbox and onto the application,
    /// in one transaction, on disk when it returns.
    pub(super) fn mail_sent_sync(
        &self,
        id: ApplicationId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let key = keys::application(id);
        let result = (&self.outbox, &self.applications).transaction(|(outbox, apps)| {
            if outbox.remove(&key)?.is_none() {
                return Ok(());
            }
            let Some(bytes) = apps.get(key)? else {
                return Err(ConflictableTransactionError::Abort(corrupt(
                    "outbox",
                    format!("mail for missing application {id}"),
                )));
            };
            let mut record: ApplicationRecord =
                decode("applications", &bytes).map_err(ConflictableTransactionError::Abort)?;
            record.mail_sent_at = Some(at);
            let bytes =
                encode("applications", &record).map_err(ConflictableTransactionError::Abort)?;
            apps.insert(&key, bytes)?;
            Ok(())
        });
        result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => e.into(),
        })?;
        self.sync()
    }

    /// Records a failed delivery and when to try again, on disk when it
    /// returns.
    pub(super) fn mail_failed_sync(
        &self,
        id: ApplicationId,
        mail: &OutboxRecord,
    ) -> Result<(), StoreError> {
        let key = keys::application(id);
        // Only if still queued: never resurrect a mail recorded as sent.
        if let Some(old) = self.outbox.get(key)? {
            let _ = self
                .outbox
                .compare_and_swap(key, Some(old), Some(encode("outbox", mail)?))?;
        }
        self.sync()
    }
}
