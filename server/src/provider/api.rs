//! The provider API's routes under `/provider/v1` (SPEC §8): the token
//! endpoint and the lookup. Server to server: no cookies, no CSRF check,
//! JSON answers in the shapes of RFC 6749 and RFC 6750.

use std::net::Ipv6Addr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use serde::{Deserialize, Serialize};
use shared::api::DisclosureReason;
use shared::domain::{CustomerId, ProviderCode, Timestamp};

use super::auth::{
    AccessClaims, Clients, ErrorCode, ErrorResponse, InvalidToken, OAuthError, RegisteredClient,
    TokenKey, jwks_fingerprint, verify_access_token,
};
use crate::state::{AppState, now};
use crate::store::{DisclosureRecord, LookupRecord, Store, StoreError};

/// The token endpoint's path under the public URL (its `aud`).
pub const TOKEN_PATH: &str = "/provider/v1/token";

/// How far back a lookup's `at` may be.
const AT_MOST_AGO_SECS: i64 = 24 * 3600;
/// How far ahead a lookup's `at` may be.
const AT_MOST_AHEAD_SECS: i64 = 60;

/// Requests per provider, in this process (`--provider-rate`, `--provider-burst`).
pub type ProviderLimits = governor::DefaultKeyedRateLimiter<ProviderCode>;

/// The limits of `rate` requests per second with bursts of `burst`.
pub fn provider_limits(rate: u32, burst: u32) -> ProviderLimits {
    let rate = NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    governor::RateLimiter::keyed(governor::Quota::per_second(rate).allow_burst(burst))
}

/// Every `/provider/v1` route, with a JSON 404 for the rest.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/openapi.json",
            axum::routing::get(super::openapi::get_openapi),
        )
        .route("/token", axum::routing::post(issue_token))
        .route(
            "/line-info/retrieve",
            axum::routing::post(retrieve_line_info),
        )
        .route("/events", axum::routing::get(super::events::list_events))
        .fallback(|| async { not_found() })
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "not_found"})),
    )
        .into_response()
}

/// The registered clients, from the store's catalogue (version-checked at
/// every call, so a key set replaced by an import in any process counts at
/// once), and the assertion IDs, in the store.
struct StoreClients<'a>(&'a Store);

#[async_trait::async_trait]
impl Clients for StoreClients<'_> {
    async fn client(&self, client_id: &str) -> Result<Option<RegisteredClient>, StoreError> {
        let catalogue = self.0.catalogue().await?;
        Ok(catalogue.iter().find_map(|(code, provider)| {
            let api = provider.api.as_ref()?;
            (api.client_id == client_id).then(|| RegisteredClient {
                provider: code.clone(),
                jwks: api.jwks.clone(),
            })
        }))
    }

    async fn first_use(
        &self,
        client_id: &str,
        jti: &str,
        expires: Timestamp,
    ) -> Result<bool, StoreError> {
        self.0.first_use_of_assertion(client_id, jti, expires).await
    }
}

/// The access tokens' key: read from the store once per process.
async fn token_key(state: &AppState) -> Result<&TokenKey, StoreError> {
    state
        .token_key
        .get_or_try_init(|| async { state.store.token_key().await.map(TokenKey::from_bytes) })
        .await
}

/// `POST /provider/v1/token`: client credentials with a `private_key_jwt`
/// assertion (RFC 7523), answered with a five-minute access token.
#[utoipa::path(
    post,
    path = "/token",
    tag = "authentication",
    summary = "Issue an access token",
    description = "OAuth 2.0 client credentials, the client authenticated by a \
        `private_key_jwt` assertion (RFC 7523): see `TokenForm` for its claims. \
        Every answer carries `Cache-Control: no-store` and `Pragma: no-cache`.",
    request_body(content = super::openapi::TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(super::openapi::TokenAnswers),
)]
async fn issue_token(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let key = match token_key(&state).await {
        Ok(key) => key,
        Err(e) => return OAuthError::Store(e).into_response(),
    };
    match super::auth::grant(
        &form,
        &StoreClients(&state.store),
        &state.token_audience,
        key,
        now(),
    )
    .await
    {
        Ok(token) => token.into_response(),
        Err(e) => e.into_response(),
    }
}

/// A provider authenticated by its access token, whose key set is still
/// the one the token was issued under.
pub struct Provider {
    /// Its code.
    pub code: ProviderCode,
}

impl FromRequestParts<AppState> for Provider {
    type Rejection = ProviderApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or(ProviderApiError::Token(InvalidToken::Malformed))?;
        let key = token_key(state).await?;
        let claims =
            verify_access_token(key, token.trim(), now()).map_err(ProviderApiError::Token)?;
        let catalogue = state.store.catalogue().await?;
        let current = crate::store::provider_in(&catalogue, &claims.provider)
            .and_then(|provider| provider.api.as_ref());
        if !current.is_some_and(|api| still_registered(api, &claims)) {
            return Err(ProviderApiError::Token(InvalidToken::Signature));
        }
        if let Err(not_until) = state.provider_limits.check_key(&claims.provider) {
            return Err(ProviderApiError::TooMany(
                not_until.wait_time_from(DefaultClock::default().now()),
            ));
        }
        Ok(Self {
            code: claims.provider,
        })
    }
}

