//! Access tokens: JWTs (`typ` `at+jwt`, HS256) signed with the deployment's
//! [`TokenKey`], verifiable by every process that shares the key, carrying
//! the client, its provider and the fingerprint of the key set they were
//! issued under.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use shared::domain::{ProviderCode, Timestamp};

use super::error::{ErrorCode, ErrorResponse};

/// An access token is good for this long (SPEC §8: `expires_in: 300`).
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 300;

/// The header `typ` of an access token (RFC 9068), so that no other JWT
/// signed with the same key could pass for one.
const TOKEN_TYPE: &str = "at+jwt";

/// The key access tokens are signed with: 32 random bytes, generated once
/// and kept in the database so that every `serve` process shares it.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    /// The key of these bytes (as stored).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A new random key.
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// The bytes, to store.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

/// What a valid access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// The client it was issued to.
    pub client_id: String,
    /// That client's provider.
    pub provider: ProviderCode,
    /// The [`jwks_fingerprint`](super::jwks_fingerprint) of the client's key
    /// set when it was issued: if the provider's set now has another, the
    /// keys were replaced since and the token must be refused.
    pub key_set: String,
    /// When it expires.
    pub expires: Timestamp,
}

/// An access token that is not one of ours, was altered, or has expired:
/// 401 with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750).
/// The variants are for the log; the answer is the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidToken {
    /// Not a JWT of ours in form.
    #[error("malformed access token")]
    Malformed,
    /// The signature does not verify with this key.
    #[error("bad access token signature")]
    Signature,
    /// It has expired.
    #[error("expired access token")]
    Expired,
}

impl IntoResponse for InvalidToken {
    fn into_response(self) -> Response {
        let body = ErrorResponse::new(
            ErrorCode::InvalidToken,
            "The access token is invalid or has expired.",
        );
        (
            StatusCode::UNAUTHORIZED,
            [
                (
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            Json(body),
        )
            .into_response()
    }
}

/// The claims set of an access token on the wire.
#[derive(Serialize, Deserialize)]
struct Wire {
    /// The client ID.
    sub: String,
    /// The provider code.
    prv: String,
    /// The key set's fingerprint.
    kst: String,
    iat: i64,
    exp: i64,
    jti: String,
}

/// A new access token for this client, good from `now` for
/// [`ACCESS_TOKEN_LIFETIME_SECS`].
pub(super) fn issue(
    key: &TokenKey,
    client_id: &str,
    provider: &ProviderCode,
    key_set: &str,
    now: Timestamp,
) -> Result<String, String> {
    let claims = Wire {
        sub: client_id.to_owned(),
        prv: provider.as_str().to_owned(),
        kst: key_set.to_owned(),
        iat: now.unix(),
        exp: now.plus_secs(ACCESS_TOKEN_LIFETIME_SECS).unix(),
        jti: hex::encode(rand::random::<[u8; 16]>()),
    };
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(TOKEN_TYPE.to_owned());
    let secret = EncodingKey::from_secret(&key.0).map_err(|e| e.to_string())?;
    jsonwebtoken::encode(&header, &claims, &secret).map_err(|e| e.to_string())
}

/// Checks an access token (the `Authorization: Bearer` value) at `now`:
/// signed with `key`, of our type, not expired. The caller still compares
/// [`AccessClaims::key_set`] with the provider's current set.
pub fn verify_access_token(
    key: &TokenKey,
    token: &str,
    now: Timestamp,
) -> Result<AccessClaims, InvalidToken> {
    let secret = DecodingKey::from_secret(&key.0).map_err(|_| InvalidToken::Signature)?;
    let mut validation = Validation::new(Algorithm::HS256);
    // Time is checked below against `now`, the caller's clock.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Wire>(token, &secret, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidSignature => InvalidToken::Signature,
            _ => InvalidToken::Malformed,
        }
    })?;
    if data.header.typ.as_deref() != Some(TOKEN_TYPE) {
        return Err(InvalidToken::Malformed);
    }
    let claims = data.claims;
    if now.unix() >= claims.exp {
        return Err(InvalidToken::Expired);
    }
    let provider = ProviderCode::parse(&claims.prv).map_err(|_| InvalidToken::Malformed)?;
    Ok(AccessClaims {
        client_id: claims.sub,
        provider,
        key_set: claims.kst,
        expires: Timestamp::from_unix(claims.exp),
    })
}
