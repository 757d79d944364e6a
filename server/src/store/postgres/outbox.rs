//! The outbox of completion mails, claimed with a lease, and the queues'
//! figures.

use shared::domain::{ApplicationId, Timestamp};

use super::applications::record_of;
use super::{PgEngine, application_id, json};
use crate::store::{Deliver, Delivery, OutboxRecord, Queues, StoreError};

fn outbox_record(attempts: i32, next: i64, last_error: Option<String>) -> OutboxRecord {
    OutboxRecord {
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt_at: Timestamp::from_unix(next),
        last_error,
    }
}

impl PgEngine {
    /// Delivers the due mails one at a time, each in a transaction that
    /// holds its outbox row (`FOR UPDATE SKIP LOCKED`) while it is sent:
    /// other processes skip it, and if this one dies, its connection, and
    /// with it the claim, goes.
    pub(super) async fn deliver(
        &self,
        now: Timestamp,
        limit: usize,
        deliver: &Deliver,
    ) -> Result<usize, StoreError> {
        let (mut tried, mut after) = (0, i64::MIN);
        while tried < limit {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let Some(row) = tx
                .query_opt(
                    "SELECT o.application_id, o.attempts, o.next_attempt_at, o.last_error, a.record \
                     FROM outbox o JOIN applications a ON a.id = o.application_id \
                     WHERE o.next_attempt_at <= $1 AND o.application_id > $2 \
                     ORDER BY o.application_id LIMIT 1 FOR UPDATE OF o SKIP LOCKED",
                    &[&now.unix(), &after],
                )
                .await?
            else {
                tx.commit().await?;
                return Ok(tried);
            };
            tried += 1;
            let key: i64 = row.get(0);
            after = key;
            let mut record = record_of(row.get(4))?;
            let mail = outbox_record(row.get(1), row.get(2), row.get(3));
            match deliver(record.clone(), mail).await {
                Delivery::Sent(at) => {
                    tx.execute("DELETE FROM outbox WHERE application_id = $1", &[&key])
                        .await?;
                    record.mail_sent_at = Some(at);
                    tx.execute(
                        "UPDATE applications SET record = $2 WHERE id = $1",
                        &[&key, &json("applications", &record)?],
                    )
                    .await?;
                }
                Delivery::Failed(retry) => {
                    tx.execute(
                        "UPDATE outbox SET attempts = $2, next_attempt_at = $3, last_error = $4 \
                         WHERE application_id = $1",
                        &[
                            &key,
                            &i32::try_from(retry.attempts).unwrap_or(i32::MAX),
                            &retry.next_attempt_at.unix(),
                            &retry.last_error,
                        ],
                    )
                    .await?;
                }
            }
            tx.commit().await?;
        }
        Ok(tried)
    }

    /// Every mail waiting, in application ID order.
    pub(super) async fn outbox_entries(
        &self,
    ) -> Result<Vec<(ApplicationId, OutboxRecord)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT application_id, attempts, next_attempt_at, last_error FROM outbox \
                 ORDER BY application_id",
                &[],
            )
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok((
                    application_id("outbox", row.get(0))?,
                    outbox_record(row.get(1), row.get(2), row.get(3)),
                ))
            })
            .collect()
    }

    /// How much work, mail and events wait, and how old the oldest is.
    pub(super) async fn queues_at(&self, now: Timestamp) -> Result<Queues, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT \
                   (SELECT count(*) FROM work), \
                   (SELECT min((a.record->>'received_at')::bigint) FROM work w \
                      JOIN applications a ON a.id = w.application_id), \
                   (SELECT count(*) FROM outbox), \
                   (SELECT min((a.record->>'completed_at')::bigint) FROM outbox o \
                      JOIN applications a ON a.id = o.application_id), \
                   (SELECT count(*) FROM events WHERE delivered_at IS NULL), \
                   (SELECT min((record->>'at')::bigint) FROM events WHERE delivered_at IS NULL)",
                &[],
            )
            .await?;
        let age = |at: Option<i64>| at.map_or(0, |at| (now.unix() - at).max(0));
        Ok(Queues {
            work: usize::try_from(row.get::<_, i64>(0)).unwrap_or(0),
            oldest_work_age_secs: age(row.get(1)),
            mail: usize::try_from(row.get::<_, i64>(2)).unwrap_or(0),
            oldest_mail_age_secs: age(row.get(3)),
            events: usize::try_from(row.get::<_, i64>(4)).unwrap_or(0),
            oldest_event_age_secs: age(row.get(5)),
        })
    }
}
