//! The sled engine's side of export and restore (the format is
//! `store::export`'s): its trees as records, and records back into trees
//! with the indexes they imply.

use shared::domain::Date;

use super::audit::{application_id, provider_code, split_line};
use super::lines::provider_code_of;
use super::{SledEngine, corrupt, decode, encode, keys};
use crate::store::export::{
    EventExport, ExportRecord, ExportSink, LineExport, OutboxExport, ProviderExport,
    SequenceExport, SettingExport,
};
use crate::store::{StoreError, rules};

impl SledEngine {
    /// Every durable record, in the export's order.
    pub(super) fn export_all(&self, sink: &mut ExportSink<'_>) -> Result<(), StoreError> {
        if let Some(consent) = self.consent_record()? {
            sink(ExportRecord::Consent(consent))?;
        }
        if self.meta.get("notices")?.is_some() {
            sink(ExportRecord::Notices(self.notices_record()?))?;
        }
        for entry in self.providers.iter() {
            let (key, value) = entry?;
            sink(ExportRecord::Provider(ProviderExport {
                code: provider_code_of(&key)?,
                record: decode("providers", &value)?,
            }))?;
        }
        for entry in self.lines.iter() {
            let (key, value) = entry?;
            let customer_id = std::str::from_utf8(&key)
                .ok()
                .and_then(|s| shared::domain::CustomerId::parse(s).ok())
                .ok_or_else(|| corrupt("lines", "bad customer ID in key"))?;
            sink(ExportRecord::Line(LineExport {
                customer_id,
                record: decode("lines", &value)?,
            }))?;
        }
        for entry in self.settings.iter() {
            let (key, value) = entry?;
            let (customer_id, rest) = split_line("settings", &key)?;
            sink(ExportRecord::Setting(SettingExport {
                customer_id,
                provider: provider_code("settings", rest)?,
                record: decode("settings", &value)?,
            }))?;
        }
        for prefix in self.all_prefixes()? {
            sink(ExportRecord::Prefix(prefix))?;
        }
        for entry in self.meta.scan_prefix(keys::SEQUENCE_PREFIX) {
            let (key, value) = entry?;
            let day = std::str::from_utf8(&key[keys::SEQUENCE_PREFIX.len()..])
                .ok()
                .and_then(|s| Date::parse(s).ok())
                .ok_or_else(|| corrupt("meta", "bad day in a sequence key"))?;
            let last = <[u8; 4]>::try_from(value.as_ref())
                .map(u32::from_be_bytes)
                .map_err(|_| corrupt("meta", "a day's sequence is not 4 bytes"))?;
            sink(ExportRecord::Sequence(SequenceExport { day, last }))?;
        }
        for entry in self.applications.iter() {
            let (_, value) = entry?;
            sink(ExportRecord::Application(decode("applications", &value)?))?;
        }
        for entry in self.outbox.iter() {
            let (key, value) = entry?;
            sink(ExportRecord::Outbox(OutboxExport {
                application_id: application_id("outbox", &key)?,
                record: decode("outbox", &value)?,
            }))?;
        }
        for disclosure in self.all_disclosures() {
            sink(ExportRecord::Disclosure(disclosure?))?;
        }
        for event in self.all_events() {
            let event = event?;
            sink(ExportRecord::Event(EventExport {
                record: event.record,
                delivery: event.delivery,
            }))?;
        }
        for operator in self.operator_records()? {
            sink(ExportRecord::Operator(operator))?;
        }
        for action in self.all_actions() {
            sink(ExportRecord::OperatorAction(action?))?;
        }
        Ok(())
    }

