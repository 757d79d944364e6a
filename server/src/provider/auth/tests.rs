//! The token endpoint against a provider written independently: keys made
//! and assertions signed with `jwt-simple` (its pure-Rust backend: p256 for
//! ES256, ed25519-compact for EdDSA), not with the `jsonwebtoken` crate the
//! server verifies with.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_simple::prelude::*;
use serde_json::{Value, json};
use shared::domain::{ProviderCode, Timestamp};

use super::*;
use crate::store::StoreError;

/// The server's clock in these tests (2030): far from the real one, so
/// nothing here passes by the real clock's grace.
const NOW: i64 = 1_900_000_000;
const AUDIENCE: &str = "https://kaisen.example/provider/v1/token";
const CLIENT: &str = "acme-line-info";

fn now() -> Timestamp {
    Timestamp::from_unix(NOW)
}

fn at(secs: i64) -> UnixTimeStamp {
    UnixTimeStamp::from_secs(u64::try_from(secs).unwrap())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The JWK of an ES256 key pair's public half, from its SEC1 point.
fn es256_jwk(pair: &ES256KeyPair, kid: Option<&str>) -> Value {
    let point = pair.public_key().public_key().to_bytes_uncompressed();
    assert_eq!((point.len(), point[0]), (65, 4));
    let mut jwk = json!({
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
        "x": b64(&point[1..33]), "y": b64(&point[33..]),
    });
    if let Some(kid) = kid {
        jwk["kid"] = json!(kid);
    }
    jwk
}

/// The JWK of an Ed25519 key pair's public half.
fn ed25519_jwk(pair: &Ed25519KeyPair, kid: Option<&str>) -> Value {
    let mut jwk = json!({
        "kty": "OKP", "crv": "Ed25519", "x": b64(&pair.public_key().to_bytes()),
    });
    if let Some(kid) = kid {
        jwk["kid"] = json!(kid);
    }
    jwk
}

/// A provider's keys: one of each algorithm, with kids.
struct Provider {
    es256: ES256KeyPair,
    ed25519: Ed25519KeyPair,
}

impl Provider {
    fn new() -> Self {
        Self {
            es256: ES256KeyPair::generate().with_key_id("es-1"),
            ed25519: Ed25519KeyPair::generate().with_key_id("ed-1"),
        }
    }

    fn jwks(&self) -> Value {
        json!({ "keys": [
            es256_jwk(&self.es256, Some("es-1")),
            ed25519_jwk(&self.ed25519, Some("ed-1")),
        ]})
    }
}

/// A good assertion's claims at [`NOW`]: iss = sub = the client, aud = the
/// endpoint, valid 300 s, a fresh jti.
fn claims() -> JWTClaims<NoCustomClaims> {
    let mut claims = JWTClaims::<NoCustomClaims>::default()
        .with_issuer(CLIENT)
        .with_subject(CLIENT)
        .with_audience(AUDIENCE)
        .with_jwt_id(hex::encode(rand::random::<[u8; 16]>()));
    claims.issued_at = Some(at(NOW));
    claims.expires_at = Some(at(NOW + 300));
    claims
}

fn form(assertion: &str) -> Vec<(String, String)> {
    vec![
        ("grant_type".into(), "client_credentials".into()),
        ("client_assertion_type".into(), CLIENT_ASSERTION_TYPE.into()),
        ("client_assertion".into(), assertion.into()),
    ]
}

/// The store, in memory.
#[derive(Default)]
struct FakeClients {
    clients: Mutex<HashMap<String, RegisteredClient>>,
    used: Mutex<HashMap<(String, String), Timestamp>>,
    down: AtomicBool,
}

impl FakeClients {
    fn with(client_id: &str, jwks: Value) -> Self {
        let clients = Self::default();
        clients.register(client_id, jwks);
        clients
    }

    fn register(&self, client_id: &str, jwks: Value) {
        check_jwks(&jwks).unwrap();
        self.clients.lock().unwrap().insert(
            client_id.to_owned(),
            RegisteredClient {
                provider: ProviderCode::parse("ACME").unwrap(),
                jwks,
            },
        );
    }

    fn used(&self) -> usize {
        self.used.lock().unwrap().len()
    }
}

#[async_trait::async_trait]
impl Clients for FakeClients {
    async fn client(&self, client_id: &str) -> Result<Option<RegisteredClient>, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("test: down".into()));
        }
        Ok(self.clients.lock().unwrap().get(client_id).cloned())
    }

    async fn first_use(
        &self,
        client_id: &str,
        jti: &str,
        expires: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut used = self.used.lock().unwrap();
        let key = (client_id.to_owned(), jti.to_owned());
        if used.contains_key(&key) {
            return Ok(false);
        }
        used.insert(key, expires);
        Ok(true)
    }
}

