//! Requests and responses.

use serde::{Deserialize, Serialize};

use crate::domain::{
    Applicant, ApplicantForm, ApplicationId, ApplicationState, CustomerId, Date, ProviderCode,
    ServiceStatus, Setting, SettingMethod, Timestamp,
};

/// `POST /api/session`: the credentials as typed; the server parses them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// フレッツナンバー, raw.
    pub customer_id: String,
    /// アクセスキー, raw.
    pub access_key: String,
}

/// Who is logged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The line's customer ID.
    pub customer_id: CustomerId,
    /// Seconds of inactivity after which the session ends.
    pub idle_timeout_secs: u64,
}

/// One row of the top page's service table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRow {
    /// サービス名
    pub name: String,
    /// ご利用状況
    pub status: ServiceStatus,
}

/// `GET /api/line`: the top page (S1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineOverview {
    /// お客さまID
    pub customer_id: CustomerId,
    /// The operator's notices (お知らせ).
    pub notices: Vec<String>,
    /// The status of 回線情報通知機能: 利用中, or 変更中 while a change is worked.
    pub notification_status: ServiceStatus,
    /// The line's other services, read-only.
    pub services: Vec<ServiceRow>,
}

/// `GET /api/notifications`: one provider set to 「通知する」 (S2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRow {
    /// The provider's code.
    pub provider: ProviderCode,
    /// サービス名
    pub service_name: String,
    /// サービス提供者名
    pub provider_name: String,
    /// 利用目的, if the provider stated one.
    pub purpose: Option<String>,
    /// 通知設定
    pub setting: Setting,
    /// 設定日
    pub set_on: Date,
    /// 設定方法
    pub method: SettingMethod,
    /// 最終通知日時: when the customer ID was last given to this provider
    /// (「なし」 if never).
    pub last_disclosed_at: Option<Timestamp>,
    /// A change for this provider is being worked (「変更中」).
    pub pending: bool,
}

/// One provider on S3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRow {
    /// The provider's code.
    pub code: ProviderCode,
    /// サービス名
    pub service_name: String,
    /// サービス提供者名
    pub name: String,
    /// 利用目的, if the provider stated one.
    pub purpose: Option<String>,
    /// A change for this provider is being worked (「変更中」).
    pub pending: bool,
}

/// `GET /api/providers?page=N`: one page of the providers that are
/// 「通知しない」 for this line (S3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderPage {
    /// 件数: how many in all.
    pub total: u64,
    /// This page, from 1.
    pub page: u32,
    /// How many pages (at least 1).
    pub pages: u32,
    /// The page's providers.
    pub items: Vec<ProviderRow>,
}

/// Providers a page of S3 shows.
pub const PROVIDERS_PER_PAGE: u32 = 20;

/// The query of `GET /api/providers`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct PageQuery {
    /// The page, from 1.
    pub page: Option<u32>,
}

/// Why the customer ID was given to a provider (通知の理由, S9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisclosureReason {
    /// 「接続時の照会」: the provider looked the connection up.
    Lookup,
    /// 「「通知する」に設定」: the notice sent when a change to 「通知する」
    /// was done.
    Granted,
}

impl DisclosureReason {
    /// The label S9 shows.
    pub fn label(self) -> &'static str {
        match self {
            Self::Lookup => "接続時の照会",
            Self::Granted => "「通知する」に設定",
        }
    }
}

/// One disclosure on S9.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosureRow {
    /// 通知日時: when the customer ID was given.
    pub at: Timestamp,
    /// サービス名
    pub service_name: String,
    /// サービス提供者名
    pub provider_name: String,
    /// 接続元: the IPv6 prefix the lookup was for (none for a notice sent
    /// on a change to 「通知する」).
    pub prefix: Option<String>,
    /// 通知の理由
    pub reason: DisclosureReason,
}

/// `GET /api/disclosures?page=N`: one page of the line's disclosures,
/// newest first, 20 a page (S9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosurePage {
    /// How many in all.
    pub total: u64,
    /// This page, from 1.
    pub page: u32,
    /// How many pages (at least 1).
    pub pages: u32,
    /// The page's disclosures, newest first.
    pub items: Vec<DisclosureRow>,
}

/// `GET /api/consent`: the consent document in force (同意書).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The operator's version label, e.g. `2026-04`.
    pub version: String,
    /// The text, paragraphs separated by blank lines.
    pub text: String,
    /// SHA-256 of the text, hex: what the application records as agreed.
    pub hash: String,
}

/// `POST /api/applications`: the whole draft, sent once at 「変更」.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitApplication {
    /// A random key made when the subscriber reached S6; a replay with the
    /// same key returns the same receipt.
    pub idempotency_key: String,
    /// The hash of the consent text the subscriber agreed to.
    pub consent_hash: String,
    /// The setting to apply to every provider listed.
    pub setting: Setting,
    /// The providers to change.
    pub providers: Vec<ProviderCode>,
    /// The applicant's details as typed; validated again on the server.
    pub applicant: ApplicantForm,
}

/// One change of an application, with the names as they were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRow {
    /// The provider's code.
    pub provider: ProviderCode,
    /// サービス名
    pub service_name: String,
    /// サービス提供者名
    pub provider_name: String,
    /// 変更後: the setting after the change.
    pub setting: Setting,
}

/// A stored application as the receipt (S7) and history (S8) show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// お申し込みID
    pub id: ApplicationId,
    /// When it was received (stored, never "now").
    pub received_at: Timestamp,
    /// When the work is expected to be done.
    pub expected_done_at: Timestamp,
    /// When the work was done, once it is.
    pub completed_at: Option<Timestamp>,
    /// 受付済, 工事中 or 完了.
    pub state: ApplicationState,
    /// The changes.
    pub changes: Vec<ChangeRow>,
    /// The applicant's details.
    pub applicant: Applicant,
    /// The operator's contact details for enquiries, one item a line.
    pub contact: Vec<String>,
}
