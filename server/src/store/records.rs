//! The records the store keeps and returns, the same for every engine.
//! sled stores them as JSON values; PostgreSQL as rows; the export writes
//! them as JSON (`store::export`).

use serde::{Deserialize, Serialize};
use shared::api::{ChangeRow, ServiceRow};

use shared::domain::{
    Applicant, ApplicationId, ApplicationState, CustomerId, Date, ProviderCode, Setting,
    SettingMethod, Timestamp,
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
    /// 利用目的: why it receives the customer ID (SPEC §8), if stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Its registration for the provider API, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ProviderApi>,
}

/// A provider's registration for the provider API (SPEC §8), checked at
/// import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderApi {
    /// Its OAuth client ID, unique among providers.
    pub client_id: String,
    /// The public keys its client assertions are signed with (a JWK set).
    pub jwks: serde_json::Value,
    /// Where its events are POSTed.
    pub webhook_url: String,
    /// The key its events are signed with (`whsec_…`).
    pub webhook_secret: String,
}

/// The shortest and longest prefix a line may be given: the network
/// delegates /48 to /64 (lookups try each length in this range).
pub const PREFIX_LENGTHS: std::ops::RangeInclusive<u8> = 32..=64;

/// Which line the network gave an IPv6 prefix, from when until when
/// (SPEC §5 `prefixes`). An assignment is known by its prefix and its
/// start; at any instant a prefix belongs to at most one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixRecord {
    /// The prefix, its host bits zero.
    pub prefix: ipnet::Ipv6Net,
    /// When it was given to the line.
    pub from: Timestamp,
    /// When it was taken back; none while the line holds it.
    pub until: Option<Timestamp>,
    /// The line.
    pub customer_id: CustomerId,
}

impl PrefixRecord {
    /// Whether the line held the prefix at `at`.
    pub fn holds_at(&self, at: Timestamp) -> bool {
        self.from <= at && self.until.is_none_or(|until| at < until)
    }

    /// Whether the two assignments share an address at some instant.
    pub fn overlaps(&self, other: &Self) -> bool {
        let (a, b) = (&self.prefix, &other.prefix);
        let shares_addresses = a.contains(b) || b.contains(a);
        let shares_time = self.until.is_none_or(|until| other.from < until)
            && other.until.is_none_or(|until| self.from < until);
        shares_addresses && shares_time
    }
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
    pub changes: Vec<ChangeRecord>,
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

/// One change of an application, with the provider's names as they were
/// when it was submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// The provider's code.
    pub provider: ProviderCode,
    /// サービス名
    pub service_name: String,
    /// サービス提供者名
    pub provider_name: String,
    /// The setting asked for.
    pub setting: Setting,
}

impl From<ChangeRecord> for ChangeRow {
    fn from(c: ChangeRecord) -> Self {
        Self {
            provider: c.provider,
            service_name: c.service_name,
            provider_name: c.provider_name,
            setting: c.setting,
        }
    }
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

/// What a line has set and what is changing for it: its recorded settings
/// and its pending changes, read together, with the version of the
/// provider catalogue they were read against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineSettings {
    /// The catalogue's version when these were read (see
    /// [`crate::store::Store::catalogue`]).
    pub catalogue_version: u64,
    /// Every recorded setting, in provider code order. A provider without
    /// one is 「通知しない」.
    pub settings: Vec<(ProviderCode, SettingRecord)>,
    /// The providers with a change being worked, and the application
    /// working it, in provider code order.
    pub pending: Vec<(ProviderCode, ApplicationId)>,
    /// When the customer ID was last given to each provider that ever
    /// received it, in provider code order.
    pub last_disclosed: Vec<(ProviderCode, Timestamp)>,
}

impl LineSettings {
    /// Whether a change is being worked for `code`.
    pub fn is_pending(&self, code: &ProviderCode) -> bool {
        self.pending.iter().any(|(c, _)| c == code)
    }

    /// When the customer ID was last given to `code`, if ever.
    pub fn last_disclosed_to(&self, code: &ProviderCode) -> Option<Timestamp> {
        self.last_disclosed
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, at)| *at)
    }
}

/// One time a line's customer ID was given to a provider (SPEC §8): kept
/// for good, also after the setting is revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosureRecord {
    /// Its ID, given to the provider (a UUID, time-ordered).
    pub id: String,
    /// When it was given.
    pub at: Timestamp,
    /// The line.
    pub customer_id: CustomerId,
    /// The provider that received it.
    pub provider: ProviderCode,
    /// Why.
    pub reason: shared::api::DisclosureReason,
    /// For a lookup: the prefix that held the address, and the time of the
    /// connection the provider asked about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<LookupRecord>,
    /// For a notice on a change to 「通知する」: the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<ApplicationId>,
}