async fn token_for(
    assertion: &str,
    clients: &FakeClients,
    key: &TokenKey,
) -> Result<TokenResponse, OAuthError> {
    grant(&form(assertion), clients, AUDIENCE, key, now()).await
}

/// The reason an assertion was refused; panics if it was not.
async fn refusal(assertion: &str, clients: &FakeClients) -> ClientRejection {
    match token_for(assertion, clients, &TokenKey::generate()).await {
        Err(OAuthError::InvalidClient(reason)) => reason,
        other => panic!("expected invalid_client, got {other:?}"),
    }
}

#[tokio::test]
async fn a_good_es256_assertion_gets_an_access_token_naming_client_provider_and_key_set() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let key = TokenKey::generate();
    let assertion = provider.es256.sign(claims()).unwrap();

    let response = token_for(&assertion, &clients, &key).await.unwrap();

    assert_eq!(response.token_type, "Bearer");
    assert_eq!(response.expires_in, 300);
    let access = verify_access_token(&key, &response.access_token, now()).unwrap();
    assert_eq!(access.client_id, CLIENT);
    assert_eq!(access.provider.as_str(), "ACME");
    assert_eq!(access.key_set, jwks_fingerprint(&provider.jwks()));
    assert_eq!(access.expires, Timestamp::from_unix(NOW + 300));
    assert_eq!(clients.used(), 1);
}

#[tokio::test]
async fn a_good_eddsa_assertion_gets_an_access_token() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let key = TokenKey::generate();
    let assertion = provider.ed25519.sign(claims()).unwrap();

    let response = token_for(&assertion, &clients, &key).await.unwrap();

    let access = verify_access_token(&key, &response.access_token, now()).unwrap();
    assert_eq!(access.client_id, CLIENT);
}

#[tokio::test]
async fn an_assertion_without_kid_is_tried_against_each_key_of_its_algorithm() {
    let first = ES256KeyPair::generate();
    let second = ES256KeyPair::generate();
    let ed = Ed25519KeyPair::generate();
    let jwks = json!({ "keys": [
        es256_jwk(&first, None), ed25519_jwk(&ed, None), es256_jwk(&second, None),
    ]});
    let clients = FakeClients::with(CLIENT, jwks);

    let by_second = second.sign(claims()).unwrap();
    let by_ed = ed.sign(claims()).unwrap();

    assert!(
        token_for(&by_second, &clients, &TokenKey::generate())
            .await
            .is_ok()
    );
    assert!(
        token_for(&by_ed, &clients, &TokenKey::generate())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_audience_array_naming_the_endpoint_is_accepted() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let audiences = HashSet::from(["https://elsewhere.example/", AUDIENCE]);
    let assertion = provider
        .es256
        .sign(claims().with_audiences(audiences))
        .unwrap();

    assert!(
        token_for(&assertion, &clients, &TokenKey::generate())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_bad_signature_is_refused() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    // Another key under the registered kid.
    let impostor = ES256KeyPair::generate().with_key_id("es-1");
    let assertion = impostor.sign(claims()).unwrap();

    assert_eq!(
        refusal(&assertion, &clients).await,
        ClientRejection::Signature
    );

    // The registered key's signature over other claims.
    let good = provider.es256.sign(claims()).unwrap();
    let other = provider.es256.sign(claims().with_subject("x")).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let other_claims = other.split('.').nth(1).unwrap();
    let spliced = format!("{}.{}.{}", parts[0], other_claims, parts[2]);
    assert_eq!(
        refusal(&spliced, &clients).await,
        ClientRejection::Signature
    );
    assert_eq!(clients.used(), 0);
}

#[tokio::test]
async fn an_unknown_client_is_refused() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let assertion = provider
        .es256
        .sign(claims().with_issuer("nobody").with_subject("nobody"))
        .unwrap();

    assert_eq!(
        refusal(&assertion, &clients).await,
        ClientRejection::UnknownClient
    );
}

#[tokio::test]
async fn a_wrong_audience_is_refused() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    for aud in [
        "https://kaisen.example/provider/v1/token/",
        "https://other.example/provider/v1/token",
        "",
    ] {
        let assertion = provider.es256.sign(claims().with_audience(aud)).unwrap();
        assert_eq!(
            refusal(&assertion, &clients).await,
            ClientRejection::Audience,
            "{aud}"
        );
    }
    let mut no_aud = claims();
    no_aud.audiences = None;
    let assertion = provider.es256.sign(no_aud).unwrap();
    assert_eq!(
        refusal(&assertion, &clients).await,
        ClientRejection::Missing("aud")
    );
}

