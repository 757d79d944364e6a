//! Read-only audit: every application, setting, pending marker, key, queued
//! step and outbox entry as it is stored, for checks that look at the whole
//! database at once (the crash test, `server/tests/crash.rs`).
//!
//! It reads the trees one after another, not as one snapshot: it is meant
//! for a database that no server is writing to (a stopped server's, or a
//! copy of it). It writes nothing.

use shared::domain::{ApplicationId, CustomerId, ProviderCode};

use super::{SledEngine, corrupt, decode, keys};
use crate::store::{Audit, StoreError, WorkStep};

impl SledEngine {
    /// Reads every application, setting, pending marker, idempotency key,
    /// queued step and outbox entry. Any entry that does not decode is an
    /// error ([`StoreError::Corrupt`]), never skipped.
    pub(super) fn audit_all(&self) -> Result<Audit, StoreError> {
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

/// Splits `customer_id 0x00 rest`.
pub(super) fn split_line<'k>(
    tree: &'static str,
    key: &'k [u8],
) -> Result<(CustomerId, &'k [u8]), StoreError> {
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

pub(super) fn provider_code(tree: &'static str, bytes: &[u8]) -> Result<ProviderCode, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| ProviderCode::parse(s).ok())
        .ok_or_else(|| corrupt(tree, "bad provider code in key"))
}

/// An application ID stored as exactly 8 big-endian bytes.
pub(super) fn application_id(
    tree: &'static str,
    bytes: &[u8],
) -> Result<ApplicationId, StoreError> {
    let n = <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| corrupt(tree, "application ID is not 8 bytes"))?;
    ApplicationId::from_u64(n).map_err(|_| corrupt(tree, "bad application ID"))
}
