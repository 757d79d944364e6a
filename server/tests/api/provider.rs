//! The provider API (SPEC §8) against the real server: tokens for client
//! assertions signed by an independent JOSE library (jwt-simple), lookups
//! answering the customer ID only for a line set to 「通知する」, every
//! "no" byte-identical, each disclosure logged and on S9.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_simple::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{LINE_A, LINE_B, TestApp, spawn_app, spawn_app_with};

/// A provider as its own engineers would write it: a key pair, a client
/// ID, and an HTTP client.
pub struct TestProvider {
    client_id: String,
    key: ES256KeyPair,
    http: reqwest::Client,
    /// Where its events go.
    pub webhook_url: String,
}

/// The webhook secret every test provider registers.
pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

impl TestProvider {
    pub fn new(client_id: &str) -> Self {
        Self {
            client_id: client_id.into(),
            key: ES256KeyPair::generate().with_key_id("k1"),
            http: reqwest::Client::new(),
            webhook_url: "https://events.example.jp/kaisen".into(),
        }
    }

    fn jwks(&self) -> Value {
        let point = self.key.public_key().public_key().to_bytes_uncompressed();
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "k1",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        }]})
    }

    pub fn api(&self) -> Value {
        json!({
            "client_id": self.client_id,
            "jwks": self.jwks(),
            "webhook_url": self.webhook_url,
            "webhook_secret": WEBHOOK_SECRET,
        })
    }

    /// An assertion for `audience`, valid `secs` from now.
    fn assertion_for(&self, audience: &str, secs: u64) -> String {
        let claims = Claims::create(Duration::from_secs(secs))
            .with_issuer(&self.client_id)
            .with_subject(&self.client_id)
            .with_audience(audience)
            .with_jwt_id(hex::encode(rand::random::<[u8; 16]>()));
        self.key.sign(claims).expect("signed")
    }

    async fn token_reply(&self, app: &TestApp, assertion: &str) -> (StatusCode, Value) {
        let reply = self
            .http
            .post(app.url("/provider/v1/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
            ])
            .send()
            .await
            .expect("answered");
        let status = reply.status();
        (status, reply.json().await.expect("JSON"))
    }

    pub async fn token(&self, app: &TestApp) -> String {
        let assertion = self.assertion_for(&app.url("/provider/v1/token"), 300);
        let (status, body) = self.token_reply(app, &assertion).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (body["token_type"].as_str(), body["expires_in"].as_i64()),
            (Some("Bearer"), Some(300))
        );
        body["access_token"].as_str().expect("a token").to_owned()
    }

    /// A lookup's status, `WWW-Authenticate`/`Retry-After`, and body bytes.
    pub async fn lookup(
        &self,
        app: &TestApp,
        token: &str,
        body: &Value,
    ) -> (StatusCode, Option<String>, Vec<u8>) {
        let reply = self
            .http
            .post(app.url("/provider/v1/line-info/retrieve"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("answered");
        let status = reply.status();
        let header = reply
            .headers()
            .get("www-authenticate")
            .or_else(|| reply.headers().get("retry-after"))
            .map(|v| v.to_str().expect("ASCII").to_owned());
        (
            status,
            header,
            reply.bytes().await.expect("a body").to_vec(),
        )
    }
}

pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .expect("a time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formatted")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// Registers W0001 (line A and B 「通知する」) and W0003 (line A
/// 「通知しない」) for the API; line A's /56 since two hours ago, line B's
/// /56 from a day ago until an hour ago.
async fn registered(app: &TestApp) -> (TestProvider, TestProvider) {
    let (w1, w3) = (TestProvider::new("w0001"), TestProvider::new("w0003"));
    let t = now();
    app.import(json!({
        "providers": [
            {"code": "W0001", "service_name": crate::helpers::service_name(1), "name": crate::helpers::provider_name(1), "api": w1.api()},
            {"code": "W0003", "service_name": crate::helpers::service_name(3), "name": crate::helpers::provider_name(3), "api": w3.api()},
        ],
        "prefixes": [
            {"customer_id": LINE_A, "prefix": "2001:db8:a::/56", "from": rfc3339(t - 7200), "until": null},
            {"customer_id": LINE_B, "prefix": "2001:db8:b::/56", "from": rfc3339(t - 86_400), "until": rfc3339(t - 3600)},
        ],
    }))
    .await
    .expect("registered");
    (w1, w3)
}

#[tokio::test]
async fn a_provider_receives_the_customer_id_only_for_a_line_set_to_notify_and_every_no_is_the_same()
 {
    let app = spawn_app().await;
    let (w1, w3) = registered(&app).await;
    let (t1, t3) = (w1.token(&app).await, w3.token(&app).await);

    let (status, _, body) = w1
        .lookup(&app, &t1, &json!({"ipv6_address": "2001:db8:a:ff:1:2:3:4"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let yes: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(
        (yes["notify"].as_bool(), yes["customer_id"].as_str()),
        (Some(true), Some(LINE_A))
    );
    let disclosure_id = yes["disclosure_id"].as_str().expect("an ID");
    assert_eq!(yes.as_object().map(|o| o.len()), Some(3), "{yes}");

    // Logged, and the subscriber sees it.
    let a = app.line_a().await;
    let history = a.get("/api/disclosures").await.body;
    assert_eq!(history["total"], 1);
    assert_eq!(history["items"][0]["prefix"], "2001:db8:a::/56");
    assert_eq!(history["items"][0]["reason"], "lookup");
    let stored = app
        .store
        .line_disclosures(
            &shared::domain::CustomerId::parse(LINE_A).expect("an ID"),
            0,
            1,
        )
        .await
        .expect("read");
    assert_eq!(stored.items[0].id, disclosure_id);
    let s2 = a.get("/api/notifications").await.body;
    assert!(s2[0]["last_disclosed_at"].as_i64().is_some(), "{s2}");

    // Every "no": byte for byte the same.
    let t = now();
    let noes = [
        (
            "not notified",
            w3.lookup(&app, &t3, &json!({"ipv6_address": "2001:db8:a::1"}))
                .await,
        ),
        (
            "unknown address",
            w1.lookup(&app, &t1, &json!({"ipv6_address": "2001:db8:ffff::1"}))
                .await,
        ),
        (
            "prefix expired",
            w1.lookup(&app, &t1, &json!({"ipv6_address": "2001:db8:b::1"}))
                .await,
        ),
        (
            "at before the prefix was assigned",
            w1.lookup(
                &app,
                &t1,
                &json!({"ipv6_address": "2001:db8:a::1", "at": rfc3339(t - 3 * 3600)}),
            )
            .await,
        ),
    ];
    for (case, (status, _, body)) in &noes {
        assert_eq!(*status, StatusCode::OK, "{case}");
        assert_eq!(body.as_slice(), br#"{"notify":false}"#, "{case}");
    }
    // Line B's connection while it held its prefix: told.
    let (_, _, body) = w1
        .lookup(
            &app,
            &t1,
            &json!({"ipv6_address": "2001:db8:b::1", "at": rfc3339(t - 7200)}),
        )
        .await;
    assert_eq!(
        serde_json::from_slice::<Value>(&body).expect("JSON")["customer_id"],
        LINE_B
    );

    // Revoked after the connection: no, also for that earlier connection.
    let connected = rfc3339(t - 60);
    app.import(json!({"lines": [{
        "customer_id": LINE_A, "access_key": crate::helpers::KEY_A,
        "notifications": [{"provider": "W0001", "setting": "do_not_notify", "set_on": "2026-12-01", "method": "お電話"}],
    }]}))
    .await
    .expect("revoked");
    let (status, _, body) = w1
        .lookup(
            &app,
            &t1,
            &json!({"ipv6_address": "2001:db8:a::1", "at": connected}),
        )
        .await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, br#"{"notify":false}"#.as_slice())
    );
    assert_eq!(
        a.get("/api/disclosures").await.body["total"],
        1,
        "one disclosure of line A"
    );
}

#[tokio::test]
async fn every_failed_authentication_is_refused_and_a_replaced_key_set_ends_its_tokens() {
    let app = spawn_app().await;
    let (w1, _) = registered(&app).await;
    let audience = app.url("/provider/v1/token");
    let refused = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"], "invalid_client", "{body}");
    };
    let stranger = TestProvider::new("nobody");
    refused(
        stranger
            .token_reply(&app, &stranger.assertion_for(&audience, 300))
            .await,
    );
    // Another key than the registered one: a bad signature.
    let impostor = TestProvider::new("w0001");
    refused(
        impostor
            .token_reply(&app, &impostor.assertion_for(&audience, 300))
            .await,
    );
    refused(
        w1.token_reply(
            &app,
            &w1.assertion_for("https://elsewhere.example/provider/v1/token", 300),
        )
        .await,
    );
    refused(
        w1.token_reply(&app, &w1.assertion_for(&audience, 301))
            .await,
    );
    let mut expired = Claims::create(Duration::from_secs(300))
        .with_issuer("w0001")
        .with_subject("w0001")
        .with_audience(&audience)
        .with_jwt_id("old");
    expired.issued_at = Some(UnixTimeStamp::from_secs((now() - 600) as u64));
    expired.expires_at = Some(UnixTimeStamp::from_secs((now() - 300) as u64));
    refused(
        w1.token_reply(&app, &w1.key.sign(expired).expect("signed"))
            .await,
    );
    let once = w1.assertion_for(&audience, 300);
    assert_eq!(w1.token_reply(&app, &once).await.0, StatusCode::OK);
    refused(w1.token_reply(&app, &once).await);

    let lookup = json!({"ipv6_address": "2001:db8:a::1"});
    let (status, challenge, _) = w1.lookup(&app, "not-a-token", &lookup).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer error="invalid_token""#)
    );

    // W0001's keys replaced: its old token no longer works, a new one does.
    let token = w1.token(&app).await;
    let renewed = TestProvider::new("w0001");
    app.import(json!({"providers": [
        {"code": "W0001", "service_name": crate::helpers::service_name(1), "name": crate::helpers::provider_name(1), "api": renewed.api()},
    ]}))
    .await
    .expect("replaced");
    let (status, challenge, _) = w1.lookup(&app, &token, &lookup).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (
            StatusCode::UNAUTHORIZED,
            Some(r#"Bearer error="invalid_token""#)
        )
    );
    refused(
        w1.token_reply(&app, &w1.assertion_for(&audience, 300))
            .await,
    );
    let fresh = renewed.token(&app).await;
    assert_eq!(
        renewed.lookup(&app, &fresh, &lookup).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_malformed_lookup_gets_400_and_a_provider_beyond_its_rate_429() {
    let app = spawn_app_with(|c| {
        c.provider_rate = 1;
        c.provider_burst = 8;
    })
    .await;
    let (w1, _) = registered(&app).await;
    let token = w1.token(&app).await;
    for (case, body) in [
        ("an IPv4 address", json!({"ipv6_address": "192.0.2.1"})),
        ("no address", json!({"at": rfc3339(now())})),
        (
            "an unknown field",
            json!({"ipv6_address": "2001:db8:a::1", "line": LINE_A}),
        ),
        (
            "at a day and more ago",
            json!({"ipv6_address": "2001:db8:a::1", "at": rfc3339(now() - 86_500)}),
        ),
        (
            "at two minutes ahead",
            json!({"ipv6_address": "2001:db8:a::1", "at": rfc3339(now() + 120)}),
        ),
        (
            "at not RFC 3339",
            json!({"ipv6_address": "2001:db8:a::1", "at": "2026-12-01 10:00"}),
        ),
    ] {
        let (status, _, reply) = w1.lookup(&app, &token, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}");
        let reply: Value = serde_json::from_slice(&reply).expect("JSON");
        assert_eq!(reply["error"], "invalid_request", "{case}");
    }
    // Six of a burst of eight used, at one a second: ten more at once are
    // answered, then refused with a wait.
    let lookup = json!({"ipv6_address": "2001:db8:ffff::1"});
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let (status, retry_after, _) = w1.lookup(&app, &token, &lookup).await;
        statuses.push((status, retry_after));
    }
    assert_eq!(statuses[0].0, StatusCode::OK);
    let refusals: Vec<_> = statuses
        .iter()
        .filter(|(status, _)| *status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(refusals.len() >= 5, "{statuses:?}");
    for (_, retry_after) in refusals {
        assert!(
            retry_after
                .as_deref()
                .is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)),
            "{retry_after:?}"
        );
    }
}

#[tokio::test]
async fn the_demo_providers_keys_in_the_repository_get_tokens_and_find_the_demo_lines() {
    let db = crate::helpers::TestDatabase::new().await;
    let app = crate::helpers::spawn_app_on(&db, |c| c.demo = true).await;
    let http = reqwest::Client::new();
    let audience = app.url("/provider/v1/token");
    let es256 = ES256KeyPair::from_pem(include_str!("../../examples/demo-keys/w0001-es256.pem"))
        .expect("the demo ES256 key")
        .with_key_id("w0001-2026-12");
    let ed25519 =
        Ed25519KeyPair::from_pem(include_str!("../../examples/demo-keys/w0002-ed25519.pem"))
            .expect("the demo Ed25519 key")
            .with_key_id("w0002-2026-12");
    let claims = |client: &str| {
        Claims::create(Duration::from_secs(300))
            .with_issuer(client)
            .with_subject(client)
            .with_audience(&audience)
            .with_jwt_id(hex::encode(rand::random::<[u8; 16]>()))
    };
    for assertion in [
        es256.sign(claims("demo-w0001")).expect("signed"),
        ed25519.sign(claims("demo-w0002")).expect("signed"),
    ] {
        let reply = http
            .post(&audience)
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
            ])
            .send()
            .await
            .expect("answered");
        assert_eq!(reply.status(), StatusCode::OK);
        let token: Value = reply.json().await.expect("JSON");
        let answer: Value = http
            .post(app.url("/provider/v1/line-info/retrieve"))
            .bearer_auth(token["access_token"].as_str().expect("a token"))
            .json(&json!({"ipv6_address": "2001:db8:1234:5600::1"}))
            .send()
            .await
            .expect("answered")
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer["customer_id"], "CAF0000000001", "{answer}");
    }
}

