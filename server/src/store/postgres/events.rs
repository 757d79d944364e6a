//! Events for providers (SPEC §8): written by the completion's batch
//! (`write_events`, in its transaction), pulled by sequence, and delivered
//! with each undelivered event claimed `FOR UPDATE SKIP LOCKED` while it is
//! sent.

use std::collections::BTreeMap;

use shared::domain::{ProviderCode, Timestamp};

use super::{PgEngine, corrupt, from_json, json};
use crate::store::{DisclosureRecord, EventDelivery, EventRecord, StoreError};

/// The events first in their line's queue for their provider: no earlier
/// undelivered event of the same line and provider.
const FIRST_IN_LINE: &str = "e.delivered_at IS NULL AND NOT EXISTS (\
     SELECT 1 FROM events p WHERE p.delivered_at IS NULL AND p.provider = e.provider \
     AND p.customer_id = e.customer_id AND p.sequence < e.sequence)";

pub(super) fn delivery_of(row: &tokio_postgres::Row, first: usize) -> EventDelivery {
    EventDelivery {
        attempts: u32::try_from(row.get::<_, i32>(first)).unwrap_or(0),
        next_attempt_at: Timestamp::from_unix(row.get(first + 1)),
        last_error: row.get(first + 2),
        delivered_at: row
            .get::<_, Option<i64>>(first + 3)
            .map(Timestamp::from_unix),
    }
}

fn sequence(what: &'static str, n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| corrupt(what, format!("sequence {n} is out of range")))
}

/// Writes `events` (their sequences still 0), with the disclosures the
/// grants are logged as, in the completion's transaction: draws each
/// provider's sequences under its counter's row lock, taken in code order
/// so that two completions never wait on each other in a circle.
pub(super) async fn write_events(
    tx: &deadpool_postgres::Transaction<'_>,
    mut events: Vec<EventRecord>,
    disclosures: &[DisclosureRecord],
    now: Timestamp,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for event in &events {
        *counts.entry(event.provider.as_str()).or_default() += 1;
    }
    let (codes, added): (Vec<&str>, Vec<i64>) = counts.into_iter().unzip();
    let drawn = tx
        .query(
            "INSERT INTO event_sequences (provider, last) \
             SELECT * FROM unnest($1::text[], $2::bigint[]) ORDER BY 1 \
             ON CONFLICT (provider) DO UPDATE SET last = event_sequences.last + EXCLUDED.last \
             RETURNING provider, last",
            &[&codes, &added],
        )
        .await?;
    // The first sequence of each provider's new events.
    let mut next: BTreeMap<String, u64> = BTreeMap::new();
    for row in &drawn {
        let (code, last): (String, i64) = (row.get(0), row.get(1));
        let count = codes
            .iter()
            .position(|c| *c == code)
            .map(|i| added[i])
            .ok_or_else(|| corrupt("event_sequences", "a counter not asked for"))?;
        next.insert(code, u64::try_from(last - count + 1).unwrap_or(1));
    }
    for event in &mut events {
        let seq = next
            .get_mut(event.provider.as_str())
            .ok_or_else(|| corrupt("event_sequences", "no counter drawn"))?;
        event.sequence = *seq;
        *seq += 1;
    }
    let providers: Vec<&str> = events.iter().map(|e| e.provider.as_str()).collect();
    let sequences = events
        .iter()
        .map(|e| sequence("events", e.sequence))
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let lines: Vec<&str> = events.iter().map(|e| e.customer_id.as_str()).collect();
    let records = events
        .iter()
        .map(|e| json("events", e))
        .collect::<Result<Vec<_>, _>>()?;
    tx.execute(
        "INSERT INTO events (provider, sequence, id, customer_id, record, next_attempt_at) \
         SELECT p, s, i, c, r, $6 \
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[]) AS e(p, s, i, c, r)",
        &[&providers, &sequences, &ids, &lines, &records, &now.unix()],
    )
    .await?;
    if !disclosures.is_empty() {
        let ids: Vec<&str> = disclosures.iter().map(|d| d.id.as_str()).collect();
        let lines: Vec<&str> = disclosures.iter().map(|d| d.customer_id.as_str()).collect();
        let providers: Vec<&str> = disclosures.iter().map(|d| d.provider.as_str()).collect();
        let ats: Vec<i64> = disclosures.iter().map(|d| d.at.unix()).collect();
        let records = disclosures
            .iter()
            .map(|d| json("disclosures", d))
            .collect::<Result<Vec<_>, _>>()?;
        tx.execute(
            "INSERT INTO disclosures (id, customer_id, provider, at, record) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::jsonb[])",
            &[&ids, &lines, &providers, &ats, &records],
        )
        .await?;
        tx.execute(
            "UPDATE settings s SET last_disclosed_at = d.at \
             FROM unnest($1::text[], $2::text[], $3::bigint[]) AS d(c, p, at) \
             WHERE s.customer_id = d.c AND s.provider = d.p \
             AND (s.last_disclosed_at IS NULL OR s.last_disclosed_at < d.at)",
            &[&lines, &providers, &ats],
        )
        .await?;
    }
    Ok(())
}

