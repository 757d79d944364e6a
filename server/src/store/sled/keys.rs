//! Key layouts. Numbers are big-endian so that byte order is numeric order;
//! composite keys put the line first, so one line's entries are one prefix.

use shared::domain::{ApplicationId, CustomerId, Date, ProviderCode, Timestamp};

/// `customer_id ++ 0x00`: the prefix of one line's entries.
pub fn line_prefix(id: &CustomerId) -> Vec<u8> {
    let mut key = id.as_str().as_bytes().to_vec();
    key.push(0);
    key
}

/// `customer_id ++ 0x00 ++ provider_code`.
pub fn line_provider(id: &CustomerId, code: &ProviderCode) -> Vec<u8> {
    let mut key = line_prefix(id);
    key.extend_from_slice(code.as_str().as_bytes());
    key
}

/// `customer_id ++ 0x00 ++ idempotency_key`.
pub fn line_idempotency(id: &CustomerId, idempotency_key: &str) -> Vec<u8> {
    let mut key = line_prefix(id);
    key.extend_from_slice(idempotency_key.as_bytes());
    key
}

/// `customer_id ++ 0x00 ++ application_id (u64 BE)`.
pub fn line_application(id: &CustomerId, app: ApplicationId) -> Vec<u8> {
    let mut key = line_prefix(id);
    key.extend_from_slice(&app.to_u64().to_be_bytes());
    key
}

/// `seq/YYYY-MM-DD` in `meta`: a day's last application sequence.
pub fn day_sequence(day: Date) -> String {
    format!("{SEQUENCE_PREFIX}{day}")
}

/// The prefix of every [`day_sequence`] key.
pub const SEQUENCE_PREFIX: &str = "seq/";

/// `application_id (u64 BE)`.
pub fn application(app: ApplicationId) -> [u8; 8] {
    app.to_u64().to_be_bytes()
}

/// `due (i64 BE, offset so negatives sort first) ++ application_id (u64 BE)`.
pub fn work(due: Timestamp, app: ApplicationId) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&work_due_prefix(due));
    key[8..].copy_from_slice(&app.to_u64().to_be_bytes());
    key
}

/// The first 8 bytes of a [`work`] key: every key due before `due` sorts
/// below it.
pub fn work_due_prefix(due: Timestamp) -> [u8; 8] {
    instant(due)
}

/// An instant as 8 bytes that sort in time order (i64 BE, offset so that
/// negatives sort first): the time part of work, prefix and disclosure
/// keys.
pub fn instant(at: Timestamp) -> [u8; 8] {
    (at.unix() as u64 ^ (1 << 63)).to_be_bytes()
}

/// Splits a [`work`] key.
pub fn parse_work(key: &[u8]) -> Option<(Timestamp, u64)> {
    let due = u64::from_be_bytes(key.get(..8)?.try_into().ok()?) ^ (1 << 63);
    let app = u64::from_be_bytes(key.get(8..16)?.try_into().ok()?);
    Some((Timestamp::from_unix(due as i64), app))
}

/// `provider_code ++ 0x00`: the prefix of one provider's events.
pub fn provider_prefix(code: &ProviderCode) -> Vec<u8> {
    let mut key = code.as_str().as_bytes().to_vec();
    key.push(0);
    key
}

/// `provider_code ++ 0x00 ++ sequence (u64 BE)`: an event.
pub fn event(code: &ProviderCode, sequence: u64) -> Vec<u8> {
    let mut key = provider_prefix(code);
    key.extend_from_slice(&sequence.to_be_bytes());
    key
}

/// `provider_code ++ 0x00 ++ customer_id ++ 0x00 ++ sequence (u64 BE)`: an
/// undelivered event in its line's queue for the provider.
pub fn queued_event(code: &ProviderCode, line: &CustomerId, sequence: u64) -> Vec<u8> {
    let mut key = provider_prefix(code);
    key.extend_from_slice(&line_prefix(line));
    key.extend_from_slice(&sequence.to_be_bytes());
    key
}

/// `events/<provider_code>` in `meta`: the provider's last event sequence.
pub fn event_sequence(code: &ProviderCode) -> String {
    format!("events/{code}")
}

/// The last 8 bytes of a key as a big-endian u64.
pub fn trailing_u64(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key[start..].try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_keys_sort_by_due_time_then_id() {
        let id = ApplicationId::parse(
            &shared::domain::ApplicationId::new(
                shared::domain::Date::parse("2026-01-01").unwrap(),
                1,
            )
            .to_string(),
        )
        .unwrap();
        let early = work(Timestamp::from_unix(100), id);
        let late = work(Timestamp::from_unix(5_000_000_000), id);
        assert!(early < late);
        assert_eq!(
            parse_work(&late),
            Some((Timestamp::from_unix(5_000_000_000), id.to_u64()))
        );
    }
}
