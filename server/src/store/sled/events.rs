//! Events for providers (SPEC §8): `events` holds each under
//! `provider_code 0x00 sequence` with its delivery; `event_queue` indexes
//! the undelivered ones under `provider_code 0x00 customer_id 0x00
//! sequence`, so that the first key of each line's group is the event
//! next in line for delivery. The events are written by the completion's
//! transaction (`applications.rs`); each provider's last sequence is in
//! `meta` (`keys::event_sequence`).

use ::sled::Transactional;
use ::sled::transaction::{ConflictableTransactionError, TransactionError};
use serde::{Deserialize, Serialize};
use shared::domain::{ProviderCode, Timestamp};

use super::{SledEngine, corrupt, decode, encode, keys};
use crate::store::export::EventExport;
use crate::store::{EventDelivery, EventRecord, StoreError};

/// An event as stored: the record and how its delivery stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredEvent {
    pub record: EventRecord,
    pub delivery: EventDelivery,
}

/// The key of the event a [`queued_event`](keys::queued_event) key names.
fn event_key_of_queued(key: &[u8]) -> Result<Vec<u8>, StoreError> {
    let bad = || corrupt("event_queue", "bad key");
    let split = key.iter().position(|b| *b == 0).ok_or_else(bad)?;
    let sequence = keys::trailing_u64(key).ok_or_else(bad)?;
    let mut event = key[..=split].to_vec();
    event.extend_from_slice(&sequence.to_be_bytes());
    Ok(event)
}

impl SledEngine {
    /// Up to `limit` of a provider's events after `after`, in order.
    pub(super) fn events_after(
        &self,
        provider: &ProviderCode,
        after: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let end = keys::event(provider, u64::MAX);
        self.events
            .range(keys::event(provider, first)..=end)
            .values()
            .take(limit)
            .map(|value| Ok(decode::<StoredEvent>("events", &value?)?.record))
            .collect()
    }

    /// The events first in their line's queue, each with its key, in key
    /// order (one probe per line and provider with undelivered events).
    fn queue_heads(&self) -> Result<Vec<(Vec<u8>, StoredEvent)>, StoreError> {
        let mut heads = Vec::new();
        let mut from = Vec::new();
        while let Some(entry) = self.event_queue.range(from.as_slice()..).next() {
            let (key, _) = entry?;
            let group = key
                .len()
                .checked_sub(8)
                .map(|end| &key[..end])
                .ok_or_else(|| corrupt("event_queue", "bad key"))?;
            // Past every key of this group: the group, then more than 8
            // bytes of 0xFF.
            from = group.to_vec();
            from.extend_from_slice(&[0xFF; 9]);
            let event_key = event_key_of_queued(&key)?;
            let value = self
                .events
                .get(&event_key)?
                .ok_or_else(|| corrupt("event_queue", "queued event is missing"))?;
            heads.push((event_key, decode("events", &value)?));
        }
        Ok(heads)
    }

    /// Up to `limit` of the events due at `now`, first in their queues.
    pub(super) fn due_events(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        Ok(self
            .queue_heads()?
            .into_iter()
            .map(|(_, event)| event)
            .filter(|event| event.delivery.next_attempt_at <= now)
            .take(limit)
            .collect())
    }

    /// When the oldest undelivered event's change was done (each line's
    /// first in line is its oldest).
    pub(super) fn oldest_undelivered_event(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self
            .queue_heads()?
            .iter()
            .map(|(_, event)| event.record.at)
            .min())
    }

    /// When the next event may be delivered.
    pub(super) fn next_event(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self
            .queue_heads()?
            .iter()
            .map(|(_, event)| event.delivery.next_attempt_at)
            .min())
    }

    /// Records how the deliveries went, durably: a delivered event leaves
    /// its queue.
    pub(super) fn record_deliveries_sync(
        &self,
        outcomes: &[(EventRecord, EventDelivery)],
    ) -> Result<(), StoreError> {
        for (record, delivery) in outcomes {
            let key = keys::event(&record.provider, record.sequence);
            let queued = keys::queued_event(&record.provider, &record.customer_id, record.sequence);
            let value = encode(
                "events",
                &StoredEvent {
                    record: record.clone(),
                    delivery: delivery.clone(),
                },
            )?;
            (&self.events, &self.event_queue)
                .transaction(|(events, queue)| {
                    events.insert(key.as_slice(), value.as_slice())?;
                    if delivery.delivered_at.is_some() {
                        queue.remove(queued.as_slice())?;
                    }
                    Ok::<_, ConflictableTransactionError<StoreError>>(())
                })
                .map_err(|e| match e {
                    TransactionError::Abort(e) => e,
                    TransactionError::Storage(e) => e.into(),
                })?;
        }
        self.sync()
    }

    /// Every undelivered event, by provider then sequence.
    pub(super) fn undelivered(&self) -> Result<Vec<(EventRecord, EventDelivery)>, StoreError> {
        let mut waiting = Vec::new();
        for key in self.event_queue.iter().keys() {
            let event_key = event_key_of_queued(&key?)?;
            let value = self
                .events
                .get(&event_key)?
                .ok_or_else(|| corrupt("event_queue", "queued event is missing"))?;
            let event: StoredEvent = decode("events", &value)?;
            waiting.push((event.record, event.delivery));
        }
        waiting.sort_by(|(a, _), (b, _)| (&a.provider, a.sequence).cmp(&(&b.provider, b.sequence)));
        Ok(waiting)
    }

    /// Writes a restored event, queued if undelivered, and moves its
    /// provider's last sequence up to it (not synced: the restore syncs).
    pub(super) fn restore_event(&self, e: EventExport) -> Result<(), StoreError> {
        let (code, sequence) = (&e.record.provider, e.record.sequence);
        if e.delivery.delivered_at.is_none() {
            self.event_queue.insert(
                keys::queued_event(code, &e.record.customer_id, sequence),
                &[],
            )?;
        }
        let seq_key = keys::event_sequence(code);
        let last = self
            .meta
            .get(&seq_key)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        if sequence > last {
            self.meta
                .insert(seq_key.as_bytes(), &sequence.to_be_bytes())?;
        }
        let key = keys::event(code, sequence);
        let stored = StoredEvent {
            record: e.record,
            delivery: e.delivery,
        };
        self.events.insert(key, encode("events", &stored)?)?;
        Ok(())
    }

    /// Every event, by provider then sequence (the export's order).
    pub(super) fn all_events(&self) -> impl Iterator<Item = Result<StoredEvent, StoreError>> + '_ {
        self.events
            .iter()
            .values()
            .map(|value| decode("events", &value?))
    }
}
