//! The values stored in the trees, as JSON. Each is small (well under the
//! ~128 KiB above which sled writes values to separately synced blob files).

use serde::{Deserialize, Serialize};
use shared::api::{ChangeRow, ServiceRow};
use shared::domain::{
    Applicant, ApplicationId, ApplicationState, CustomerId, Date, Setting, SettingMethod, Timestamp,
};

/// A line: its hashed access key and the services on its top page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRecord {
    /// The access key as an Argon2id PHC string.
    pub access_key_hash: String,
    /// The other services shown on the top page.
    pub services: Vec<ServiceRow>,
}

/// A service provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRecord {
    /// サービス名
    pub service_name: String,
    /// サービス提供者名
    pub name: String,
}

/// One line's setting for one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingRecord {
    /// 通知設定
    pub setting: Setting,
    /// 設定日
    pub set_on: Date,
    /// 設定方法
    pub method: SettingMethod,
}

/// The consent document in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// The operator's version label.
    pub version: String,
    /// The text.
    pub text: String,
    /// SHA-256 of the text, hex.
    pub hash: String,
}

/// A submitted application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationRecord {
    /// お申し込みID
    pub id: ApplicationId,
    /// The line it belongs to.
    pub customer_id: CustomerId,
    /// When it was received.
    pub received_at: Timestamp,
    /// When the work is due to be done.
    pub expected_done_at: Timestamp,
    /// When the work was done.
    pub completed_at: Option<Timestamp>,
    /// Where it stands.
    pub state: ApplicationState,
    /// The changes, with the providers' names as they were.
    pub changes: Vec<ChangeRow>,
    /// The applicant.
    pub applicant: Applicant,
    /// The consent document's version agreed to.
    pub consent_version: String,
    /// SHA-256 of the consent text agreed to.
    pub consent_hash: String,
    /// The client's idempotency key.
    pub idempotency_key: String,
    /// When the completion mail was delivered, if it was wished and sent.
    #[serde(default)]
    pub mail_sent_at: Option<Timestamp>,
}

/// A completion mail waiting to be delivered (the mail itself is composed
/// from the application when it is sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    /// Failed deliveries so far.
    pub attempts: u32,
    /// When to try next.
    pub next_attempt_at: Timestamp,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// A logged-in session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The line logged in.
    pub customer_id: CustomerId,
    /// When the session began (for the absolute limit).
    pub created_at: Timestamp,
    /// The last request (for the idle limit).
    pub last_seen: Timestamp,
}

/// Failed logins in a row for one customer ID (known or not, so that a
/// lock says nothing about which IDs exist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFailures {
    /// Failures since the last success or lock.
    pub count: u32,
    /// The last failure.
    pub last_at: Timestamp,
    /// Locked until then, if locked.
    pub locked_until: Option<Timestamp>,
}