#[tokio::test]
async fn a_sub_or_client_id_other_than_the_issuer_is_refused() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let other_sub = provider
        .es256
        .sign(claims().with_subject("someone"))
        .unwrap();
    assert_eq!(
        refusal(&other_sub, &clients).await,
        ClientRejection::Subject
    );

    let assertion = provider.es256.sign(claims()).unwrap();
    let mut with_client_id = form(&assertion);
    with_client_id.push(("client_id".into(), "someone".into()));
    let refused = grant(
        &with_client_id,
        &clients,
        AUDIENCE,
        &TokenKey::generate(),
        now(),
    )
    .await;
    assert!(matches!(
        refused,
        Err(OAuthError::InvalidClient(ClientRejection::ClientIdMismatch))
    ));

    let mut matching = form(&assertion);
    matching.push(("client_id".into(), CLIENT.into()));
    assert!(
        grant(&matching, &clients, AUDIENCE, &TokenKey::generate(), now())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_expired_assertion_is_refused() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let mut expired = claims();
    expired.issued_at = Some(at(NOW - 200));
    expired.expires_at = Some(at(NOW));
    let assertion = provider.es256.sign(expired).unwrap();
    assert_eq!(
        refusal(&assertion, &clients).await,
        ClientRejection::Expired
    );

    let mut last_second = claims();
    last_second.issued_at = Some(at(NOW - 200));
    last_second.expires_at = Some(at(NOW + 1));
    let assertion = provider.es256.sign(last_second).unwrap();
    assert!(
        token_for(&assertion, &clients, &TokenKey::generate())
            .await
            .is_ok()
    );

    let mut no_exp = claims();
    no_exp.expires_at = None;
    let assertion = provider.es256.sign(no_exp).unwrap();
    assert_eq!(
        refusal(&assertion, &clients).await,
        ClientRejection::Missing("exp")
    );
}

#[tokio::test]
async fn an_assertion_living_301_seconds_is_refused_and_300_accepted() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let mut too_long = claims();
    too_long.expires_at = Some(at(NOW + 301));
    let assertion = provider.es256.sign(too_long).unwrap();
    assert_eq!(
        refusal(&assertion, &clients).await,
        ClientRejection::Lifetime(301)
    );

    let mut backwards = claims();
    backwards.issued_at = Some(at(NOW + 50));
    backwards.expires_at = Some(at(NOW + 40));
    let assertion = provider.es256.sign(backwards).unwrap();
    assert_eq!(
        refusal(&assertion, &clients).await,
        ClientRejection::Lifetime(-10)
    );

    let mut exactly = claims();
    exactly.expires_at = Some(at(NOW + 300));
    let assertion = provider.es256.sign(exactly).unwrap();
    assert!(
        token_for(&assertion, &clients, &TokenKey::generate())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_iat_61_seconds_ahead_is_refused_and_60_accepted() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let ahead = |secs| {
        let mut claims = claims();
        claims.issued_at = Some(at(NOW + secs));
        claims.expires_at = Some(at(NOW + secs + 120));
        provider.es256.sign(claims).unwrap()
    };
    assert_eq!(
        refusal(&ahead(61), &clients).await,
        ClientRejection::IssuedInFuture
    );
    assert!(
        token_for(&ahead(60), &clients, &TokenKey::generate())
            .await
            .is_ok()
    );

    let mut no_iat = claims();
    no_iat.issued_at = None;
    let assertion = provider.es256.sign(no_iat).unwrap();
    assert_eq!(
        refusal(&assertion, &clients).await,
        ClientRejection::Missing("iat")
    );
}

