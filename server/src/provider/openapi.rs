//! The provider API's contract (SPEC §8): an OpenAPI 3.1 document at
//! `GET /provider/v1/openapi.json`, derived with utoipa from the handlers'
//! own `#[utoipa::path]` annotations and the types they read and answer,
//! so that it cannot drift from the code.
//!
//! The document is the same for every request: it is built and serialised
//! once per process. Its paths are relative to the one server it names,
//! `/provider/v1`, so it holds for every public URL. A copy is committed as
//! a snapshot (`server/tests/api/snapshots/provider-openapi.json`): a change
//! of the contract shows in review.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

use super::api::{LookupAnswer, LookupRequest};
use super::auth::{ErrorResponse, OAuthError, TokenResponse};
use super::events::{EventBody, EventsPage};

/// The document's description: what the paths alone do not say.
const DESCRIPTION: &str = "The API through which a service provider learns \
the customer ID of a line whose subscriber set it to 「通知する」 \
(kaisen SPEC §8). Authenticate with OAuth 2.0 client credentials and a \
`private_key_jwt` client assertion (RFC 7523) at `/token`, then call the \
other operations with the access token as a bearer token (RFC 6750). \
Every answer is `Cache-Control: no-store`; every refusal is an RFC 6749 \
§5.2 error body (`ErrorResponse`).";

/// The provider API as an OpenAPI 3.1 document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "kaisen provider API",
        version = "1",
        description = DESCRIPTION,
        license(name = "MIT", identifier = "MIT"),
    ),
    servers((url = "/provider/v1", description = "This portal, under its public URL")),
    // Every operation under /provider/v1, and every type they read or
    // answer (those named only by the `IntoResponses` enums are not
    // collected by themselves). The events pull goes here, once its
    // handler carries `#[utoipa::path(get, path = "/events", params(…),
    // responses(…), security(("bearer" = [])))]`: its path below, its
    // body's types under schemas, a tag; then `KAISEN_UPDATE_SNAPSHOTS=1
    // cargo test -p kaisen-server --test api provider_openapi` rewrites the
    // snapshot.
    paths(
        super::api::issue_token,
        super::api::retrieve_line_info,
        super::events::list_events,
        get_openapi,
    ),
    components(schemas(
        TokenForm,
        TokenResponse,
        LookupRequest,
        LookupAnswer,
        EventsPage,
        EventBody,
        ErrorResponse
    )),
    modifiers(&BearerToken),
    tags(
        (name = "authentication", description = "Access tokens for client assertions (RFC 7523)."),
        (name = "lines", description = "Which line an address was, for a provider set to 「通知する」."),
        (name = "events", description = "Changes of the lines' settings for the provider: POSTed to its webhook_url (an EventBody, signed as the Standard Webhooks specification says: webhook-id, webhook-timestamp, webhook-signature v1 with the provider's webhook_secret), retried until a 2xx, each line's in order; and pullable here."),
        (name = "contract", description = "This document."),
    ),
)]
struct ProviderApiDoc;

/// The security scheme the operations after `/token` name: the access
/// token `/token` issued, as a bearer token.
struct BearerToken;

/// The security scheme's name in the document (the operations'
/// `security(("bearer" = []))`).
const BEARER: &str = "bearer";

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "An access token from POST /token, good for `expires_in` (300) seconds.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// The document, pretty-printed and ending in a newline, built on first
/// use (serialising a tree of strings and maps cannot fail; if it did, the
/// route would answer 500).
static DOCUMENT: LazyLock<Result<String, String>> = LazyLock::new(|| {
    ProviderApiDoc::openapi()
        .to_pretty_json()
        .map(|json| json + "\n")
        .map_err(|e| e.to_string())
});

/// The contract: this API as an OpenAPI 3.1 document.
///
/// The same document for every request and every deployment.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "contract",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object),
    ),
)]
pub async fn get_openapi() -> Response {
    match &*DOCUMENT {
        Ok(document) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            document.as_str(),
        )
            .into_response(),
        Err(cause) => {
            OAuthError::Internal(format!("the OpenAPI document: {cause}")).into_response()
        }
    }
}

/// `POST /token`'s form (`application/x-www-form-urlencoded`). A parameter
/// may not be repeated; one without a value counts as absent.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "documentation only: the route reads the form itself"
)]
pub struct TokenForm {
    /// Always `client_credentials`.
    grant_type: GrantType,
    /// Always the JWT bearer assertion type of RFC 7523 §2.2.
    client_assertion_type: ClientAssertionType,
    /// A JWS (ES256 or EdDSA) signed with a key of the provider's
    /// registered JWK set (its `kid` in the header): `iss` = `sub` = the
    /// client ID, `aud` = this endpoint's URL (the public URL +
    /// `/provider/v1/token`), `exp` at most 300 s after `iat`, `iat` at
    /// most 60 s ahead, and a `jti` never used before.
    #[schema(examples(
        "eyJhbGciOiJFUzI1NiIsImtpZCI6IncwMDAxLTIwMjYtMTIifQ.eyJpc3MiOiJkZW1vLXcwMDAxIn0.c2lnbmF0dXJl"
    ))]
    client_assertion: String,
    /// The client ID; if given, it must be the assertion's `iss`.
    #[schema(value_type = String, required = false, examples("demo-w0001"))]
    client_id: Option<String>,
}