/// What an event tells a provider (SPEC §8, "Events").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventKind {
    /// The line was set to 「通知する」: the event carries its customer ID,
    /// and is a disclosure.
    #[serde(rename = "notification.granted")]
    Granted,
    /// The line was set to 「通知しない」: the provider, which had received
    /// the customer ID, must delete it.
    #[serde(rename = "notification.revoked")]
    Revoked,
}

/// An event for a provider, written in the transaction that completed the
/// change (an outbox), and kept for good: the provider pulls it by its
/// sequence, and the webhook worker pushes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Its ID (a UUID, time-ordered): the `webhook-id`, the same at every
    /// attempt, for the provider to de-duplicate by.
    pub id: String,
    /// The provider it is for.
    pub provider: ProviderCode,
    /// Its place among the provider's events, from 1, without gaps: the
    /// pull cursor. Drawn under a lock on the provider's counter, so events
    /// become visible in sequence order and a cursor never skips one.
    pub sequence: u64,
    /// What it tells.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// When the change was done.
    pub at: Timestamp,
    /// The line.
    pub customer_id: CustomerId,
    /// The application that made the change.
    pub application_id: ApplicationId,
    /// For `notification.granted`: the disclosure it is logged as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosure_id: Option<String>,
}

/// How an event's delivery to the provider's webhook stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDelivery {
    /// Failed attempts so far.
    pub attempts: u32,
    /// When to try next (while not delivered).
    pub next_attempt_at: Timestamp,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the webhook answered 2xx, once it has.
    pub delivered_at: Option<Timestamp>,
}

impl EventDelivery {
    /// A new event's: due at `at`.
    pub fn due(at: Timestamp) -> Self {
        Self {
            attempts: 0,
            next_attempt_at: at,
            last_error: None,
            delivered_at: None,
        }
    }
}

/// What a lookup asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupRecord {
    /// The line's prefix that held the address.
    pub prefix: ipnet::Ipv6Net,
    /// The connection's time the provider gave (or the lookup's).
    pub connected_at: Timestamp,
}

/// One page of a line's disclosures, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosurePage {
    /// How many the line has.
    pub total: u64,
    /// This page's.
    pub items: Vec<DisclosureRecord>,
}

/// A provider that a line has set to 「通知する」 (S2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notified {
    /// The provider's code.
    pub code: ProviderCode,
    /// The provider.
    pub provider: ProviderRecord,
    /// The line's setting for it.
    pub setting: SettingRecord,
    /// Whether a change for it is being worked.
    pub pending: bool,
    /// When the customer ID was last given to it, if ever.
    pub last_disclosed_at: Option<Timestamp>,
}

/// A provider that a line may add (S3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    /// The provider's code.
    pub code: ProviderCode,
    /// The provider.
    pub provider: ProviderRecord,
    /// Whether a change for it is being worked.
    pub pending: bool,
}

/// One page of [`Offered`] providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedPage {
    /// How many providers the line may add, on all pages.
    pub total: u64,
    /// This page's number, from 1.
    pub page: u32,
    /// How many pages there are (at least 1).
    pub pages: u32,
    /// This page's providers, in code order.
    pub items: Vec<Offered>,
}

/// What an import writes before its lines: small, so kept whole (the
/// prefixes are written after the lines they name).
#[derive(Debug, Clone, Default)]
pub struct ImportHead {
    /// Providers to add or update.
    pub providers: Vec<(ProviderCode, ProviderRecord)>,
    /// Notices replacing the old ones, if given.
    pub notices: Option<Vec<String>>,
    /// A consent document replacing the old one, if given.
    pub consent: Option<ConsentRecord>,
}

/// One line to import.
#[derive(Debug, Clone)]
pub struct LineImport {
    /// Its customer ID.
    pub id: CustomerId,
    /// Its record.
    pub record: LineRecord,
    /// Its settings per provider.
    pub settings: Vec<(ProviderCode, SettingRecord)>,
}

/// How many records an import wrote (records equal to the stored ones are
/// not written, so a second import of one file reports zeros).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Providers added or changed.
    pub providers: usize,
    /// Lines added or changed.
    pub lines: usize,
    /// Settings added or changed.
    pub settings: usize,
    /// Prefix assignments added or changed.
    pub prefixes: usize,
    /// Whether the notices changed.
    pub notices: bool,
    /// Whether the consent document changed.
    pub consent: bool,
}

impl ImportReport {
    /// Adds what `other` wrote.
    pub fn add(&mut self, other: Self) {
        self.providers += other.providers;
        self.lines += other.lines;
        self.settings += other.settings;
        self.prefixes += other.prefixes;
        self.notices |= other.notices;
        self.consent |= other.consent;
    }
}
