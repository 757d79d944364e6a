//! The token endpoint's failures and their RFC 6749 §5.2 answers.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// The one description every failed client authentication gets: the reason
/// is logged, never told (it would help whoever is guessing).
const CLIENT_AUTHENTICATION_FAILED: &str = "Client authentication failed.";

/// The body of every refusal of the provider API: an RFC 6749 §5.2 error
/// response, whose codes RFC 6750 §3 extends for bearer tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(examples(json!({"error": "invalid_client", "error_description": "Client authentication failed."})))]
pub struct ErrorResponse {
    /// What was refused, as a code.
    pub error: ErrorCode,
    /// The reason in English, for the provider's engineers (never the
    /// reason a client authentication failed).
    pub error_description: String,
}

impl ErrorResponse {
    /// The body of `error`, described.
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
        }
    }
}

/// The provider API's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: a parameter or the body is missing, repeated or malformed
    /// (RFC 6749 §5.2, RFC 6750 §3.1).
    InvalidRequest,
    /// 400: a `grant_type` other than `client_credentials`.
    UnsupportedGrantType,
    /// 401: the client's authentication failed (RFC 6749 §5.2).
    InvalidClient,
    /// 401: the access token is missing, malformed, altered or expired
    /// (RFC 6750 §3.1).
    InvalidToken,
    /// 429: beyond the provider's rate; `Retry-After` says when to retry.
    RateLimited,
    /// 503: the service is busy; `Retry-After` says when to retry.
    TemporarilyUnavailable,
    /// 500: an internal error.
    ServerError,
}

/// Why the token endpoint refused a request.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The request is malformed (a parameter missing or repeated): 400
    /// `invalid_request`, with this English description.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// A `grant_type` other than `client_credentials`: 400
    /// `unsupported_grant_type`.
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    /// The client's authentication failed, for this reason (logged by
    /// [`grant`](super::grant), never sent): 401 `invalid_client`.
    #[error("invalid_client: {0}")]
    InvalidClient(ClientRejection),
    /// The store failed (looking the client up, or recording the `jti`):
    /// 503 `temporarily_unavailable` when it is out of reach for now, else
    /// 500 `server_error`.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The access token could not be made (a bug): 500 `server_error`.
    #[error("internal: {0}")]
    Internal(String),
}

/// Why a client assertion was refused: for the log, and for tests to tell
/// one refusal from another. Every one answers the same `invalid_client`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientRejection {
    /// `client_assertion_type` is not the JWT bearer type of RFC 7523.
    #[error("unsupported client_assertion_type")]
    AssertionType,
    /// The assertion is not a JWS in compact serialisation with a JSON
    /// header and claims set.
    #[error("the assertion is not a compact JWS: {0}")]
    Malformed(&'static str),
    /// The header's `alg` is not ES256 or EdDSA (`none` and HS* included).
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(String),
    /// No `iss` to find the client by.
    #[error("the assertion has no iss")]
    NoIssuer,
    /// No client is registered with that ID.
    #[error("unknown client")]
    UnknownClient,
    /// The form's `client_id` is not the assertion's `iss`.
    #[error("client_id is not the assertion's iss")]
    ClientIdMismatch,
    /// The registered key set does not parse (it passed the import, so the
    /// store holds something else).
    #[error("the registered JWK set is unusable: {0}")]
    KeySet(String),
    /// No registered key has the header's `kid`, or none is of its `alg`.
    #[error("no registered key for kid {kid:?} and alg {alg}")]
    NoKey {
        /// The header's `kid`.
        kid: Option<String>,
        /// The header's `alg`.
        alg: &'static str,
    },
    /// The JOSE library refused the assertion before its signature was
    /// checked (an unknown `crit` extension, say).
    #[error("the JOSE library refused the assertion: {0}")]
    Jose(String),
    /// The signature does not verify with any candidate key.
    #[error("bad signature")]
    Signature,
    /// The signature verified but the claims set is not one (e.g. `exp` is
    /// not a number).
    #[error("the claims do not decode: {0}")]
    Claims(String),
    /// A required claim is missing.
    #[error("the claim {0} is missing")]
    Missing(&'static str),
    /// `sub` is not the client ID.
    #[error("sub is not the client ID")]
    Subject,
    /// `aud` does not name the token endpoint.
    #[error("aud does not name this token endpoint")]
    Audience,
    /// `exp` has passed.
    #[error("expired")]
    Expired,
    /// `iat` is more than the allowed skew ahead.
    #[error("iat is in the future")]
    IssuedInFuture,
    /// `exp − iat` is more than allowed, or negative.
    #[error("lives too long ({0} s between iat and exp)")]
    Lifetime(i64),
    /// `nbf` is more than the allowed skew ahead.
    #[error("not valid yet (nbf)")]
    NotYetValid,
    /// `jti` is empty or too long.
    #[error("jti is empty or longer than {0} bytes")]
    JwtId(usize),
    /// This `jti` was used before by this client.
    #[error("replayed jti")]
    Replayed,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, error, description) = match &self {
            Self::InvalidRequest(description) => (
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                description.as_str(),
            ),
            Self::UnsupportedGrantType => (
                StatusCode::BAD_REQUEST,
                ErrorCode::UnsupportedGrantType,
                "Only grant_type=client_credentials is supported.",
            ),
            Self::InvalidClient(_) => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidClient,
                CLIENT_AUTHENTICATION_FAILED,
            ),
            Self::Store(StoreError::Unavailable(detail)) => {
                tracing::warn!(%detail, "the database is unavailable");
                let mut response = oauth_body(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::TemporarilyUnavailable,
                    "The service is busy; try again in a moment.",
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return response;
            }
            Self::Store(cause) => {
                tracing::error!(%cause, "token endpoint: store failure");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::ServerError,
                    "An internal error occurred.",
                )
            }
            Self::Internal(cause) => {
                tracing::error!(%cause, "token endpoint: internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::ServerError,
                    "An internal error occurred.",
                )
            }
        };
        oauth_body(status, error, description)
    }
}

/// An RFC 6749 §5.2 error body, never cached.
fn oauth_body(status: StatusCode, error: ErrorCode, description: &str) -> Response {
    let body = ErrorResponse::new(error, description);
    (status, no_store(), Json(body)).into_response()
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, as RFC 6749 §5.1 asks
/// of every token endpoint answer.
pub(super) fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}
