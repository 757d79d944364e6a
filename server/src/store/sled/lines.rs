//! Reads of lines, providers, settings, the consent document and notices.

use shared::domain::{ApplicationId, CustomerId, ProviderCode};

use super::{SledEngine, corrupt, decode, keys};
use crate::store::{
    ConsentRecord, LineRecord, LineSettings, ProviderRecord, SettingRecord, StoreError,
};

impl SledEngine {
    /// A line, if loaded.
    pub(super) fn line_record(&self, id: &CustomerId) -> Result<Option<LineRecord>, StoreError> {
        self.lines
            .get(id.as_str())?
            .map(|v| decode("lines", &v))
            .transpose()
    }

    /// The operator's notices.
    pub(super) fn notices_record(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .meta
            .get("notices")?
            .map(|v| decode("meta", &v))
            .transpose()?
            .unwrap_or_default())
    }

    /// The consent document in force, if one was loaded.
    pub(super) fn consent_record(&self) -> Result<Option<ConsentRecord>, StoreError> {
        self.meta
            .get("consent")?
            .map(|v| decode("meta", &v))
            .transpose()
    }

    /// A provider, if loaded.
    pub(super) fn provider_record(
        &self,
        code: &ProviderCode,
    ) -> Result<Option<ProviderRecord>, StoreError> {
        self.providers
            .get(code.as_str())?
            .map(|v| decode("providers", &v))
            .transpose()
    }

    /// Every provider, in code order.
    pub(super) fn all_providers(&self) -> Result<Vec<(ProviderCode, ProviderRecord)>, StoreError> {
        let mut all = Vec::new();
        for entry in self.providers.iter() {
            let (key, value) = entry?;
            all.push((provider_code_of(&key)?, decode("providers", &value)?));
        }
        Ok(all)
    }

    /// A line's settings and pending changes: two prefix scans.
    pub(super) fn settings_of(&self, id: &CustomerId) -> Result<LineSettings, StoreError> {
        let prefix = keys::line_prefix(id);
        let catalogue_version = self
            .catalogue_version
            .load(std::sync::atomic::Ordering::SeqCst);
        let mut settings = Vec::new();
        for entry in self.settings.scan_prefix(&prefix) {
            let (key, value) = entry?;
            let record: SettingRecord = decode("settings", &value)?;
            settings.push((provider_code_of(&key[prefix.len()..])?, record));
        }
        let mut pending = Vec::new();
        for entry in self.pending.scan_prefix(&prefix) {
            let (key, value) = entry?;
            let id = keys::trailing_u64(&value)
                .filter(|_| value.len() == 8)
                .and_then(|n| ApplicationId::from_u64(n).ok())
                .ok_or_else(|| corrupt("pending", "bad application id"))?;
            pending.push((provider_code_of(&key[prefix.len()..])?, id));
        }
        Ok(LineSettings {
            catalogue_version,
            settings,
            pending,
            last_disclosed: self.last_disclosed(&prefix)?,
        })
    }
}

/// A provider code stored as a key (or the end of one).
pub(super) fn provider_code_of(bytes: &[u8]) -> Result<ProviderCode, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| ProviderCode::parse(s).ok())
        .ok_or_else(|| corrupt("providers", "bad provider code in key"))
}