/// `POST /token`'s `grant_type`.
#[derive(ToSchema)]
#[expect(dead_code, reason = "documentation only")]
enum GrantType {
    /// The one grant.
    #[schema(rename = "client_credentials")]
    ClientCredentials,
}

/// `POST /token`'s `client_assertion_type`.
#[derive(ToSchema)]
#[expect(dead_code, reason = "documentation only")]
enum ClientAssertionType {
    /// A JWT (RFC 7523 §2.2).
    #[schema(rename = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")]
    JwtBearer,
}

/// `POST /token`'s answers.
#[derive(IntoResponses)]
pub enum TokenAnswers {
    /// The access token (RFC 6749 §5.1).
    #[response(status = 200)]
    Issued(TokenResponse),
    /// `invalid_request` (a parameter missing or repeated) or
    /// `unsupported_grant_type`.
    #[response(
        status = 400,
        example = json!({"error": "invalid_request", "error_description": "The parameter client_assertion is missing."})
    )]
    Malformed(ErrorResponse),
    /// `invalid_client`: any failed client authentication (unknown client,
    /// bad signature, wrong `aud`, expired, too long-lived, replayed `jti`),
    /// with one and the same description.
    #[response(
        status = 401,
        example = json!({"error": "invalid_client", "error_description": "Client authentication failed."})
    )]
    Refused(ErrorResponse),
    /// `temporarily_unavailable`: try again after `Retry-After`.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds to wait.")))]
    Busy(ErrorResponse),
}

/// `POST /line-info/retrieve`'s answers.
#[derive(IntoResponses)]
pub enum LookupAnswers {
    /// Always 200 for a well-formed, authenticated request: the customer
    /// ID only for a line set to 「通知する」 for this provider now, else
    /// one and the same `{"notify": false}` (an unknown address, an
    /// unassigned prefix, 「通知しない」), so that nobody learns which lines
    /// exist. Every `notify: true` is recorded as a disclosure before it is
    /// answered.
    #[response(
        status = 200,
        examples(
            ("notify" = (value = json!({"notify": true, "customer_id": "CAF0000000001", "disclosure_id": "019ad0f2-6b1c-7c3e-9a4b-5d6e7f809a1b"}))),
            ("no" = (value = json!({"notify": false}))),
        )
    )]
    Answer(LookupAnswer),
    /// `invalid_request`: the body is not JSON of this shape,
    /// `ipv6_address` is not an IPv6 address, `at` is not an RFC 3339 time
    /// or is more than 24 h ago or more than 60 s ahead.
    #[response(
        status = 400,
        example = json!({"error": "invalid_request", "error_description": "ipv6_address is not an IPv6 address"})
    )]
    Malformed(ErrorResponse),
    /// `invalid_token`: the bearer token is missing, malformed, altered or
    /// expired, or its provider's key set was replaced since it was issued.
    #[response(
        status = 401,
        headers(("WWW-Authenticate" = String, description = "`Bearer error=\"invalid_token\"`")),
        example = json!({"error": "invalid_token", "error_description": "The access token is invalid or has expired."})
    )]
    Unauthenticated(ErrorResponse),
    /// `rate_limited`: beyond the provider's rate (by default 100 requests
    /// a second, bursts of 200).
    #[response(
        status = 429,
        headers(("Retry-After" = u64, description = "Seconds to wait.")),
        example = json!({"error": "rate_limited", "error_description": "Too many requests; retry after the time in Retry-After."})
    )]
    TooMany(ErrorResponse),
    /// `temporarily_unavailable`: try again after `Retry-After`.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds to wait.")))]
    Busy(ErrorResponse),
}

/// `GET /events`'s answers.
#[derive(IntoResponses)]
pub enum EventsAnswers {
    /// The provider's events after `after`, in order, and the next cursor.
    #[response(status = 200)]
    Page(EventsPage),
    /// `invalid_request`: `after` is not a cursor this API gave.
    #[response(
        status = 400,
        example = json!({"error": "invalid_request", "error_description": "after must be a cursor this API gave (next)"})
    )]
    Malformed(ErrorResponse),
    /// `invalid_token`, as for the lookup.
    #[response(
        status = 401,
        headers(("WWW-Authenticate" = String, description = "`Bearer error=\"invalid_token\"`")),
        example = json!({"error": "invalid_token", "error_description": "The access token is invalid or has expired."})
    )]
    Unauthenticated(ErrorResponse),
    /// `rate_limited`: beyond the provider's rate (shared with the lookups).
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait.")))]
    TooMany(ErrorResponse),
    /// `temporarily_unavailable`: try again after `Retry-After`.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds to wait.")))]
    Busy(ErrorResponse),
}

/// `notify` of a [`LookupAnswer::Notify`]: the boolean `true` only, so
/// that the answer's `oneOf` tells the two bodies apart.
pub fn notify_true() -> ObjectBuilder {
    constant(true, "Always true.")
}

/// `notify` of a [`LookupAnswer::No`]: the boolean `false` only.
pub fn notify_false() -> ObjectBuilder {
    constant(false, "Always false.")
}

fn constant(value: bool, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([value]))
        .description(Some(description))
}
