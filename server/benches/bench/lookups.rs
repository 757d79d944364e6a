//! Provider lookups (SPEC §8) under load: one provider registered for the
//! API with a key made here, the bench's reader lines set to 「通知する」
//! for it with a /48 each, and its clients looking up addresses inside
//! them. Each answer is a disclosure recorded durably before it is sent.

use std::net::SocketAddr;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_simple::prelude::*;

use crate::http::{self, Conn, Outcome, Plan};
use crate::server;

/// The bench's API provider.
const PROVIDER: usize = 1;
/// Its client ID.
const CLIENT_ID: &str = "bench-provider";

/// The provider's key, made for this run.
pub struct Registration {
    key: ES256KeyPair,
}

impl Registration {
    /// A new key.
    pub fn new() -> Self {
        Self {
            key: ES256KeyPair::generate().with_key_id("bench"),
        }
    }

    /// Writes the import file that registers the provider and gives lines
    /// 1 to `lines` (whose key hash is `key_hash`) the setting 「通知する」
    /// for it and the prefix `2001:db8:<n>::/48`.
    pub fn write_import(&self, path: &Path, lines: u64, key_hash: &str) {
        let point = self.key.public_key().public_key().to_bytes_uncompressed();
        let jwks = serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "bench",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        }]});
        let code = server::provider_code(PROVIDER);
        let file = serde_json::json!({
            "providers": [{
                "code": code, "service_name": format!("ベンチ光サービス{PROVIDER}"),
                "name": format!("ベンチ通信株式会社{PROVIDER}"),
                "purpose": "ベンチマークのため",
                "api": {
                    "client_id": CLIENT_ID, "jwks": jwks,
                    "webhook_url": "https://events.example.jp/bench",
                    "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                },
            }],
            "lines": (1..=lines).map(|n| serde_json::json!({
                "customer_id": server::customer_id(n),
                "access_key_hash": key_hash,
                "services": [{"name": "光電話", "status": "利用中"}],
                "notifications": [{"provider": code, "setting": "notify", "set_on": "2026-04-01", "method": "初期設定"}],
            })).collect::<Vec<_>>(),
            "prefixes": (1..=lines).map(|n| serde_json::json!({
                "customer_id": server::customer_id(n),
                "prefix": format!("2001:db8:{n:x}::/48"),
                "from": "2026-01-01T00:00:00+09:00",
                "until": null,
            })).collect::<Vec<_>>(),
        });
        std::fs::write(path, file.to_string()).expect("the registration file written");
    }

    /// An access token from the portal at `addr`.
    pub async fn token(&self, addr: SocketAddr) -> String {
        let claims = Claims::create(Duration::from_secs(300))
            .with_issuer(CLIENT_ID)
            .with_subject(CLIENT_ID)
            .with_audience(format!("http://{addr}/provider/v1/token"))
            .with_jwt_id(hex::encode(rand::random::<[u8; 16]>()));
        let assertion = self.key.sign(claims).expect("signed");
        let body = format!(
            "grant_type=client_credentials&client_assertion_type=\
             urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}"
        );
        let request = format!(
            "POST /provider/v1/token HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut conn = Conn::connect(addr).await.expect("connected");
        let answer = conn.send(request.as_bytes()).await.expect("answered");
        assert_eq!(
            answer.status,
            200,
            "token: {}",
            String::from_utf8_lossy(&answer.body)
        );
        let token: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON");
        token["access_token"].as_str().expect("a token").to_owned()
    }
}

/// Lookups by `plan.clients` clients of addresses inside lines 1 to
/// `lines`' prefixes, spread over `addrs`.
pub async fn run(addrs: &[SocketAddr], plan: Plan, token: &str, lines: u64) -> Outcome {
    let bearer = format!("Authorization: Bearer {token}\r\n");
    http::run(addrs, plan, move |addr, client, n| {
        let line = (client + n) as u64 % lines + 1;
        let body = format!(
            "{{\"ipv6_address\":\"2001:db8:{line:x}::{:x}\"}}",
            rand::random::<u16>()
        );
        Some(http::post_json(
            addr,
            "/provider/v1/line-info/retrieve",
            None,
            &bearer,
            body.as_bytes(),
        ))
    })
    .await
}
