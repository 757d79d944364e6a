//! Reads of lines, providers and settings: what S1, S2 and S3 show.

use std::sync::PoisonError;

use shared::api::{LineOverview, NotificationRow, PROVIDERS_PER_PAGE, ProviderPage, ProviderRow};
use shared::domain::{CustomerId, ProviderCode, ServiceStatus, Setting};

use super::{
    ConsentRecord, LineRecord, ProviderRecord, SettingRecord, Store, StoreError, decode, keys,
};

/// Every provider in code order: see [`Store::catalogue`].
pub type Catalogue = std::sync::Arc<[(ProviderCode, ProviderRecord)]>;

/// The kept [`Catalogue`], if any, and how many times it was forgotten.
#[derive(Default)]
pub(super) struct KeptCatalogue {
    forgotten: u64,
    catalogue: Option<Catalogue>,
}

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
        let catalogue = self.catalogue()?;
        let pending = self.pending_providers(&prefix)?;
        let mut rows = Vec::new();
        for entry in self.settings.scan_prefix(&prefix) {
            let (key, value) = entry?;
            let record: SettingRecord = decode("settings", &value)?;
            if record.setting != Setting::Notify {
                continue;
            }
            let code = provider_code_of(&key[prefix.len()..])?;
            let provider = catalogue
                .binary_search_by(|(c, _)| c.as_str().cmp(code.as_str()))
                .map(|i| catalogue[i].1.clone())
                .map_err(|_| StoreError::Corrupt {
                    tree: "settings",
                    detail: format!("setting for unknown provider {code}"),
                })?;
            rows.push(NotificationRow {
                pending: pending.contains(&key[prefix.len()..]),
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

    /// Every provider in code order. Read from the tree once and kept:
    /// providers change only by an import or a restore, which forget it.
    pub fn catalogue(&self) -> Result<Catalogue, StoreError> {
        let forgotten = {
            let kept = self
                .catalogue
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(catalogue) = &kept.catalogue {
                return Ok(catalogue.clone());
            }
            kept.forgotten
        };
        let mut all = Vec::new();
        for entry in self.providers.iter() {
            let (key, value) = entry?;
            all.push((provider_code_of(&key)?, decode("providers", &value)?));
        }
        let catalogue: Catalogue = all.into();
        let mut kept = self
            .catalogue
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Forgotten meanwhile: providers were written while they were read,
        // so what was read may be out of date. Keep it only if not.
        if kept.forgotten == forgotten {
            kept.catalogue = Some(catalogue.clone());
        }
        Ok(catalogue)
    }

    /// The codes (as bytes) of the providers with a change pending for the
    /// line whose key prefix is `prefix`: one scan, usually empty.
    fn pending_providers(
        &self,
        prefix: &[u8],
    ) -> Result<std::collections::HashSet<Vec<u8>>, StoreError> {
        self.pending
            .scan_prefix(prefix)
            .keys()
            .map(|key| Ok(key?[prefix.len()..].to_vec()))
            .collect()
    }

    /// Forgets the kept [`Self::catalogue`]; called by whatever writes
    /// providers.
    pub(super) fn forget_catalogue(&self) {
        let mut kept = self
            .catalogue
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        kept.forgotten += 1;
        kept.catalogue = None;
    }

    /// One page of the providers that are 「通知しない」 for a line, in code
    /// order. A page past the last gives the last page.
    pub fn provider_page(&self, id: &CustomerId, page: u32) -> Result<ProviderPage, StoreError> {
        let per_page = PROVIDERS_PER_PAGE as usize;
        // The line's 「通知する」 providers, from its own few settings, then
        // every other provider of the catalogue: no read per provider.
        let prefix = keys::line_prefix(id);
        let mut notified = std::collections::HashSet::new();
        for entry in self.settings.scan_prefix(&prefix) {
            let (key, value) = entry?;
            if decode::<SettingRecord>("settings", &value)?.setting == Setting::Notify {
                notified.insert(key[prefix.len()..].to_vec());
            }
        }
        let catalogue = self.catalogue()?;
        let pending = self.pending_providers(&prefix)?;
        let matching: Vec<_> = catalogue
            .iter()
            .filter(|(code, _)| !notified.contains(code.as_str().as_bytes()))
            .collect();
        let total = matching.len();
        let pages = total.div_ceil(per_page).max(1);
        let page = (page.max(1) as usize).min(pages);
        let mut items = Vec::with_capacity(per_page);
        for (code, provider) in matching
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
        {
            let (code, provider) = (code.clone(), provider.clone());
            items.push(ProviderRow {
                pending: pending.contains(code.as_str().as_bytes()),
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