#[tokio::test]
async fn an_nbf_61_seconds_ahead_is_refused_and_60_accepted() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let mut later = claims();
    later.invalid_before = Some(at(NOW + 61));
    let assertion = provider.es256.sign(later).unwrap();
    assert_eq!(
        refusal(&assertion, &clients).await,
        ClientRejection::NotYetValid
    );

    let mut skewed = claims();
    skewed.invalid_before = Some(at(NOW + 60));
    let assertion = provider.es256.sign(skewed).unwrap();
    assert!(
        token_for(&assertion, &clients, &TokenKey::generate())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_replayed_jti_is_refused_and_remembered_until_exp() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let assertion = provider.es256.sign(claims()).unwrap();

    assert!(
        token_for(&assertion, &clients, &TokenKey::generate())
            .await
            .is_ok()
    );
    assert_eq!(
        refusal(&assertion, &clients).await,
        ClientRejection::Replayed
    );

    // The same jti in a freshly signed assertion is a replay too.
    let jti = claims_jti(&assertion);
    let again = provider.ed25519.sign(claims().with_jwt_id(&jti)).unwrap();
    assert_eq!(refusal(&again, &clients).await, ClientRejection::Replayed);

    let used = clients.used.lock().unwrap();
    assert_eq!(
        used.get(&(CLIENT.to_owned(), jti)),
        Some(&Timestamp::from_unix(NOW + 300))
    );
}

/// The `jti` of a compact JWS (read without verifying).
fn claims_jti(assertion: &str) -> String {
    let claims = assertion.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_missing_or_oversized_jti_is_refused() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let mut no_jti = claims();
    no_jti.jwt_id = None;
    let assertion = provider.es256.sign(no_jti).unwrap();
    assert_eq!(
        refusal(&assertion, &clients).await,
        ClientRejection::Missing("jti")
    );

    let long = provider
        .es256
        .sign(claims().with_jwt_id("j".repeat(257)))
        .unwrap();
    assert!(matches!(
        refusal(&long, &clients).await,
        ClientRejection::JwtId(_)
    ));
    assert_eq!(clients.used(), 0);
}

#[tokio::test]
async fn a_refused_assertion_does_not_use_up_its_jti() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let wrong = provider
        .es256
        .sign(
            claims()
                .with_jwt_id("once")
                .with_audience("https://elsewhere.example/"),
        )
        .unwrap();
    assert_eq!(refusal(&wrong, &clients).await, ClientRejection::Audience);
    assert_eq!(clients.used(), 0);

    let right = provider.es256.sign(claims().with_jwt_id("once")).unwrap();
    assert!(
        token_for(&right, &clients, &TokenKey::generate())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(serde_json::to_vec(&claims()).unwrap().as_slice());
    for assertion in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        let reason = refusal(&assertion, &clients).await;
        assert!(
            matches!(
                &reason,
                ClientRejection::Algorithm(_) | ClientRejection::Malformed(_)
            ),
            "{reason:?}"
        );
    }
    assert_eq!(
        refusal(&format!("{header}.{payload}."), &clients).await,
        ClientRejection::Algorithm("none".into())
    );
    assert_eq!(clients.used(), 0);
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_as_secret_is_refused() {
    let provider = Provider::new();
    let jwks = provider.jwks();
    let clients = FakeClients::with(CLIENT, jwks.clone());
    let point = provider
        .es256
        .public_key()
        .public_key()
        .to_bytes_uncompressed();
    let secrets: Vec<Vec<u8>> = vec![
        point,
        serde_json::to_vec(&jwks["keys"][0]).unwrap(),
        serde_json::to_vec(&jwks).unwrap(),
        provider.ed25519.public_key().to_bytes(),
    ];
    for secret in secrets {
        let key = HS256Key::from_bytes(&secret).with_key_id("es-1");
        let assertion = key.authenticate(claims()).unwrap();
        assert_eq!(
            refusal(&assertion, &clients).await,
            ClientRejection::Algorithm("HS256".into())
        );
    }
    assert_eq!(clients.used(), 0);
}

