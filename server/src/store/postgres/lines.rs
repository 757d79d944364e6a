//! Reads of lines, providers, settings, the consent document and notices.

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::domain::{CustomerId, ProviderCode, Timestamp};

use super::{PgEngine, application_id, corrupt, from_json, from_text, json};
use crate::store::{LineRecord, LineSettings, ProviderRecord, SettingRecord, StoreError};

/// The columns of a provider, as [`provider_of`] reads them.
pub(super) const PROVIDER_COLUMNS: &str = "code, service_name, name, purpose, api";

/// A provider from the [`PROVIDER_COLUMNS`] of its row.
pub(super) fn provider_of(
    row: &tokio_postgres::Row,
) -> Result<(ProviderCode, ProviderRecord), StoreError> {
    Ok((
        from_text("providers", row.get(0))?,
        ProviderRecord {
            service_name: row.get(1),
            name: row.get(2),
            purpose: row.get(3),
            api: row
                .get::<_, Option<serde_json::Value>>(4)
                .map(|api| from_json("providers", api))
                .transpose()?,
        },
    ))
}

/// A setting from its row: (provider, setting, set_on, method).
pub(super) fn setting_of(
    row: &tokio_postgres::Row,
) -> Result<(ProviderCode, SettingRecord), StoreError> {
    Ok((
        from_text("settings", row.get(0))?,
        SettingRecord {
            setting: from_text("settings", row.get(1))?,
            set_on: from_text("settings", row.get(2))?,
            method: from_text("settings", row.get(3))?,
        },
    ))
}

impl PgEngine {
    /// A line, if loaded.
    pub(super) async fn line_record(
        &self,
        id: &CustomerId,
    ) -> Result<Option<LineRecord>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT access_key_hash, services FROM lines WHERE customer_id = $1")
            .await?;
        let row = client.query_opt(&statement, &[&id.as_str()]).await?;
        row.map(|row| {
            Ok(LineRecord {
                access_key_hash: row.get(0),
                services: from_json("lines", row.get(1))?,
            })
        })
        .transpose()
    }

    /// A line's settings and pending changes, and the catalogue's version,
    /// in one statement (so from one snapshot), prepared once per
    /// connection: S2 and S3 read it at every request.
    pub(super) async fn settings_of(&self, id: &CustomerId) -> Result<LineSettings, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT c.version, s.providers, s.settings, s.set_ons, s.methods, \
                        p.providers, p.applications, s.lasts \
                 FROM catalogue c, \
                 LATERAL (SELECT array_agg(provider ORDER BY provider) AS providers, \
                                 array_agg(setting ORDER BY provider) AS settings, \
                                 array_agg(set_on ORDER BY provider) AS set_ons, \
                                 array_agg(method ORDER BY provider) AS methods, \
                                 array_agg(last_disclosed_at ORDER BY provider) AS lasts \
                          FROM settings WHERE customer_id = $1) s, \
                 LATERAL (SELECT array_agg(provider ORDER BY provider) AS providers, \
                                 array_agg(application_id ORDER BY provider) AS applications \
                          FROM pending WHERE customer_id = $1) p",
            )
            .await?;
        let row = client.query_one(&statement, &[&id.as_str()]).await?;
        // `array_agg` of no rows is NULL.
        let texts = |i| row.get::<_, Option<Vec<String>>>(i).unwrap_or_default();
        let (providers, settings, set_ons, methods) = (texts(1), texts(2), texts(3), texts(4));
        let lasts = row
            .get::<_, Option<Vec<Option<i64>>>>(7)
            .unwrap_or_default();
        if [settings.len(), set_ons.len(), methods.len(), lasts.len()] != [providers.len(); 4] {
            return Err(corrupt("settings", "columns of different lengths"));
        }
        let last_disclosed = providers
            .iter()
            .zip(lasts)
            .filter_map(|(provider, at)| Some((provider, at?)))
            .map(|(provider, at)| {
                Ok((
                    from_text("settings", provider.clone())?,
                    Timestamp::from_unix(at),
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        let settings = providers
            .into_iter()
            .zip(settings)
            .zip(set_ons.into_iter().zip(methods))
            .map(|((provider, setting), (set_on, method))| {
                Ok((
                    from_text("settings", provider)?,
                    SettingRecord {
                        setting: from_text("settings", setting)?,
                        set_on: from_text("settings", set_on)?,
                        method: from_text("settings", method)?,
                    },
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        let pending_providers = texts(5);
        let applications = row.get::<_, Option<Vec<i64>>>(6).unwrap_or_default();
        if applications.len() != pending_providers.len() {
            return Err(corrupt("pending", "columns of different lengths"));
        }
        let pending = pending_providers
            .into_iter()
            .zip(applications)
            .map(|(provider, application)| {
                Ok((
                    from_text("pending", provider)?,
                    application_id("pending", application)?,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(LineSettings {
            catalogue_version: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
            settings,
            pending,
            last_disclosed,
        })
    }

    /// A singleton of `meta`, if stored.
    pub(super) async fn meta<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT value FROM meta WHERE key = $1")
            .await?;
        let row = client.query_opt(&statement, &[&key]).await?;
        row.map(|row| from_json("meta", row.get(0))).transpose()
    }

    /// Stores a singleton of `meta`.
    pub(super) async fn put_meta<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&key, &json("meta", value)?],
            )
            .await?;
        Ok(())
    }

    /// A provider, if loaded.
    pub(super) async fn provider_record(
        &self,
        code: &ProviderCode,
    ) -> Result<Option<ProviderRecord>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {PROVIDER_COLUMNS} FROM providers WHERE code = $1"),
                &[&code.as_str()],
            )
            .await?;
        row.map(|row| provider_of(&row).map(|(_, record)| record))
            .transpose()
    }

    /// Every provider in code order, with the catalogue's version, read in
    /// one snapshot.
    pub(super) async fn all_providers(
        &self,
    ) -> Result<(u64, Vec<(ProviderCode, ProviderRecord)>), StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let version = tx.query_one("SELECT version FROM catalogue", &[]).await?;
        let rows = tx
            .query(
                &format!("SELECT {PROVIDER_COLUMNS} FROM providers ORDER BY code"),
                &[],
            )
            .await?;
        tx.commit().await?;
        let providers = rows.iter().map(provider_of).collect::<Result<_, _>>()?;
        Ok((
            u64::try_from(version.get::<_, i64>(0)).unwrap_or(0),
            providers,
        ))
    }
}
