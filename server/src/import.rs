//! The operator's import file (SPEC §5): providers, lines, notices and the
//! consent document. The whole file is checked before anything is written;
//! an error names the entry and field at fault.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use shared::api::ServiceRow;
use shared::domain::{
    AccessKey, CustomerId, Date, ProviderCode, ServiceStatus, Setting, SettingMethod,
};

use crate::password;
use crate::store::{
    ConsentRecord, ImportData, ImportReport, LineImport, LineRecord, ProviderRecord, SettingRecord,
    Store, StoreError,
};

/// The import file as written by the operator.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportFile {
    /// Providers, added or updated by code.
    #[serde(default)]
    pub providers: Vec<ProviderEntry>,
    /// Lines, added or updated by customer ID.
    #[serde(default)]
    pub lines: Vec<LineEntry>,
    /// The notices on the top page; when given, they replace the old ones.
    pub notices: Option<Vec<String>>,
    /// The consent document; when given, it replaces the old one.
    pub consent: Option<ConsentEntry>,
}

/// A provider in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    /// Its code, e.g. `W0001`.
    pub code: String,
    /// サービス名
    pub service_name: String,
    /// サービス提供者名
    pub name: String,
}

/// A line in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineEntry {
    /// フレッツナンバー
    pub customer_id: String,
    /// The access key in plain text, hashed on import.
    pub access_key: Option<String>,
    /// Or the key's Argon2 PHC string, for lines migrated already hashed.
    pub access_key_hash: Option<String>,
    /// The other services on the top page.
    #[serde(default)]
    pub services: Vec<ServiceEntry>,
    /// Settings per provider.
    #[serde(default)]
    pub notifications: Vec<NotificationEntry>,
}

/// A service of a line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    /// サービス名
    pub name: String,
    /// ご利用状況, e.g. 利用中.
    pub status: ServiceStatus,
}

/// A line's setting for one provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationEntry {
    /// The provider's code.
    pub provider: String,
    /// `notify` or `do_not_notify`.
    pub setting: Setting,
    /// 設定日, `YYYY-MM-DD`.
    pub set_on: String,
    /// 設定方法, e.g. 初期設定.
    pub method: String,
}

/// The consent document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentEntry {
    /// A version label, e.g. `2026-04`.
    pub version: String,
    /// The text.
    pub text: String,
}

/// Why a file was not imported. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not JSON of the import format; the path names the entry
    /// and field, e.g. `lines[2].notifications[0].setting`.
    #[error("{path}: {message}")]
    Json {
        /// Where in the file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An entry's field is wrong: `at` names the entry and field.
    #[error("{at}: {message}")]
    Invalid {
        /// Where, e.g. `lines[2] (CAF0000000003).notifications[0].provider`.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(at: impl Into<String>, message: impl ToString) -> ImportError {
    ImportError::Invalid {
        at: at.into(),
        message: message.to_string(),
    }
}

/// Reads, checks and imports a file.
pub fn import_path(store: &Store, path: &Path) -> Result<ImportReport, ImportError> {
    let text = std::fs::read(path).map_err(|source| ImportError::Read {
        path: path.display().to_string(),
        source,
    })?;
    import(store, parse(&text)?)
}

/// Parses an import file; an error names the entry and field at fault.
pub fn parse(text: &[u8]) -> Result<ImportFile, ImportError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| ImportError::Json {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// Checks a whole file, then writes it in one transaction.
pub fn import(store: &Store, file: ImportFile) -> Result<ImportReport, ImportError> {
    let data = check(store, file)?;
    Ok(store.import(&data)?)
}

/// Text fields of providers and services: 1 to 100 characters, no control
/// characters.
fn text(at: &str, value: &str) -> Result<String, ImportError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(at, "must not be empty"));
    }
    if value.chars().count() > 100 || value.chars().any(char::is_control) {
        return Err(invalid(
            at,
            "must be at most 100 characters without control characters",
        ));
    }
    Ok(value.to_owned())
}

