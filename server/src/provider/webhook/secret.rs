//! The secret a provider's webhooks are signed with, and the signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// HMAC-SHA256, as Standard Webhooks signs.
type HmacSha256 = Hmac<Sha256>;

/// The prefix of a Standard Webhooks secret.
const PREFIX: &str = "whsec_";

/// Standard Webhooks' bounds on the key: 24 to 64 bytes.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// A provider's `webhook_secret`: `whsec_` followed by the base64 (standard
/// alphabet, padded) of 24 to 64 random bytes, which are the HMAC key.
/// Never printed: `Debug` shows `WebhookSecret(<redacted>)`.
#[derive(Clone, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct WebhookSecret {
    /// The decoded key (kept to write the secret back out, on export).
    key: Vec<u8>,
    /// The MAC keyed with it, cloned for each signature.
    mac: HmacSha256,
}

impl WebhookSecret {
    /// Parses `whsec_<base64>`; anything else is refused, with a message
    /// that does not repeat the secret.
    pub fn parse(secret: &str) -> Result<Self, String> {
        let encoded = secret
            .strip_prefix(PREFIX)
            .ok_or("the webhook secret must begin with whsec_")?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| "the webhook secret is not whsec_ followed by base64")?;
        Self::from_key(key)
    }

    /// The secret in its `whsec_…` form, to store or export it; never log it.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.key))
    }

    fn from_key(key: Vec<u8>) -> Result<Self, String> {
        if !KEY_BYTES.contains(&key.len()) {
            return Err(format!(
                "the webhook secret's key is {} bytes; it must be {} to {}",
                key.len(),
                KEY_BYTES.start(),
                KEY_BYTES.end()
            ));
        }
        let mac = HmacSha256::new_from_slice(&key)
            .map_err(|_| "the webhook secret cannot key HMAC-SHA256".to_owned())?;
        Ok(Self { key, mac })
    }
}

impl TryFrom<String> for WebhookSecret {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// The `webhook-signature` of a delivery: `v1,` and the base64 of
/// HMAC-SHA256 over `{id}.{timestamp}.{body}` keyed with the secret.
pub fn signature(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = secret.mac.clone();
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}