#[tokio::test]
async fn an_assertion_whose_kid_or_alg_has_no_registered_key_is_refused() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let other_kid = ES256KeyPair::from_bytes(&provider.es256.to_bytes())
        .unwrap()
        .with_key_id("es-2");
    let assertion = other_kid.sign(claims()).unwrap();
    assert!(matches!(
        refusal(&assertion, &clients).await,
        ClientRejection::NoKey { .. }
    ));

    // An EdDSA assertion naming the ES256 key's kid.
    let crossed = Ed25519KeyPair::from_bytes(&provider.ed25519.to_bytes())
        .unwrap()
        .with_key_id("es-1");
    let assertion = crossed.sign(claims()).unwrap();
    assert!(matches!(
        refusal(&assertion, &clients).await,
        ClientRejection::NoKey { .. }
    ));
}

#[tokio::test]
async fn garbage_assertions_are_refused_as_invalid_client() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let good = provider.es256.sign(claims()).unwrap();
    let cases = [
        "not-a-jwt".to_owned(),
        "a.b.c".to_owned(),
        format!("{good}.extra"),
        format!("{}.", good.split('.').take(2).collect::<Vec<_>>().join(".")),
        "x".repeat(9000),
    ];
    for assertion in cases {
        let reason = refusal(&assertion, &clients).await;
        assert!(
            matches!(
                reason,
                ClientRejection::Malformed(_) | ClientRejection::Signature
            ),
            "{reason:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_critical_header_extension_is_refused() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let good = provider.es256.sign(claims()).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let header = b64(br#"{"alg":"ES256","kid":"es-1","crit":["x-policy"],"x-policy":1}"#);
    let assertion = format!("{header}.{}.{}", parts[1], parts[2]);

    let reason = refusal(&assertion, &clients).await;

    assert!(matches!(reason, ClientRejection::Jose(_)), "{reason:?}");
}

#[tokio::test]
async fn a_replaced_key_set_refuses_old_assertions_and_old_access_tokens() {
    let old = Provider::new();
    let clients = FakeClients::with(CLIENT, old.jwks());
    let key = TokenKey::generate();
    let issued = token_for(&old.es256.sign(claims()).unwrap(), &clients, &key)
        .await
        .unwrap();
    let pending = old.es256.sign(claims()).unwrap();

    // The operator imports new keys, under the same kids.
    let new = Provider::new();
    clients.register(CLIENT, new.jwks());

    assert_eq!(
        refusal(&pending, &clients).await,
        ClientRejection::Signature
    );
    let unkeyed = ES256KeyPair::from_bytes(&old.es256.to_bytes()).unwrap();
    assert_eq!(
        refusal(&unkeyed.sign(claims()).unwrap(), &clients).await,
        ClientRejection::Signature
    );
    // The old token still verifies, but names the old set: the caller
    // compares it with the current one and refuses.
    let access = verify_access_token(&key, &issued.access_token, now()).unwrap();
    assert_eq!(access.key_set, jwks_fingerprint(&old.jwks()));
    assert_ne!(access.key_set, jwks_fingerprint(&new.jwks()));
    // The new keys work.
    assert!(
        token_for(&new.es256.sign(claims()).unwrap(), &clients, &key)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_store_failure_is_not_a_failed_authentication() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    clients.down.store(true, Ordering::SeqCst);
    let assertion = provider.es256.sign(claims()).unwrap();

    let result = token_for(&assertion, &clients, &TokenKey::generate()).await;

    let Err(error @ OAuthError::Store(StoreError::Unavailable(_))) = result else {
        panic!("expected a store failure, got {result:?}");
    };
    let response = error.into_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(body(response).await["error"], "temporarily_unavailable");
}

// ---- the form ----

async fn form_error(form: &[(&str, &str)]) -> OAuthError {
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    let clients = FakeClients::default();
    grant(&form, &clients, AUDIENCE, &TokenKey::generate(), now())
        .await
        .unwrap_err()
}

const GRANT: (&str, &str) = ("grant_type", "client_credentials");
const TYPE: (&str, &str) = ("client_assertion_type", CLIENT_ASSERTION_TYPE);
const ASSERTION: (&str, &str) = ("client_assertion", "e30.e30.c2ln");

#[tokio::test]
async fn a_missing_parameter_is_an_invalid_request() {
    for form in [
        vec![TYPE, ASSERTION],
        vec![GRANT, ASSERTION],
        vec![GRANT, TYPE],
        vec![GRANT, TYPE, ("client_assertion", "")],
        vec![],
    ] {
        let error = form_error(&form).await;
        assert!(
            matches!(&error, OAuthError::InvalidRequest(m) if m.contains("missing")),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn a_repeated_parameter_is_an_invalid_request() {
    for form in [
        vec![GRANT, TYPE, ASSERTION, ASSERTION],
        vec![GRANT, GRANT, TYPE, ASSERTION],
        vec![GRANT, TYPE, ("client_assertion_type", "other"), ASSERTION],
        vec![GRANT, TYPE, ASSERTION, ("scope", "a"), ("scope", "b")],
    ] {
        let error = form_error(&form).await;
        assert!(
            matches!(&error, OAuthError::InvalidRequest(m) if m.contains("repeated")),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn another_grant_type_is_unsupported() {
    for grant_type in [
        "password",
        "authorization_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ] {
        let error = form_error(&[("grant_type", grant_type), TYPE, ASSERTION]).await;
        assert!(
            matches!(error, OAuthError::UnsupportedGrantType),
            "{error:?}"
        );
    }
    // Checked before the assertion parameters.
    let error = form_error(&[("grant_type", "password")]).await;
    assert!(
        matches!(error, OAuthError::UnsupportedGrantType),
        "{error:?}"
    );
}

#[tokio::test]
async fn another_client_assertion_type_is_invalid_client() {
    let error = form_error(&[GRANT, ("client_assertion_type", "urn:x"), ASSERTION]).await;
    assert!(matches!(
        error,
        OAuthError::InvalidClient(ClientRejection::AssertionType)
    ));
}

// ---- access tokens ----

#[tokio::test]
async fn an_access_token_expires_after_300_seconds() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let key = TokenKey::generate();
    let token = token_for(&provider.es256.sign(claims()).unwrap(), &clients, &key)
        .await
        .unwrap()
        .access_token;

    let late = |secs| verify_access_token(&key, &token, Timestamp::from_unix(NOW + secs));
    assert!(late(299).is_ok());
    assert_eq!(late(300), Err(InvalidToken::Expired));
    assert_eq!(late(100_000), Err(InvalidToken::Expired));
}

#[tokio::test]
async fn a_tampered_access_token_or_one_of_another_key_is_refused() {
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let key = TokenKey::from_bytes([7; 32]);
    let token = token_for(&provider.es256.sign(claims()).unwrap(), &clients, &key)
        .await
        .unwrap()
        .access_token;

    let other = TokenKey::from_bytes([8; 32]);
    assert_eq!(
        verify_access_token(&other, &token, now()),
        Err(InvalidToken::Signature)
    );

    // Another provider in the claims, the signature kept.
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["prv"] = json!("OTHER");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    assert_eq!(
        verify_access_token(&key, &forged, now()),
        Err(InvalidToken::Signature)
    );

    // One flipped character of the signature.
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    assert!(verify_access_token(&key, &flipped, now()).is_err());

    for garbage in ["", "a.b", "a.b.c", "Bearer x"] {
        assert_eq!(
            verify_access_token(&key, garbage, now()),
            Err(InvalidToken::Malformed)
        );
    }
}

#[tokio::test]
async fn a_jwt_of_another_type_signed_with_the_token_key_is_not_an_access_token() {
    let key = TokenKey::from_bytes([9; 32]);
    let mut claims = Claims::with_custom_claims(
        json!({ "prv": "ACME", "kst": "x" }),
        jwt_simple::prelude::Duration::from_secs(300),
    )
    .with_subject(CLIENT)
    .with_jwt_id("j");
    claims.issued_at = Some(at(NOW));
    claims.expires_at = Some(at(NOW + 300));
    let foreign = HS256Key::from_bytes(&key.to_bytes())
        .authenticate(claims)
        .unwrap();

    assert_eq!(
        verify_access_token(&key, &foreign, now()),
        Err(InvalidToken::Malformed)
    );
}

#[test]
fn a_token_key_is_never_printed_and_round_trips_through_its_bytes() {
    let key = TokenKey::from_bytes([0xAB; 32]);
    let printed = format!("{key:?}");
    assert!(
        !printed.contains("171") && !printed.to_lowercase().contains("ab, "),
        "{printed}"
    );
    assert_eq!(TokenKey::from_bytes(key.to_bytes()).to_bytes(), [0xAB; 32]);
    assert_ne!(
        TokenKey::generate().to_bytes(),
        TokenKey::generate().to_bytes()
    );
}

// ---- answers ----

async fn body(response: axum::response::Response) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn the_token_response_is_the_spec_shape_and_never_cached() {
    let response = TokenResponse {
        access_token: "t".into(),
        token_type: "Bearer".into(),
        expires_in: 300,
    }
    .into_response();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        body(response).await,
        json!({ "access_token": "t", "token_type": "Bearer", "expires_in": 300 })
    );
}

#[tokio::test]
async fn every_failed_authentication_answers_401_invalid_client_with_one_description() {
    let mut descriptions = HashSet::new();
    for reason in [
        ClientRejection::UnknownClient,
        ClientRejection::Signature,
        ClientRejection::Replayed,
        ClientRejection::Audience,
    ] {
        let shown = reason.to_string();
        let response = OAuthError::InvalidClient(reason).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let body = body(response).await;
        assert_eq!(body["error"], "invalid_client");
        let description = body["error_description"].as_str().unwrap().to_owned();
        assert!(!description.contains(&shown));
        descriptions.insert(description);
    }
    assert_eq!(descriptions.len(), 1);
}

#[tokio::test]
async fn malformed_requests_answer_400_with_their_error_code() {
    let response =
        OAuthError::InvalidRequest("The parameter grant_type is missing.".into()).into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        body(response).await,
        json!({ "error": "invalid_request", "error_description": "The parameter grant_type is missing." })
    );

    let response = OAuthError::UnsupportedGrantType.into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(response).await["error"], "unsupported_grant_type");

    let response = OAuthError::Store(StoreError::Corrupt {
        what: "clients",
        detail: "x".into(),
    })
    .into_response();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body(response).await["error"], "server_error");
}

#[tokio::test]
async fn an_invalid_token_answers_401_with_a_bearer_challenge() {
    let response = InvalidToken::Expired.into_response();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token""#
    );
    assert_eq!(body(response).await["error"], "invalid_token");
}

/// A log sink for one test.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_log_says_why_but_never_shows_the_assertion() {
    let log = Log::default();
    let sink = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let provider = Provider::new();
    let clients = FakeClients::with(CLIENT, provider.jwks());
    let assertion = provider
        .es256
        .sign(claims().with_audience("https://elsewhere.example/"))
        .unwrap();
    // tracing caches each callsite's interest process-wide, computed on the
    // thread that first reaches it: a parallel test with no subscriber may
    // have cached "never". Reach the callsite, then have its interest
    // computed again here, where this test's subscriber is the default.
    refusal(&assertion, &clients).await;
    tracing::callsite::rebuild_interest_cache();
    log.0.lock().unwrap().clear();

    assert_eq!(
        refusal(&assertion, &clients).await,
        ClientRejection::Audience
    );

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("aud does not name this token endpoint"),
        "{text}"
    );
    assert!(text.contains(CLIENT), "{text}");
    let signature = assertion.rsplit('.').next().unwrap();
    assert!(
        !text.contains(signature) && !text.contains(&assertion[..20]),
        "{text}"
    );
}

