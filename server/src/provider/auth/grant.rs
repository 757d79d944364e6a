//! The token endpoint's logic (`POST /provider/v1/token`, SPEC §8): the
//! form, the client assertion (RFC 7523 §3), the access token.

use axum::Json;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Deserializer, Serialize};
use shared::domain::{ProviderCode, Timestamp};

use super::error::{ClientRejection, OAuthError, no_store};
use super::jwks::{algorithm_name, jwks_fingerprint, verification_keys};
use super::token::{ACCESS_TOKEN_LIFETIME_SECS, TokenKey, issue};
use crate::store::StoreError;

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An assertion's `exp − iat` may be at most this (SPEC §8).
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 300;

/// An assertion's `iat` and `nbf` may be this far ahead of our clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 60;

/// A longer assertion is refused before it is parsed.
const MAX_ASSERTION_BYTES: usize = 8 * 1024;

/// A longer `jti` is refused (it is stored).
const MAX_JTI_BYTES: usize = 256;

/// The registered clients and the `jti`s they have used: what the token
/// endpoint needs of the store.
#[async_trait::async_trait]
pub trait Clients: Send + Sync {
    /// The client registered with this ID: its provider code and JWK set.
    async fn client(&self, client_id: &str) -> Result<Option<RegisteredClient>, StoreError>;
    /// Records `jti` of `client_id` until `expires`; false when it was
    /// recorded before (a replay).
    async fn first_use(
        &self,
        client_id: &str,
        jti: &str,
        expires: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// A client as registered at import.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    /// The provider it acts for.
    pub provider: ProviderCode,
    /// Its JWK set (checked by [`check_jwks`](super::check_jwks) at import).
    pub jwks: serde_json::Value,
}

/// A successful token response (RFC 6749 §5.1). As a response it is 200
/// JSON with `Cache-Control: no-store`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The access token: a bearer token for the other operations.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(examples("Bearer"))]
    pub token_type: String,
    /// Seconds it is good for: 300.
    #[schema(examples(300))]
    pub expires_in: i64,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        (no_store(), Json(self)).into_response()
    }
}

/// The token endpoint: checks the form and its client assertion against
/// `clients` and, if the client is who it says, issues an access token
/// signed with `key`. `audience` is the endpoint's own URL (`<public
/// URL>/provider/v1/token`), which the assertion's `aud` must name; `now`
/// is the clock every time claim is compared with.
///
/// A refused client authentication is logged here (`tracing::info!`, with
/// its reason but never the assertion) and answers
/// [`OAuthError::InvalidClient`].
pub async fn grant(
    form: &[(String, String)],
    clients: &dyn Clients,
    audience: &str,
    key: &TokenKey,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let request = TokenRequest::parse(form).inspect_err(|e| {
        if let OAuthError::InvalidClient(reason) = e {
            log_refusal(None, reason);
        }
    })?;
    let (client_id, client) = match authenticate(&request, clients, audience, now).await {
        Ok(authenticated) => authenticated,
        Err(Refused::Store(e)) => return Err(OAuthError::Store(e)),
        Err(Refused::Client { client_id, reason }) => {
            log_refusal(client_id.as_deref(), &reason);
            return Err(OAuthError::InvalidClient(reason));
        }
    };
    let key_set = jwks_fingerprint(&client.jwks);
    let access_token =
        issue(key, &client_id, &client.provider, &key_set, now).map_err(OAuthError::Internal)?;
    tracing::info!(
        client_id = %client_id,
        provider = client.provider.as_str(),
        "provider access token issued"
    );
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: ACCESS_TOKEN_LIFETIME_SECS,
    })
}

/// The form's parameters that matter.
struct TokenRequest<'a> {
    /// `client_assertion`.
    assertion: &'a str,
    /// `client_id`, if the client sent one (RFC 7521 §4.2: optional).
    client_id: Option<&'a str>,
}