/// Writes a restored event, and moves its provider's counter up to it.
pub(super) async fn restore_event(
    tx: &deadpool_postgres::Transaction<'_>,
    e: &crate::store::export::EventExport,
) -> Result<(), StoreError> {
    let (record, delivery) = (&e.record, &e.delivery);
    let sequence = sequence("events", record.sequence)?;
    tx.execute(
        "INSERT INTO events (provider, sequence, id, customer_id, record, attempts, \
         next_attempt_at, last_error, delivered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &record.provider.as_str(),
            &sequence,
            &record.id,
            &record.customer_id.as_str(),
            &json("events", record)?,
            &i32::try_from(delivery.attempts).unwrap_or(i32::MAX),
            &delivery.next_attempt_at.unix(),
            &delivery.last_error,
            &delivery.delivered_at.map(Timestamp::unix),
        ],
    )
    .await?;
    tx.execute(
        "INSERT INTO event_sequences (provider, last) VALUES ($1, $2) \
         ON CONFLICT (provider) DO UPDATE SET last = GREATEST(event_sequences.last, EXCLUDED.last)",
        &[&record.provider.as_str(), &sequence],
    )
    .await?;
    Ok(())
}

impl PgEngine {
    /// Up to `limit` of a provider's events after `after`, in order.
    pub(super) async fn events_after(
        &self,
        provider: &ProviderCode,
        after: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT record FROM events WHERE provider = $1 AND sequence > $2 \
                 ORDER BY sequence LIMIT $3",
            )
            .await?;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        client
            .query(&statement, &[&provider.as_str(), &after, &limit])
            .await?
            .into_iter()
            .map(|row| from_json("events", row.get(0)))
            .collect()
    }

    /// Claims up to `limit` of the events due at `now`, first in line,
    /// delivers them at once while holding their rows, and records how
    /// each went, in one transaction: other processes skip the rows meanwhile,
    /// and if this one dies, its connection, and with it the claim, goes.
    pub(super) async fn deliver_events(
        &self,
        now: Timestamp,
        limit: usize,
        deliver: &crate::store::DeliverEvent,
    ) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                &format!(
                    "SELECT e.record, e.attempts, e.next_attempt_at, e.last_error, e.delivered_at \
                     FROM events e WHERE e.next_attempt_at <= $1 AND {FIRST_IN_LINE} \
                     ORDER BY e.next_attempt_at, e.provider, e.sequence LIMIT $2 \
                     FOR UPDATE OF e SKIP LOCKED"
                ),
                &[&now.unix(), &i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .await?;
        let mut due = Vec::with_capacity(rows.len());
        for row in &rows {
            let record: EventRecord = from_json("events", row.get(0))?;
            due.push((record, delivery_of(row, 1)));
        }
        let tried = due.len();
        let outcomes = futures_util::future::join_all(due.into_iter().map(|(record, delivery)| {
            let attempt = deliver(record.clone(), delivery);
            async move { (record, attempt.await) }
        }))
        .await;
        if !outcomes.is_empty() {
            let providers: Vec<&str> = outcomes.iter().map(|(e, _)| e.provider.as_str()).collect();
            let sequences = outcomes
                .iter()
                .map(|(e, _)| sequence("events", e.sequence))
                .collect::<Result<Vec<_>, _>>()?;
            let attempts: Vec<i32> = outcomes
                .iter()
                .map(|(_, d)| i32::try_from(d.attempts).unwrap_or(i32::MAX))
                .collect();
            let next: Vec<i64> = outcomes
                .iter()
                .map(|(_, d)| d.next_attempt_at.unix())
                .collect();
            let errors: Vec<Option<&str>> = outcomes
                .iter()
                .map(|(_, d)| d.last_error.as_deref())
                .collect();
            let delivered: Vec<Option<i64>> = outcomes
                .iter()
                .map(|(_, d)| d.delivered_at.map(Timestamp::unix))
                .collect();
            tx.execute(
                "UPDATE events e SET attempts = d.a, next_attempt_at = d.n, last_error = d.l, \
                 delivered_at = d.at \
                 FROM unnest($1::text[], $2::bigint[], $3::int[], $4::bigint[], $5::text[], \
                 $6::bigint[]) AS d(p, s, a, n, l, at) \
                 WHERE e.provider = d.p AND e.sequence = d.s",
                &[
                    &providers, &sequences, &attempts, &next, &errors, &delivered,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(tried)
    }

    /// When the next event may be delivered.
    pub(super) async fn next_event(&self) -> Result<Option<Timestamp>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                &format!("SELECT min(e.next_attempt_at) FROM events e WHERE {FIRST_IN_LINE}"),
                &[],
            )
            .await?;
        Ok(row.get::<_, Option<i64>>(0).map(Timestamp::from_unix))
    }

    /// Every undelivered event, by provider then sequence.
    pub(super) async fn undelivered(
        &self,
    ) -> Result<Vec<(EventRecord, EventDelivery)>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT record, attempts, next_attempt_at, last_error, delivered_at FROM events \
                 WHERE delivered_at IS NULL ORDER BY provider, sequence",
                &[],
            )
            .await?
            .iter()
            .map(|row| Ok((from_json("events", row.get(0))?, delivery_of(row, 1))))
            .collect()
    }
}