/// Whether the token was issued to the client and key set registered now.
fn still_registered(api: &crate::store::ProviderApi, claims: &AccessClaims) -> bool {
    api.client_id == claims.client_id && jwks_fingerprint(&api.jwks) == claims.key_set
}

/// `POST /provider/v1/line-info/retrieve`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// The address the connection came from.
    #[schema(format = "ipv6", examples("2001:db8:1234:5600::1"))]
    pub ipv6_address: String,
    /// The connection's time (RFC 3339), by default now; at most 24 hours
    /// ago and at most 60 seconds ahead.
    #[schema(format = DateTime, examples("2026-12-01T09:30:00+09:00"))]
    pub at: Option<String>,
}

/// The answer: the customer ID only for a line set to 「通知する」 for this
/// provider; one and the same `{"notify": false}` for every other case.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LookupAnswer {
    /// 「通知する」: the customer ID, and the disclosure's ID.
    Notify {
        /// Always true.
        #[schema(schema_with = super::openapi::notify_true)]
        notify: bool,
        /// The line's customer ID.
        #[schema(value_type = String, pattern = "^CAF[0-9]{10}$", examples("CAF0000000001"))]
        customer_id: CustomerId,
        /// The disclosure's ID, as logged.
        #[schema(format = "uuid", examples("019ad0f2-6b1c-7c3e-9a4b-5d6e7f809a1b"))]
        disclosure_id: String,
    },
    /// Anything else.
    No {
        /// Always false.
        #[schema(schema_with = super::openapi::notify_false)]
        notify: bool,
    },
}

/// `POST /provider/v1/line-info/retrieve`: which line an address was
/// (SPEC §8). The disclosure is recorded durably before the customer ID
/// is answered.
#[utoipa::path(
    post,
    path = "/line-info/retrieve",
    tag = "lines",
    summary = "Which line an address was",
    description = "The line whose prefix held `ipv6_address` at `at`, with the setting \
        in force now: a revocation stops disclosure at once, also for earlier connections.",
    request_body = LookupRequest,
    responses(super::openapi::LookupAnswers),
    security(("bearer" = [])),
)]
async fn retrieve_line_info(
    State(state): State<AppState>,
    provider: Provider,
    body: axum::body::Bytes,
) -> Result<Json<LookupAnswer>, ProviderApiError> {
    let request: LookupRequest = serde_json::from_slice(&body).map_err(|e| {
        ProviderApiError::Request(format!(
            "the body must be {{\"ipv6_address\": \"…\", \"at\": \"<RFC 3339>\"}}: {e}"
        ))
    })?;
    let address: Ipv6Addr = request
        .ipv6_address
        .trim()
        .parse()
        .map_err(|_| ProviderApiError::Request("ipv6_address is not an IPv6 address".into()))?;
    let answered = now();
    let at = match &request.at {
        None => answered,
        Some(at) => rfc3339(at)?,
    };
    if at.unix() < answered.unix() - AT_MOST_AGO_SECS
        || at.unix() > answered.unix() + AT_MOST_AHEAD_SECS
    {
        return Err(ProviderApiError::Request(
            "at must be within the last 24 hours and at most 60 seconds ahead".into(),
        ));
    }
    let no = Json(LookupAnswer::No { notify: false });
    let store = &state.store;
    // The line whose prefix held the address then, with the setting in
    // force now: a revocation stops disclosure at once, also for earlier
    // connections.
    let Some(prefix) = store
        .notifying_prefix_at(address, at, &provider.code)
        .await?
    else {
        return Ok(no);
    };
    let disclosure = DisclosureRecord {
        id: uuid::Uuid::now_v7().to_string(),
        at: answered,
        customer_id: prefix.customer_id.clone(),
        provider: provider.code.clone(),
        reason: DisclosureReason::Lookup,
        lookup: Some(LookupRecord {
            prefix: prefix.prefix,
            connected_at: at,
        }),
        application_id: None,
    };
    store.record_disclosure(&disclosure).await?;
    tracing::info!(
        disclosure = %disclosure.id,
        provider = %provider.code,
        "customer ID disclosed"
    );
    Ok(Json(LookupAnswer::Notify {
        notify: true,
        customer_id: prefix.customer_id,
        disclosure_id: disclosure.id,
    }))
}

fn rfc3339(value: &str) -> Result<Timestamp, ProviderApiError> {
    crate::rfc3339::parse(value)
        .ok_or_else(|| ProviderApiError::Request("at is not an RFC 3339 time".into()))
}

/// Why a provider API request (a lookup, or anything behind [`Provider`])
/// was refused.
#[derive(Debug)]
pub enum ProviderApiError {
    /// A malformed request: 400 `invalid_request`.
    Request(String),
    /// A missing, bad or expired token: 401.
    Token(InvalidToken),
    /// Beyond the provider's rate: 429 with `Retry-After`.
    TooMany(Duration),
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for ProviderApiError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl IntoResponse for ProviderApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Request(description) => OAuthError::InvalidRequest(description).into_response(),
            Self::Token(e) => e.into_response(),
            Self::TooMany(wait) => {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(ErrorResponse::new(
                        ErrorCode::RateLimited,
                        "Too many requests; retry after the time in Retry-After.",
                    )),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
                response
            }
            Self::Store(e) => OAuthError::Store(e).into_response(),
        }
    }
}
