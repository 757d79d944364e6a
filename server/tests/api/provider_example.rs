//! The reference provider (`server/examples/provider.rs`, written against
//! SPEC §8 alone) against the real portal with the demo data: its
//! assertions get tokens for both demo keys (PEM and JWK), its lookups find the demo
//! line, and its webhook listener takes what the portal's own signer sends,
//! once, and refuses what another secret signed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kaisen::provider::webhook::{Failure, Sender, WebhookSecret};
use serde_json::json;

use crate::helpers::{TestDatabase, spawn_app_on};

#[path = "../../examples/provider.rs"]
#[expect(dead_code, reason = "the example's command line is not under test")]
mod example;

/// A demo key, as the README's steps name it.
fn demo_key(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/demo-keys")
        .join(file)
}

/// The demo keys as private JWKs (with their `kid`), written to `dir`.
fn demo_jwks(dir: &Path) -> [PathBuf; 2] {
    use jwt_simple::prelude::{ES256KeyPair, Ed25519KeyPair};
    let read = |file: &str| std::fs::read_to_string(demo_key(file)).expect("the demo key");
    let es256 = ES256KeyPair::from_pem(&read("w0001-es256.pem")).expect("P-256");
    let ed25519 = Ed25519KeyPair::from_pem(&read("w0002-ed25519.pem")).expect("Ed25519");
    let ed25519 = ed25519.to_bytes();
    let jwks = [
        json!({"kty": "EC", "crv": "P-256", "kid": "w0001-2026-12",
               "d": URL_SAFE_NO_PAD.encode(es256.to_bytes())}),
        json!({"kty": "OKP", "crv": "Ed25519", "kid": "w0002-2026-12",
               "d": URL_SAFE_NO_PAD.encode(&ed25519[..32]), "x": URL_SAFE_NO_PAD.encode(&ed25519[32..])}),
    ];
    jwks.map(|jwk| {
        let path = dir.join(format!("{}.jwk", jwk["kid"].as_str().expect("a kid")));
        std::fs::write(&path, jwk.to_string()).expect("written");
        path
    })
}