    /// What the database holds (sessions and failure counters aside), if
    /// anything: the first kind of record found.
    pub(super) fn first_non_empty_tree(&self) -> Option<&'static str> {
        [
            ("lines", &self.lines),
            ("providers", &self.providers),
            ("settings", &self.settings),
            ("prefixes", &self.prefixes),
            ("prefixes", &self.line_prefixes),
            ("applications", &self.applications),
            ("applications", &self.line_applications),
            ("applications", &self.idempotency),
            ("pending changes", &self.pending),
            ("queued work", &self.work),
            ("mails", &self.outbox),
            ("disclosures", &self.disclosures),
            ("disclosures", &self.last_disclosures),
            ("events", &self.events),
            ("events", &self.event_queue),
            ("operator accounts", &self.operators),
            ("operator actions", &self.operator_actions),
            ("the consent document, notices or ID sequences", &self.meta),
        ]
        .into_iter()
        .find(|(_, tree)| !tree.is_empty())
        .map(|(name, _)| name)
    }

    fn durable_trees(&self) -> [(&'static str, &::sled::Tree); 18] {
        [
            ("applications", &self.applications),
            ("disclosures", &self.disclosures),
            ("events", &self.events),
            ("event_queue", &self.event_queue),
            ("last_disclosures", &self.last_disclosures),
            ("idempotency", &self.idempotency),
            ("line_applications", &self.line_applications),
            ("line_prefixes", &self.line_prefixes),
            ("lines", &self.lines),
            ("meta", &self.meta),
            ("outbox", &self.outbox),
            ("operators", &self.operators),
            ("operator_actions", &self.operator_actions),
            ("pending", &self.pending),
            ("prefixes", &self.prefixes),
            ("providers", &self.providers),
            ("settings", &self.settings),
            ("work", &self.work),
        ]
    }

    /// Writes checked records, with the indexes and work they imply, then
    /// syncs. Not one transaction: a restore that fails is cleared.
    pub(super) fn restore_sync(&self, records: Vec<ExportRecord>) -> Result<(), StoreError> {
        let mut providers = false;
        for record in records {
            match record {
                ExportRecord::Consent(c) => {
                    self.meta.insert("consent", encode("meta", &c)?)?;
                }
                ExportRecord::Notices(n) => {
                    self.meta.insert("notices", encode("meta", &n)?)?;
                }
                ExportRecord::Provider(p) => {
                    providers = true;
                    self.providers
                        .insert(p.code.as_str(), encode("providers", &p.record)?)?;
                }
                ExportRecord::Line(l) => {
                    self.lines
                        .insert(l.customer_id.as_str(), encode("lines", &l.record)?)?;
                }
                ExportRecord::Setting(s) => {
                    self.settings.insert(
                        keys::line_provider(&s.customer_id, &s.provider),
                        encode("settings", &s.record)?,
                    )?;
                }
                ExportRecord::Prefix(p) => {
                    self.import_prefixes_sync(std::slice::from_ref(&p))?;
                }
                ExportRecord::Sequence(s) => {
                    self.meta
                        .insert(keys::day_sequence(s.day), &s.last.to_be_bytes())?;
                }
                ExportRecord::Application(a) => {
                    let id = keys::application(a.id);
                    self.applications.insert(id, encode("applications", &a)?)?;
                    self.line_applications
                        .insert(keys::line_application(&a.customer_id, a.id), &[])?;
                    self.idempotency.insert(
                        keys::line_idempotency(&a.customer_id, &a.idempotency_key),
                        &id,
                    )?;
                    if rules::holds_providers(&a) {
                        for change in &a.changes {
                            self.pending.insert(
                                keys::line_provider(&a.customer_id, &change.provider),
                                &id,
                            )?;
                        }
                    }
                    for (due, step) in rules::work_of(&a) {
                        self.work.insert(keys::work(due, a.id), &[step as u8])?;
                    }
                }
                ExportRecord::Disclosure(d) => self.write_disclosure(&d)?,
                ExportRecord::Event(e) => self.restore_event(e)?,
                ExportRecord::Operator(o) => {
                    self.operators
                        .insert(o.name.as_str(), encode("operators", &o)?)?;
                }
                ExportRecord::OperatorAction(a) => self.restore_action(&a)?,
                ExportRecord::Outbox(o) => {
                    self.outbox.insert(
                        keys::application(o.application_id),
                        encode("outbox", &o.record)?,
                    )?;
                }
            }
        }
        if providers {
            self.providers_changed();
        }
        self.sync()
    }

    /// Empties every durable tree (a failed restore), then syncs.
    pub(super) fn clear_sync(&self) -> Result<(), StoreError> {
        for (_, tree) in self.durable_trees() {
            tree.clear()?;
        }
        self.providers_changed();
        self.sync()
    }
}