fn check(store: &Store, file: ImportFile) -> Result<ImportData, ImportError> {
    let mut providers = Vec::with_capacity(file.providers.len());
    let mut codes = HashSet::new();
    for (i, p) in file.providers.iter().enumerate() {
        let at = format!("providers[{i}]");
        let code = ProviderCode::parse(&p.code).map_err(|e| invalid(format!("{at}.code"), e))?;
        if !codes.insert(code.clone()) {
            return Err(invalid(
                format!("{at}.code"),
                format!("provider {code} appears twice"),
            ));
        }
        let record = ProviderRecord {
            service_name: text(&format!("{at}.service_name"), &p.service_name)?,
            name: text(&format!("{at}.name"), &p.name)?,
        };
        providers.push((code, record));
    }

    let mut lines = Vec::with_capacity(file.lines.len());
    let mut ids = HashSet::new();
    for (i, l) in file.lines.iter().enumerate() {
        let at = format!("lines[{i}]");
        let id = CustomerId::parse(&l.customer_id)
            .map_err(|e| invalid(format!("{at}.customer_id"), e))?;
        let at = format!("{at} ({id})");
        if !ids.insert(id.clone()) {
            return Err(invalid(
                format!("{at}.customer_id"),
                format!("line {id} appears twice"),
            ));
        }
        let key = match (&l.access_key, &l.access_key_hash) {
            (Some(key), None) => KeyInput::Plain(
                AccessKey::parse(key).map_err(|e| invalid(format!("{at}.access_key"), e))?,
            ),
            (None, Some(phc)) if password::is_valid_phc(phc) => KeyInput::Hash(phc.clone()),
            (None, Some(_)) => {
                return Err(invalid(
                    format!("{at}.access_key_hash"),
                    "is not an Argon2 PHC string",
                ));
            }
            _ => {
                return Err(invalid(
                    &at,
                    "needs exactly one of access_key and access_key_hash",
                ));
            }
        };
        let mut services = Vec::with_capacity(l.services.len());
        for (j, s) in l.services.iter().enumerate() {
            services.push(ServiceRow {
                name: text(&format!("{at}.services[{j}].name"), &s.name)?,
                status: s.status,
            });
        }
        let mut settings = Vec::with_capacity(l.notifications.len());
        let mut seen = HashSet::new();
        for (j, n) in l.notifications.iter().enumerate() {
            let nat = format!("{at}.notifications[{j}]");
            let code = ProviderCode::parse(&n.provider)
                .map_err(|e| invalid(format!("{nat}.provider"), e))?;
            if !codes.contains(&code) && store.provider(&code)?.is_none() {
                return Err(invalid(
                    format!("{nat}.provider"),
                    format!("unknown provider {code}"),
                ));
            }
            if !seen.insert(code.clone()) {
                return Err(invalid(
                    format!("{nat}.provider"),
                    format!("provider {code} appears twice"),
                ));
            }
            let set_on = Date::parse(&n.set_on).map_err(|e| invalid(format!("{nat}.set_on"), e))?;
            let method =
                SettingMethod::parse(&n.method).map_err(|e| invalid(format!("{nat}.method"), e))?;
            settings.push((
                code,
                SettingRecord {
                    setting: n.setting,
                    set_on,
                    method,
                },
            ));
        }
        lines.push((id, key, services, settings));
    }

    let notices = match file.notices {
        Some(notices) => Some(
            notices
                .iter()
                .enumerate()
                .map(|(i, n)| long_text(&format!("notices[{i}]"), n, 1_000))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let consent = match file.consent {
        Some(c) => {
            let version = text("consent.version", &c.version)?;
            let text = long_text("consent.text", &c.text, 20_000)?;
            let hash = hex::encode(Sha256::digest(text.as_bytes()));
            Some(ConsentRecord {
                version,
                text,
                hash,
            })
        }
        None => None,
    };

    // Hash keys only once the whole file is known to be good. A key that
    // matches the stored hash keeps it, so a second import changes nothing.
    let mut resolved = Vec::with_capacity(lines.len());
    for (id, key, services, settings) in lines {
        let access_key_hash = match key {
            KeyInput::Hash(phc) => phc,
            KeyInput::Plain(key) => match store.line(&id)? {
                Some(old) if password::verify(&key, &old.access_key_hash) => old.access_key_hash,
                _ => password::hash(&key).map_err(|e| invalid(format!("line {id}"), e))?,
            },
        };
        resolved.push(LineImport {
            id,
            record: LineRecord {
                access_key_hash,
                services,
            },
            settings,
        });
    }
    Ok(ImportData {
        providers,
        lines: resolved,
        notices,
        consent,
    })
}

enum KeyInput {
    Plain(AccessKey),
    Hash(String),
}

/// Notices and consent text: kept as written (line breaks allowed), not empty.
fn long_text(at: &str, value: &str, max: usize) -> Result<String, ImportError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(at, "must not be empty"));
    }
    if value.chars().count() > max || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid(
            at,
            format!("must be at most {max} characters without control characters but line breaks"),
        ));
    }
    Ok(value.to_owned())
}
