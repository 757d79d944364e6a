//! Reads of lines, providers and settings: what S1, S2 and S3 show.

use shared::api::{LineOverview, NotificationRow, PROVIDERS_PER_PAGE, ProviderPage, ProviderRow};
use shared::domain::{CustomerId, ProviderCode, ServiceStatus, Setting};

use super::{
    ConsentRecord, LineRecord, ProviderRecord, SettingRecord, Store, StoreError, decode, keys,
};

impl Store {
    /// A line, if loaded.
    pub fn line(&self, id: &CustomerId) -> Result<Option<LineRecord>, StoreError> {
        self.lines
            .get(id.as_str())?
            .map(|v| decode("lines", &v))
            .transpose()
    }

    /// The operator's notices.
    pub fn notices(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .meta
            .get("notices")?
            .map(|v| decode("meta", &v))
            .transpose()?
            .unwrap_or_default())
    }

    /// The consent document in force, if one was loaded.
    pub fn consent(&self) -> Result<Option<ConsentRecord>, StoreError> {
        self.meta
            .get("consent")?
            .map(|v| decode("meta", &v))
            .transpose()
    }

    /// The top page of a line that exists.
    pub fn overview(&self, id: &CustomerId, line: &LineRecord) -> Result<LineOverview, StoreError> {
        let changing = self
            .pending
            .scan_prefix(keys::line_prefix(id))
            .next()
            .transpose()?
            .is_some();
        Ok(LineOverview {
            customer_id: id.clone(),
            notices: self.notices()?,
            notification_status: if changing {
                ServiceStatus::Changing
            } else {
                ServiceStatus::InUse
            },
            services: line.services.clone(),
        })
    }

    /// A provider, if loaded.
    pub fn provider(&self, code: &ProviderCode) -> Result<Option<ProviderRecord>, StoreError> {
        self.providers
            .get(code.as_str())?
            .map(|v| decode("providers", &v))
            .transpose()
    }

    /// The providers set to 「通知する」 for a line, in code order.
    pub fn notifications(&self, id: &CustomerId) -> Result<Vec<NotificationRow>, StoreError> {
        let prefix = keys::line_prefix(id);
        let mut rows = Vec::new();
        for entry in self.settings.scan_prefix(&prefix) {
            let (key, value) = entry?;
            let record: SettingRecord = decode("settings", &value)?;
            if record.setting != Setting::Notify {
                continue;
            }
            let code = provider_code_of(&key[prefix.len()..])?;
            let provider = self.provider(&code)?.ok_or_else(|| StoreError::Corrupt {
                tree: "settings",
                detail: format!("setting for unknown provider {code}"),
            })?;
            rows.push(NotificationRow {
                pending: self.pending.contains_key(&key)?,
                provider: code,
                service_name: provider.service_name,
                provider_name: provider.name,
                setting: record.setting,
                set_on: record.set_on,
                method: record.method,
            });
        }
        Ok(rows)
    }

    /// One page of the providers that are 「通知しない」 for a line, in code
    /// order. A page past the last gives the last page.
    pub fn provider_page(&self, id: &CustomerId, page: u32) -> Result<ProviderPage, StoreError> {
        let per_page = PROVIDERS_PER_PAGE as usize;
        let mut matching = Vec::new();
        for entry in self.providers.iter() {
            let (key, value) = entry?;
            let code = provider_code_of(&key)?;
            let setting_key = keys::line_provider(id, &code);
            let notify = match self.settings.get(&setting_key)? {
                Some(v) => decode::<SettingRecord>("settings", &v)?.setting == Setting::Notify,
                None => false,
            };
            if !notify {
                matching.push((code, value, setting_key));
            }
        }
        let total = matching.len();
        let pages = total.div_ceil(per_page).max(1);
        let page = (page.max(1) as usize).min(pages);
        let mut items = Vec::with_capacity(per_page);
        for (code, value, setting_key) in matching
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
        {
            let provider: ProviderRecord = decode("providers", &value)?;
            items.push(ProviderRow {
                pending: self.pending.contains_key(&setting_key)?,
                code,
                service_name: provider.service_name,
                name: provider.name,
            });
        }
        Ok(ProviderPage {
            total: total as u64,
            page: u32::try_from(page).unwrap_or(u32::MAX),
            pages: u32::try_from(pages).unwrap_or(u32::MAX),
            items,
        })
    }

    /// A line's setting for a provider; none recorded means 「通知しない」.
    pub fn setting(
        &self,
        id: &CustomerId,
        code: &ProviderCode,
    ) -> Result<Option<SettingRecord>, StoreError> {
        self.settings
            .get(keys::line_provider(id, code))?
            .map(|v| decode("settings", &v))
            .transpose()
    }
}

fn provider_code_of(bytes: &[u8]) -> Result<ProviderCode, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| ProviderCode::parse(s).ok())
        .ok_or_else(|| StoreError::Corrupt {
            tree: "providers",
            detail: "bad provider code in key".into(),
        })
}