// ---- the JWK set ----

#[test]
fn a_set_of_p256_and_ed25519_public_keys_is_accepted() {
    let provider = Provider::new();
    check_jwks(&provider.jwks()).unwrap();
    let bare = json!({ "keys": [
        es256_jwk(&ES256KeyPair::generate(), None),
        ed25519_jwk(&Ed25519KeyPair::generate(), None),
        { "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "key_ops": ["verify"],
          "x": b64(&Ed25519KeyPair::generate().public_key().to_bytes()) },
    ]});
    check_jwks(&bare).unwrap();
}

#[test]
fn a_bad_key_set_is_refused_naming_the_key_and_the_fault() {
    let provider = Provider::new();
    let es = es256_jwk(&provider.es256, Some("es-1"));
    let ed = ed25519_jwk(&provider.ed25519, Some("ed-1"));
    let with = |jwk: &Value, name: &str, value: Value| {
        let mut jwk = jwk.clone();
        jwk[name] = value;
        json!({ "keys": [ed.clone(), jwk] })
    };
    let without = |jwk: &Value, name: &str| {
        let mut jwk = jwk.clone();
        jwk.as_object_mut().unwrap().remove(name);
        json!({ "keys": [ed.clone(), jwk] })
    };
    let private_d = b64(&provider.es256.to_bytes());
    let cases: Vec<(Value, &str)> = vec![
        (json!([]), "not a JSON object"),
        (json!({}), "no \"keys\""),
        (json!({ "keys": [] }), "no key"),
        (
            with(&es, "d", json!(private_d)),
            "keys[1]: is a private key",
        ),
        (
            with(&es, "kty", json!("RSA")),
            "keys[1]: kty \"RSA\" is not accepted",
        ),
        (with(&es, "kty", json!("oct")), "keys[1]: kty \"oct\""),
        (without(&es, "kty"), "keys[1]: has no \"kty\""),
        (
            with(&es, "crv", json!("P-384")),
            "keys[1]: crv \"P-384\" is not accepted",
        ),
        (with(&ed, "crv", json!("X25519")), "keys[1]: crv \"X25519\""),
        (
            with(&es, "alg", json!("ES384")),
            "keys[1]: alg \"ES384\" does not match",
        ),
        (with(&es, "alg", json!("EdDSA")), "keys[1]: alg \"EdDSA\""),
        (with(&ed, "alg", json!("ES256")), "keys[1]: alg \"ES256\""),
        (
            with(&es, "use", json!("enc")),
            "keys[1]: use \"enc\" is not \"sig\"",
        ),
        (with(&es, "key_ops", json!(["sign"])), "keys[1]: key_ops"),
        (
            with(&es, "kid", json!("ed-1")),
            "keys[1]: kid \"ed-1\" is already the kid of keys[0]",
        ),
        (
            with(&es, "kid", json!(7)),
            "keys[1]: \"kid\" is not a string",
        ),
        (with(&es, "kid", json!("")), "keys[1]: kid is empty"),
        (without(&es, "y"), "keys[1]: has no \"y\""),
        (
            with(&es, "x", json!(b64(&[1; 31]))),
            "keys[1]: x is 31 bytes long",
        ),
        (
            with(&es, "x", json!("not base64!")),
            "keys[1]: x is not base64url",
        ),
        (
            with(&es, "y", json!(b64(&[0xFF; 32]))),
            "keys[1]: x and y are not a point of P-256",
        ),
        (
            with(&ed, "x", json!(b64(&[3; 31]))),
            "keys[1]: x is 31 bytes long",
        ),
        (
            with(&ed, "x", json!(b64(&[3; 33]))),
            "keys[1]: x is 33 bytes long",
        ),
        (
            json!({ "keys": [ed.clone(), "text"] }),
            "keys[1]: is not a JSON object",
        ),
    ];
    for (jwks, expected) in cases {
        let message = check_jwks(&jwks).unwrap_err();
        assert!(
            message.contains(expected),
            "{message:?} should contain {expected:?}"
        );
    }
}

