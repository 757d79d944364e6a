//! The line's credentials: customer ID (フレッツナンバー) and access key.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{FieldError, to_half_width_ascii};

/// A line's customer ID: `CAF` followed by 10 digits, e.g. `CAF0000000001`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CustomerId(String);

impl CustomerId {
    /// Parses what a subscriber typed: full-width characters, lower case and
    /// surrounding spaces are accepted and normalised.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let id = to_half_width_ascii(raw).trim().to_ascii_uppercase();
        let digits = id.strip_prefix("CAF").ok_or(FieldError::CustomerIdFormat)?;
        if digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(id))
        } else {
            Err(FieldError::CustomerIdFormat)
        }
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ID with all but `CAF` and its last four digits hidden
    /// (`CAF******0001`): how mails and logs show it.
    pub fn masked(&self) -> String {
        format!("CAF******{}", &self.0[self.0.len() - 4..])
    }
}

impl TryFrom<String> for CustomerId {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CustomerId> for String {
    fn from(id: CustomerId) -> Self {
        id.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A line's access key: the secret printed on paper for the subscriber.
/// Printable ASCII, 1 to 64 characters, case-sensitive. `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccessKey(String);

impl AccessKey {
    /// The longest key accepted.
    pub const MAX_LEN: usize = 64;

    /// Parses a typed key; full-width characters become half-width.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let key = to_half_width_ascii(raw).trim().to_owned();
        let printable = key.bytes().all(|b| b.is_ascii_graphic());
        if key.is_empty() || key.len() > Self::MAX_LEN || !printable {
            return Err(FieldError::AccessKeyFormat);
        }
        Ok(Self(key))
    }

    /// The key as text, for hashing and verifying only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccessKey {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AccessKey> for String {
    fn from(key: AccessKey) -> Self {
        key.0
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_id_shows_only_prefix_and_last_four_digits() {
        assert_eq!(
            CustomerId::parse("CAF0123456789").unwrap().masked(),
            "CAF******6789"
        );
    }

    #[test]
    fn plain_customer_id_is_accepted() {
        assert_eq!(
            CustomerId::parse("CAF0000000001").unwrap().as_str(),
            "CAF0000000001"
        );
    }

    #[test]
    fn full_width_lower_case_and_spaces_are_normalised() {
        let id = CustomerId::parse(" ｃａｆ０１２３４５６７８９　").unwrap();
        assert_eq!(id.as_str(), "CAF0123456789");
    }

    #[test]
    fn customer_id_with_wrong_prefix_or_digit_count_is_refused() {
        for bad in [
            "",
            "CAF",
            "CAB0000000001",
            "CAF000000001",
            "CAF00000000011",
            "CAF00000000O1",
        ] {
            assert_eq!(
                CustomerId::parse(bad),
                Err(FieldError::CustomerIdFormat),
                "{bad}"
            );
        }
    }

    #[test]
    fn customer_id_deserialises_only_when_valid() {
        assert!(serde_json::from_str::<CustomerId>("\"CAF0000000001\"").is_ok());
        assert!(serde_json::from_str::<CustomerId>("\"CAF1\"").is_err());
    }

    #[test]
    fn access_key_keeps_case_and_refuses_empty_or_non_ascii() {
        assert_eq!(AccessKey::parse("aB3ｄ").unwrap().expose(), "aB3d");
        assert_eq!(AccessKey::parse("  "), Err(FieldError::AccessKeyFormat));
        assert_eq!(AccessKey::parse("あいう"), Err(FieldError::AccessKeyFormat));
        assert_eq!(
            AccessKey::parse(&"x".repeat(65)),
            Err(FieldError::AccessKeyFormat)
        );
    }

    #[test]
    fn access_key_debug_hides_the_secret() {
        assert_eq!(
            format!("{:?}", AccessKey::parse("secret").unwrap()),
            "AccessKey(***)"
        );
    }
}