impl<'a> TokenRequest<'a> {
    /// Checks the form: no parameter twice (RFC 6749 §3.2), a parameter
    /// without a value as if absent (§3.1), the grant and assertion types.
    fn parse(form: &'a [(String, String)]) -> Result<Self, OAuthError> {
        let mut given: Vec<(&str, &str)> = Vec::with_capacity(form.len());
        for (name, value) in form {
            if value.is_empty() {
                continue;
            }
            if given.iter().any(|(seen, _)| seen == name) {
                return Err(OAuthError::InvalidRequest(format!(
                    "The parameter {} is repeated.",
                    parameter_name(name)
                )));
            }
            given.push((name, value));
        }
        let get = |name: &str| given.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let missing =
            |name: &str| OAuthError::InvalidRequest(format!("The parameter {name} is missing."));
        match get("grant_type") {
            None => return Err(missing("grant_type")),
            Some("client_credentials") => {}
            Some(_) => return Err(OAuthError::UnsupportedGrantType),
        }
        let assertion_type =
            get("client_assertion_type").ok_or_else(|| missing("client_assertion_type"))?;
        let assertion = get("client_assertion").ok_or_else(|| missing("client_assertion"))?;
        if assertion_type != CLIENT_ASSERTION_TYPE {
            // An authentication method we do not support (RFC 6749 §5.2).
            return Err(OAuthError::InvalidClient(ClientRejection::AssertionType));
        }
        Ok(Self {
            assertion,
            client_id: get("client_id"),
        })
    }
}

/// A parameter's name for a description: the name if it is a plain one.
fn parameter_name(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        name.to_owned()
    } else {
        "(unnamed)".to_owned()
    }
}

/// How an authentication ended when it did not succeed.
enum Refused {
    /// The client is not authenticated; `client_id` is the assertion's
    /// unverified `iss` when there was one, for the log.
    Client {
        client_id: Option<String>,
        reason: ClientRejection,
    },
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// A refusal without an `iss` to log.
fn refused(reason: ClientRejection) -> Refused {
    Refused::Client {
        client_id: None,
        reason,
    }
}

/// The fields of an assertion's header this module reads itself, before
/// the library parses it again while verifying.
#[derive(Deserialize)]
struct PeekHeader {
    alg: Option<serde_json::Value>,
    kid: Option<String>,
}

/// The one claim read before the signature is checked: who the assertion
/// says it is from, to find its keys.
#[derive(Deserialize)]
struct PeekClaims {
    iss: Option<serde_json::Value>,
}

/// An assertion's claims (RFC 7523 §3), read once the signature verified.
#[derive(Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    #[serde(default, deserialize_with = "numeric_date")]
    exp: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    iat: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    nbf: Option<i64>,
    jti: Option<String>,
}

/// `aud`: one string, or an array of them (RFC 7519 §4.1.3).
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn names(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

/// A NumericDate (RFC 7519 §2): seconds, possibly fractional (floored).
fn numeric_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(secs) = number.as_i64() {
        return Ok(Some(secs));
    }
    match number.as_f64() {
        Some(secs) if secs.is_finite() && secs.abs() < 1e15 => Ok(Some(secs.floor() as i64)),
        _ => Err(serde::de::Error::custom("a NumericDate out of range")),
    }
}