#[test]
fn a_fingerprint_ignores_order_and_layout_but_not_content() {
    let provider = Provider::new();
    let jwks = provider.jwks();
    let reordered: Value = serde_json::from_str(&format!(
        "{{ \"keys\" : [ {}, {} ] }}",
        jwks["keys"][1], jwks["keys"][0]
    ))
    .unwrap();
    let mut members_shuffled = json!({ "keys": [] });
    for key in jwks["keys"].as_array().unwrap() {
        let mut pairs: Vec<(&String, &Value)> = key.as_object().unwrap().iter().collect();
        pairs.reverse();
        let text = pairs
            .iter()
            .map(|(k, v)| format!("{}:{}", json!(k), v))
            .collect::<Vec<_>>()
            .join(" , ");
        members_shuffled["keys"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::from_str(&format!("{{{text}}}")).unwrap());
    }

    let print = jwks_fingerprint(&jwks);
    assert_eq!(print.len(), 64);
    assert!(
        print
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(jwks_fingerprint(&reordered), print);
    assert_eq!(jwks_fingerprint(&members_shuffled), print);

    let mut changed = jwks.clone();
    changed["keys"][0]["kid"] = json!("es-2");
    assert_ne!(jwks_fingerprint(&changed), print);
    let one_key = json!({ "keys": [jwks["keys"][0].clone()] });
    assert_ne!(jwks_fingerprint(&one_key), print);
    assert_ne!(jwks_fingerprint(&Provider::new().jwks()), print);
}