/// The example's webhook listener for `secret`, on a free port: its inbox
/// and its URL.
async fn listen(secret: &str) -> (Arc<example::Inbox>, String) {
    let inbox = Arc::new(example::Inbox::new(secret).expect("the demo secret"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!("http://{}/webhook", listener.local_addr().expect("bound"));
    tokio::spawn(axum::serve(listener, example::webhook_listener(inbox.clone())).into_future());
    (inbox, url)
}

#[tokio::test]
async fn the_reference_provider_gets_tokens_for_both_demo_keys_and_finds_the_demo_line() {
    let db = TestDatabase::new().await;
    let app = spawn_app_on(&db, |c| c.demo = true).await;
    let dir = tempfile::TempDir::new().expect("a folder");
    let [w0001_jwk, w0002_jwk] = demo_jwks(dir.path());
    for (client_id, key, kid) in [
        ("demo-w0001", demo_key("w0001-es256.pem"), None),
        (
            "demo-w0002",
            demo_key("w0002-ed25519.pem"),
            Some("w0002-2026-12"),
        ),
        ("demo-w0001", w0001_jwk, None),
        ("demo-w0002", w0002_jwk, None),
    ] {
        let key = example::SigningKey::read(&key, kid).expect("the demo key");
        let portal = example::Portal::new(&app.address, client_id, key);
        let token = portal.token().await.expect("a token");
        assert_eq!(
            (&token["token_type"], &token["expires_in"]),
            (&json!("Bearer"), &json!(300))
        );
        let token = example::access_token(&token).expect("an access token");
        let found = portal
            .lookup(&token, "2001:db8:1234:5600::1", None)
            .await
            .expect("an answer");
        assert_eq!(
            found["customer_id"], "CAF0000000001",
            "{client_id}: {found}"
        );
        let at = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
        let at = at
            .format(&time::format_description::well_known::Rfc3339)
            .expect("a time");
        let unknown = portal
            .lookup(&token, "2001:db8:ffff::1", Some(&at))
            .await
            .expect("an answer");
        assert_eq!(unknown, json!({"notify": false}));
        let refused = portal
            .lookup(&token, "not an address", None)
            .await
            .expect_err("refused");
        assert!(refused.to_string().starts_with("HTTP 400"), "{refused}");
    }
}

#[tokio::test]
async fn the_reference_listener_takes_the_portals_signed_event_once_and_refuses_another_secret() {
    let secret = "whsec_qP83nAe0PBzaLpcv6s2J/ZhuNWVc/1CWaux74L1cbYQ=";
    let (inbox, url) = listen(secret).await;

    let url = url::Url::parse(&url).expect("a URL");
    let sender = Sender::new().expect("a webhook client");
    let event = json!({
        "id": "019ad0f2-6b1c-7c3e-9a4b-5d6e7f809a1b",
        "type": "notification.granted",
        "timestamp": "2026-12-01T09:30:00Z",
        "data": {"customer_id": "CAF0000000001", "provider": "W0001",
                 "application_id": "A-1", "disclosure_id": "d-1"},
    });
    let body = serde_json::to_vec(&event).expect("JSON");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let demo = WebhookSecret::parse(secret).expect("the demo secret");
    for _ in 0..2 {
        sender
            .send(
                &url,
                &demo,
                "019ad0f2-6b1c-7c3e-9a4b-5d6e7f809a1b",
                now,
                &body,
            )
            .await
            .expect("acknowledged");
    }
    assert_eq!(
        inbox.handled(),
        1,
        "a redelivery is acknowledged, not handled"
    );

    let other = WebhookSecret::parse("whsec_KADMCjjiyBKa+tNnI6bkp/T/ofuzi6JNPcR2PuPQ0xE=")
        .expect("W0002's secret");
    assert_eq!(
        sender.send(&url, &other, "evt-2", now, &body).await,
        Err(Failure::Status(401))
    );
    let stale = now - 10 * 60;
    assert_eq!(
        sender.send(&url, &demo, "evt-3", stale, &body).await,
        Err(Failure::Status(401)),
        "a timestamp ten minutes old"
    );
    assert_eq!(inbox.handled(), 1);
}

#[tokio::test]
async fn the_reference_provider_receives_a_real_change_at_its_listener_and_pulls_it() {
    let secret = "whsec_qP83nAe0PBzaLpcv6s2J/ZhuNWVc/1CWaux74L1cbYQ=";
    let (inbox, url) = listen(secret).await;
    let db = TestDatabase::new().await;
    let app = spawn_app_on(&db, |c| c.demo = true).await;
    // The demo's W0001, its webhook pointed at this test's listener.
    app.import(json!({"providers": [{
        "code": "W0001", "service_name": "IP電話", "name": "西日本テレコム株式会社",
        "api": {"client_id": "demo-w0001", "webhook_url": url, "webhook_secret": secret,
                "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "kid": "w0001-2026-12",
                    "x": "E0bh34-i0zpnP_5ssyLupq7QAxSv3JfD5Bg1rCnj57k",
                    "y": "khRpa5yBk5rmMjWIoJwjK1BNd5DhSLOFJrILW7pjOkk", "alg": "ES256", "use": "sig"}]}},
    }]}))
    .await
    .expect("re-registered");
    let key = example::SigningKey::read(&demo_key("w0001-es256.pem"), None).expect("the key");
    let portal = example::Portal::new(&app.address, "demo-w0001", key);
    let token = example::access_token(&portal.token().await.expect("a token")).expect("a token");
    let found = portal
        .lookup(&token, "2001:db8:1234:5600::1", None)
        .await
        .expect("an answer");
    assert_eq!(found["notify"], true, "{found}");

    let line = app.log_in("CAF0000000001", "Demo0001").await;
    let id = line.submit_ok("do_not_notify", &["W0001"]).await;
    line.wait_until_completed(&id).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while inbox.handled() == 0 {
        assert!(std::time::Instant::now() < deadline, "no event arrived");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(inbox.handled(), 1);

    let pulled = portal.events(&token, None).await.expect("the events");
    assert_eq!(
        pulled["events"][0]["type"], "notification.revoked",
        "{pulled}"
    );
    assert_eq!(pulled["events"][0]["data"]["application_id"], json!(id));
    let next = pulled["next"].as_str().expect("a cursor");
    let later = portal.events(&token, Some(next)).await.expect("the events");
    assert_eq!(later, json!({"events": [], "next": next}));
}
