//! Read-only audit: every application, setting, pending marker, key, queued
//! step and outbox entry as it is stored, for checks that look at the whole
//! database at once (the crash test, `server/tests/crash.rs`).
//!
//! [`Store::audit`] reads the trees one after another, not as one snapshot:
//! it is meant for a database that no server is writing to (a stopped
//! server's, or a copy of it). It writes nothing.

use shared::domain::{ApplicationId, CustomerId, ProviderCode, Timestamp};

use super::{
    ApplicationRecord, OutboxRecord, SettingRecord, Store, StoreError, WorkStep, decode, keys,
};

/// Everything [`Store::audit`] reads, each list in key order.
#[derive(Debug, Clone)]
pub struct Audit {
    /// Every application, in ID order.
    pub applications: Vec<ApplicationRecord>,
    /// The line index (`line_applications`): (line, application).
    pub line_applications: Vec<(CustomerId, ApplicationId)>,
    /// Every recorded setting: (line, provider, setting). A pair without one
    /// is 「通知しない」.
    pub settings: Vec<(CustomerId, ProviderCode, SettingRecord)>,
    /// Pending markers: (line, provider, the application changing it).
    pub pending: Vec<(CustomerId, ProviderCode, ApplicationId)>,
    /// Idempotency keys: (line, key, the application it made).
    pub idempotency: Vec<(CustomerId, String, ApplicationId)>,
    /// The worker's queue: (due, application, step), in due order.
    pub work: Vec<(Timestamp, ApplicationId, WorkStep)>,
    /// Completion mails not yet delivered: (application, entry).
    pub outbox: Vec<(ApplicationId, OutboxRecord)>,
}

impl Store {
    /// Reads every application, setting, pending marker, idempotency key,
    /// queued step and outbox entry. Any entry that does not decode is an
    /// error ([`StoreError::Corrupt`]), never skipped.
    pub fn audit(&self) -> Result<Audit, StoreError> {
        let mut applications = Vec::new();
        for entry in self.applications.iter() {
            let (_, value) = entry?;
            applications.push(decode("applications", &value)?);
        }

        let mut line_applications = Vec::new();
        for entry in self.line_applications.iter() {
            let (key, _) = entry?;
            let (line, rest) = split_line("line_applications", &key)?;
            line_applications.push((line, application_id("line_applications", rest)?));
        }

        let mut settings = Vec::new();
        for entry in self.settings.iter() {
            let (key, value) = entry?;
            let (line, rest) = split_line("settings", &key)?;
            settings.push((
                line,
                provider_code("settings", rest)?,
                decode("settings", &value)?,
            ));
        }

        let mut pending = Vec::new();
        for entry in self.pending.iter() {
            let (key, value) = entry?;
            let (line, rest) = split_line("pending", &key)?;
            pending.push((
                line,
                provider_code("pending", rest)?,
                application_id("pending", &value)?,
            ));
        }

        let mut idempotency = Vec::new();
        for entry in self.idempotency.iter() {
            let (key, value) = entry?;
            let (line, rest) = split_line("idempotency", &key)?;
            let idempotency_key = std::str::from_utf8(rest)
                .map_err(|_| corrupt("idempotency", "key is not UTF-8"))?
                .to_owned();
            idempotency.push((
                line,
                idempotency_key,
                application_id("idempotency", &value)?,
            ));
        }

        let mut work = Vec::new();
        for entry in self.work.iter() {
            let (key, value) = entry?;
            let (due, id) = keys::parse_work(&key).ok_or_else(|| corrupt("work", "bad key"))?;
            let id = ApplicationId::from_u64(id).map_err(|_| corrupt("work", "bad id"))?;
            let step = match value.as_ref() {
                [0] => WorkStep::Start,
                [1] => WorkStep::Complete,
                _ => return Err(corrupt("work", "bad step")),
            };
            work.push((due, id, step));
        }

        let mut outbox = Vec::new();
        for entry in self.outbox.iter() {
            let (key, value) = entry?;
            outbox.push((application_id("outbox", &key)?, decode("outbox", &value)?));
        }

        Ok(Audit {
            applications,
            line_applications,
            settings,
            pending,
            idempotency,
            work,
            outbox,
        })
    }
}

fn corrupt(tree: &'static str, detail: &str) -> StoreError {
    StoreError::Corrupt {
        tree,
        detail: detail.to_owned(),
    }
}

/// Splits `customer_id 0x00 rest`.
fn split_line<'k>(tree: &'static str, key: &'k [u8]) -> Result<(CustomerId, &'k [u8]), StoreError> {
    let at = key
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| corrupt(tree, "key without a line prefix"))?;
    let line = std::str::from_utf8(&key[..at])
        .ok()
        .and_then(|s| CustomerId::parse(s).ok())
        .ok_or_else(|| corrupt(tree, "bad customer ID in key"))?;
    Ok((line, &key[at + 1..]))
}

fn provider_code(tree: &'static str, bytes: &[u8]) -> Result<ProviderCode, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| ProviderCode::parse(s).ok())
        .ok_or_else(|| corrupt(tree, "bad provider code in key"))
}

/// An application ID stored as exactly 8 big-endian bytes.
fn application_id(tree: &'static str, bytes: &[u8]) -> Result<ApplicationId, StoreError> {
    let n = <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| corrupt(tree, "application ID is not 8 bytes"))?;
    ApplicationId::from_u64(n).map_err(|_| corrupt(tree, "bad application ID"))
}