/// A login of line A through the trusted proxy, for a client at `from`.
async fn log_in_from(app: &TestApp, from: &str) -> (StatusCode, Value) {
    let reply = reqwest::Client::new()
        .post(app.url("/api/session"))
        .header("origin", &app.address)
        .header("x-forwarded-for", from)
        .json(&json!({"customer_id": LINE_A, "access_key": crate::helpers::KEY_A}))
        .send()
        .await
        .expect("answered");
    let status = reply.status();
    (status, reply.json().await.expect("JSON"))
}

#[tokio::test]
async fn with_line_login_only_a_subscriber_logs_in_only_from_the_lines_prefix() {
    let app = spawn_app_with(|c| {
        c.line_login_only = true;
        c.trusted_proxies = vec!["127.0.0.1".parse().expect("an address")];
    })
    .await;
    registered(&app).await;
    let (status, _) = log_in_from(&app, "2001:db8:a:12::34").await;
    assert_eq!(status, StatusCode::OK, "from the line's /56");
    for elsewhere in ["2001:db8:b::1", "2001:db8:ffff::1", "192.0.2.7"] {
        let (status, body) = log_in_from(&app, elsewhere).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{elsewhere}");
        assert_eq!(
            body["message"], "ご契約の回線からアクセスしてください",
            "{elsewhere}"
        );
    }
}
