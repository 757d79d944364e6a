//! What a line has: services, providers' codes and notification settings.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::FieldError;

/// Whether a provider receives the line's customer ID. A provider with no
/// setting recorded is [`Setting::DoNotNotify`]: disclosure is opt-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// 「通知する」
    Notify,
    /// 「通知しない」
    #[default]
    DoNotNotify,
}

impl Setting {
    /// The label the screens show.
    pub fn label(self) -> &'static str {
        match self {
            Self::Notify => "通知する",
            Self::DoNotNotify => "通知しない",
        }
    }
}

/// How a setting came about (設定方法), e.g. 「初期設定」 or 「申込受付ページ」.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SettingMethod(String);

impl SettingMethod {
    /// The method of a change applied from this portal.
    pub const WEB: &'static str = "申込受付ページ";

    /// A change made through this portal.
    pub fn web() -> Self {
        Self(Self::WEB.to_owned())
    }

    /// Accepts 1 to 40 characters without control characters.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(FieldError::Missing("設定方法"));
        }
        if s.chars().count() > 40 {
            return Err(FieldError::TooLong {
                label: "設定方法",
                max: 40,
            });
        }
        if s.chars().any(char::is_control) {
            return Err(FieldError::ControlChar("設定方法"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The method as shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SettingMethod {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SettingMethod> for String {
    fn from(m: SettingMethod) -> Self {
        m.0
    }
}

/// A service's status on the top page (ご利用状況).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ServiceStatus {
    /// 利用中: in use.
    #[serde(rename = "利用中")]
    InUse,
    /// 未契約: not subscribed.
    #[serde(rename = "未契約")]
    NotSubscribed,
    /// 登録中: being registered.
    #[serde(rename = "登録中")]
    Registering,
    /// 変更中: a change is being worked.
    #[serde(rename = "変更中")]
    Changing,
    /// 廃止中: being cancelled.
    #[serde(rename = "廃止中")]
    Cancelling,
    /// 通知: notified.
    #[serde(rename = "通知")]
    Notified,
}

impl ServiceStatus {
    /// The label the top page shows.
    pub fn label(self) -> &'static str {
        match self {
            Self::InUse => "利用中",
            Self::NotSubscribed => "未契約",
            Self::Registering => "登録中",
            Self::Changing => "変更中",
            Self::Cancelling => "廃止中",
            Self::Notified => "通知",
        }
    }
}

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationState {
    /// 受付済: stored, the work not yet started.
    Received,
    /// 工事中: the provisioning work is under way.
    InProgress,
    /// 完了: the change has taken effect.
    Completed,
}

impl ApplicationState {
    /// The label the screens show.
    pub fn label(self) -> &'static str {
        match self {
            Self::Received => "受付済",
            Self::InProgress => "工事中",
            Self::Completed => "完了",
        }
    }
}

/// A service provider's code, e.g. `W0001`: 1 to 16 ASCII letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderCode(String);

impl ProviderCode {
    /// Parses a code.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        if !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::ProviderCodeFormat)
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProviderCode {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ProviderCode> for String {
    fn from(c: ProviderCode) -> Self {
        c.0
    }
}

impl fmt::Display for ProviderCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_uses_the_import_files_words() {
        assert_eq!(
            serde_json::to_string(&Setting::Notify).unwrap(),
            "\"notify\""
        );
        assert_eq!(
            serde_json::from_str::<Setting>("\"do_not_notify\"").unwrap(),
            Setting::DoNotNotify
        );
        assert_eq!(Setting::default(), Setting::DoNotNotify);
    }

    #[test]
    fn service_status_reads_japanese_labels() {
        let s: ServiceStatus = serde_json::from_str("\"利用中\"").unwrap();
        assert_eq!(s, ServiceStatus::InUse);
        assert!(serde_json::from_str::<ServiceStatus>("\"使用中\"").is_err());
    }

    #[test]
    fn provider_code_is_short_ascii_alphanumeric() {
        assert!(ProviderCode::parse("W0001").is_ok());
        for bad in ["", "W-1", "ｗ1", &"A".repeat(17)] {
            assert_eq!(
                ProviderCode::parse(bad),
                Err(FieldError::ProviderCodeFormat),
                "{bad}"
            );
        }
    }

    #[test]
    fn setting_method_is_trimmed_and_bounded() {
        assert_eq!(
            SettingMethod::parse(" 初期設定 ").unwrap().as_str(),
            "初期設定"
        );
        assert!(SettingMethod::parse("").is_err());
        assert!(SettingMethod::parse(&"あ".repeat(41)).is_err());
    }
}