/// The JSON of one base64url part of a compact JWS.
fn peek<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Authenticates the client of `request`: its registered ID and record.
async fn authenticate(
    request: &TokenRequest<'_>,
    clients: &dyn Clients,
    audience: &str,
    now: Timestamp,
) -> Result<(String, RegisteredClient), Refused> {
    let assertion = request.assertion;
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(refused(ClientRejection::Malformed("too long")));
    }
    let mut parts = assertion.split('.');
    let (Some(header), Some(claims), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refused(ClientRejection::Malformed("not three parts")));
    };
    let header: PeekHeader =
        peek(header).ok_or_else(|| refused(ClientRejection::Malformed("header")))?;
    let alg = match header.alg {
        Some(serde_json::Value::String(alg)) if alg == "ES256" => Algorithm::ES256,
        Some(serde_json::Value::String(alg)) if alg == "EdDSA" => Algorithm::EdDSA,
        Some(serde_json::Value::String(alg)) => {
            return Err(refused(ClientRejection::Algorithm(alg)));
        }
        _ => return Err(refused(ClientRejection::Malformed("no alg"))),
    };
    let peeked: PeekClaims =
        peek(claims).ok_or_else(|| refused(ClientRejection::Malformed("claims")))?;
    let Some(serde_json::Value::String(client_id)) = peeked.iss else {
        return Err(refused(ClientRejection::NoIssuer));
    };
    let refuse = |reason| Refused::Client {
        client_id: Some(client_id.clone()),
        reason,
    };
    if request.client_id.is_some_and(|given| given != client_id) {
        return Err(refuse(ClientRejection::ClientIdMismatch));
    }
    let Some(client) = clients.client(&client_id).await? else {
        return Err(refuse(ClientRejection::UnknownClient));
    };

    let keys = verification_keys(&client.jwks).map_err(|e| refuse(ClientRejection::KeySet(e)))?;
    let candidates: Vec<_> = keys
        .iter()
        .filter(|k| k.alg == alg && (header.kid.is_none() || k.kid == header.kid))
        .collect();
    if candidates.is_empty() {
        return Err(refuse(ClientRejection::NoKey {
            kid: header.kid,
            alg: algorithm_name(alg),
        }));
    }
    let mut validation = Validation::new(alg);
    // Every claim is checked below, against `now` rather than the library's
    // clock; the library checks the signature (and `crit`) only.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let mut verified = None;
    for candidate in candidates {
        use jsonwebtoken::errors::ErrorKind;
        match jsonwebtoken::decode::<AssertionClaims>(assertion, &candidate.key, &validation) {
            Ok(data) => {
                verified = Some(data.claims);
                break;
            }
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {}
            Err(e) => {
                return Err(refuse(match e.kind() {
                    ErrorKind::Json(_) | ErrorKind::Utf8(_) | ErrorKind::Base64(_) => {
                        ClientRejection::Claims(e.to_string())
                    }
                    _ => ClientRejection::Jose(e.to_string()),
                }));
            }
        }
    }
    let claims = verified.ok_or_else(|| refuse(ClientRejection::Signature))?;
    check_claims(&claims, &client_id, audience, now).map_err(refuse)?;
    let (Some(jti), Some(exp)) = (claims.jti.as_deref(), claims.exp) else {
        return Err(refuse(ClientRejection::Missing("jti")));
    };
    // Recorded last, so that a refused assertion does not use its jti up.
    if !clients
        .first_use(&client_id, jti, Timestamp::from_unix(exp))
        .await?
    {
        return Err(refuse(ClientRejection::Replayed));
    }
    Ok((client_id, client))
}

/// RFC 7523 §3 and SPEC §8 on a verified claims set.
fn check_claims(
    claims: &AssertionClaims,
    client_id: &str,
    audience: &str,
    now: Timestamp,
) -> Result<(), ClientRejection> {
    let now = now.unix();
    if claims.iss.as_deref() != Some(client_id) {
        return Err(ClientRejection::NoIssuer);
    }
    match claims.sub.as_deref() {
        None => return Err(ClientRejection::Missing("sub")),
        Some(sub) if sub != client_id => return Err(ClientRejection::Subject),
        Some(_) => {}
    }
    let aud = claims.aud.as_ref().ok_or(ClientRejection::Missing("aud"))?;
    if !aud.names(audience) {
        return Err(ClientRejection::Audience);
    }
    let exp = claims.exp.ok_or(ClientRejection::Missing("exp"))?;
    let iat = claims.iat.ok_or(ClientRejection::Missing("iat"))?;
    if now >= exp {
        return Err(ClientRejection::Expired);
    }
    if iat > now + MAX_CLOCK_SKEW_SECS {
        return Err(ClientRejection::IssuedInFuture);
    }
    let lifetime = exp.saturating_sub(iat);
    if !(1..=MAX_ASSERTION_LIFETIME_SECS).contains(&lifetime) {
        return Err(ClientRejection::Lifetime(lifetime));
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now + MAX_CLOCK_SKEW_SECS)
    {
        return Err(ClientRejection::NotYetValid);
    }
    match claims.jti.as_deref() {
        None => Err(ClientRejection::Missing("jti")),
        Some(jti) if jti.is_empty() || jti.len() > MAX_JTI_BYTES => {
            Err(ClientRejection::JwtId(MAX_JTI_BYTES))
        }
        Some(_) => Ok(()),
    }
}

/// Logs a refused client authentication: the (unverified, cut short)
/// client ID and the reason; never the assertion.
fn log_refusal(client_id: Option<&str>, reason: &ClientRejection) {
    let client_id: String = client_id.unwrap_or_default().chars().take(128).collect();
    tracing::info!(
        client_id = %client_id,
        reason = %reason,
        "provider client authentication refused"
    );
}
