//! Signatures checked by the Standard Webhooks reference crate
//! (`standardwebhooks`, its own HMAC and base64), deliveries against real
//! listeners on 127.0.0.1.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::net::TcpListener;

use super::*;

const BODY: &[u8] = br#"{"id":"evt_01","type":"notification.granted","timestamp":"2030-03-17T17:46:40Z","data":{"customer_id":"CAF0000000001","provider":"ACME"}}"#;

fn secret_of(key: &[u8]) -> String {
    format!("whsec_{}", STANDARD.encode(key))
}

fn a_secret() -> (String, WebhookSecret) {
    let text = secret_of(&rand::random::<[u8; 32]>());
    let secret = WebhookSecret::parse(&text).unwrap();
    (text, secret)
}

fn unix_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// The headers a delivery carries, as the receiver sees them.
fn headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", id.parse().unwrap());
    headers.insert("webhook-timestamp", timestamp.to_string().parse().unwrap());
    headers.insert("webhook-signature", signature.parse().unwrap());
    headers
}

// ---- signatures ----

#[test]
fn a_signature_is_verified_by_the_standard_webhooks_reference_crate() {
    let (text, secret) = a_secret();
    let now = unix_now();
    let signed = signature(&secret, "evt_01", now, BODY);
    assert!(signed.starts_with("v1,"), "{signed}");

    let receiver = standardwebhooks::Webhook::new(&text).unwrap();
    receiver
        .verify(BODY, &headers("evt_01", now, &signed))
        .unwrap();
    // And the reference computes the same string.
    assert_eq!(receiver.sign("evt_01", now, BODY).unwrap(), signed);
}

#[test]
fn a_tampered_body_id_or_timestamp_or_a_wrong_secret_fails_verification() {
    let (text, secret) = a_secret();
    let now = unix_now();
    let signed = signature(&secret, "evt_01", now, BODY);
    let receiver = standardwebhooks::Webhook::new(&text).unwrap();

    let mut tampered = BODY.to_vec();
    let at = tampered.len() - 10;
    tampered[at] ^= 1;
    assert!(
        receiver
            .verify(&tampered, &headers("evt_01", now, &signed))
            .is_err()
    );
    assert!(
        receiver
            .verify(BODY, &headers("evt_02", now, &signed))
            .is_err()
    );
    assert!(
        receiver
            .verify(BODY, &headers("evt_01", now - 1, &signed))
            .is_err()
    );

    let (other_text, _) = a_secret();
    let other = standardwebhooks::Webhook::new(&other_text).unwrap();
    assert!(
        other
            .verify(BODY, &headers("evt_01", now, &signed))
            .is_err()
    );
}

#[test]
fn keys_of_24_and_64_bytes_sign_as_the_reference_does() {
    let now = unix_now();
    for len in [24, 33, 64] {
        let key: Vec<u8> = (0..len)
            .map(|i| u8::try_from(i * 7 % 251).unwrap())
            .collect();
        let text = secret_of(&key);
        let secret = WebhookSecret::parse(&text).unwrap();
        let reference = standardwebhooks::Webhook::new(&text).unwrap();
        assert_eq!(
            reference.sign("msg_1", now, BODY).unwrap(),
            signature(&secret, "msg_1", now, BODY),
            "{len} bytes"
        );
        assert_eq!(secret.expose(), text);
    }
}

// ---- secrets ----

#[test]
fn a_secret_other_than_whsec_and_24_to_64_bytes_of_base64_is_refused() {
    let key32 = STANDARD.encode([0xFB_u8; 32]);
    let cases = [
        (String::new(), "begin with whsec_"),
        (key32.clone(), "begin with whsec_"),
        (format!("WHSEC_{key32}"), "begin with whsec_"),
        ("whsec_".to_owned(), "0 bytes"),
        (secret_of(&[1; 23]), "23 bytes"),
        (secret_of(&[1; 65]), "65 bytes"),
        (
            format!("whsec_{}", key32.trim_end_matches('=')),
            "not whsec_ followed by base64",
        ),
        (
            format!("whsec_{}", key32.replace('+', "-").replace('/', "_")),
            "base64",
        ),
        (format!("whsec_ {key32}"), "base64"),
        (format!("whsec_{key32}\n"), "base64"),
    ];
    for (text, expected) in cases {
        let message = WebhookSecret::parse(&text).unwrap_err();
        assert!(message.contains(expected), "{text:?}: {message}");
        if text.len() > 10 {
            assert!(
                !message.contains(&text[6..]),
                "the message repeats the secret"
            );
        }
    }
}

#[test]
fn a_secret_is_never_printed() {
    let (text, secret) = a_secret();
    let printed = format!("{secret:?} {:?}", Some(&secret));
    assert!(!printed.contains(&text[6..16]), "{printed}");
    assert!(printed.contains("redacted"), "{printed}");
}

#[test]
fn a_secret_deserialises_through_its_parser() {
    let (text, _) = a_secret();
    let parsed: WebhookSecret = serde_json::from_value(serde_json::json!(text)).unwrap();
    assert_eq!(parsed.expose(), text);
    assert!(serde_json::from_value::<WebhookSecret>(serde_json::json!("whsec_AAAA")).is_err());
}

// ---- URLs ----

#[test]
fn https_urls_and_http_on_loopback_are_accepted() {
    for url in [
        "https://provider.example/hooks/kaisen?tenant=1",
        "https://203.0.113.7:8443/",
        "https://[2001:db8::1]/hook",
        "http://127.0.0.1:8080/hook",
        "http://127.8.9.10/",
        "http://[::1]:9000/hook",
        "http://localhost/hook",
        "http://LocalHost:3000/hook",
    ] {
        check_webhook_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
}

#[test]
fn other_urls_are_refused_saying_why() {
    for (url, expected) in [
        ("http://provider.example/hook", "must be https://"),
        ("http://10.0.0.1/hook", "must be https://"),
        ("http://[::ffff:127.0.0.1]/hook", "must be https://"),
        ("http://localhost.evil.example/", "must be https://"),
        ("http://127.0.0.1.nip.io/", "must be https://"),
        ("ftp://provider.example/", "scheme \"ftp\""),
        ("file:///etc/passwd", "scheme \"file\""),
        ("https://user@provider.example/", "user name or password"),
        (
            "https://user:hunter2@provider.example/",
            "user name or password",
        ),
        ("https://provider.example/hook#part", "fragment"),
        ("provider.example/hook", "not a URL"),
        ("https://", "not a URL"),
        ("", "not a URL"),
    ] {
        let message = check_webhook_url(url).unwrap_err();
        assert!(message.contains(expected), "{url}: {message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}

// ---- back-off ----

#[test]
fn retries_wait_5_s_doubling_up_to_10_min_and_never_give_up() {
    let secs = |attempts| retry_delay(attempts).as_secs();
    assert_eq!(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(secs),
        [5, 5, 10, 20, 40, 80, 160, 320, 600, 600]
    );
    assert_eq!(secs(1_000), 600);
    assert_eq!(secs(u32::MAX), 600);
    assert_eq!(retry_delay(1), FIRST_RETRY);
    assert_eq!(retry_delay(100), LONGEST_RETRY);
}

// ---- delivery ----

/// A provider's webhook endpoint that fails a number of times first.
#[derive(Clone, Default)]
struct Endpoint {
    failures_left: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

async fn receive(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Bytes) -> StatusCode {
    endpoint.received.lock().unwrap().push((headers, body));
    let failing = endpoint
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// Serves `router` on 127.0.0.1; its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

#[tokio::test]
async fn a_delivery_is_retried_until_a_2xx_and_arrives_signed() {
    let endpoint = Endpoint::default();
    endpoint.failures_left.store(2, Ordering::SeqCst);
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(endpoint.clone());
    let base = serve(router).await;
    let url = check_webhook_url(&format!("{base}/hook")).unwrap();
    let (text, secret) = a_secret();
    let sender = Sender::new().unwrap();
    let timestamp = unix_now();

    let mut outcomes = Vec::new();
    for _ in 0..5 {
        let outcome = sender.send(&url, &secret, "evt_01", timestamp, BODY).await;
        let done = outcome.is_ok();
        outcomes.push(outcome);
        if done {
            break;
        }
    }

    assert_eq!(
        outcomes,
        [Err(Failure::Status(500)), Err(Failure::Status(500)), Ok(())]
    );
    assert_eq!(
        Failure::Status(500).to_string(),
        "the webhook endpoint answered HTTP 500"
    );
    let received = endpoint.received.lock().unwrap();
    assert_eq!(received.len(), 3);
    let receiver = standardwebhooks::Webhook::new(&text).unwrap();
    for (headers, body) in received.iter() {
        assert_eq!(body.as_ref(), BODY);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(headers["webhook-id"], "evt_01");
        assert_eq!(headers["webhook-timestamp"], timestamp.to_string().as_str());
        receiver.verify(body, headers).unwrap();
    }
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let endpoint = Endpoint::default();
    let router = axum::Router::new()
        .route(
            "/moved",
            axum::routing::post(|| async {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, "/hook")],
                )
                    .into_response()
            }),
        )
        .route("/hook", axum::routing::post(receive))
        .with_state(endpoint.clone());
    let base = serve(router).await;
    let url = check_webhook_url(&format!("{base}/moved")).unwrap();
    let (_, secret) = a_secret();

    let outcome = Sender::new()
        .unwrap()
        .send(&url, &secret, "evt_01", unix_now(), BODY)
        .await;

    assert_eq!(outcome, Err(Failure::Status(307)));
    assert!(endpoint.received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_endpoint_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    // Accepts, reads nothing, answers nothing; keeps every connection open.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let url = check_webhook_url(&format!("http://{address}/hook")).unwrap();
    let (_, secret) = a_secret();
    let sender = Sender::with_timeout(Duration::from_millis(300)).unwrap();

    let started = std::time::Instant::now();
    let outcome = sender.send(&url, &secret, "evt_01", unix_now(), BODY).await;

    assert_eq!(outcome, Err(Failure::Timeout(Duration::from_millis(300))));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        Failure::Timeout(Duration::from_secs(10)).to_string(),
        "the webhook endpoint did not answer within 10s"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_failure_that_says_so_without_the_url_or_secret() {
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = check_webhook_url(&format!("http://{address}/hook?token=abc123")).unwrap();
    let (text, secret) = a_secret();

    let outcome = Sender::new()
        .unwrap()
        .send(&url, &secret, "evt_01", unix_now(), BODY)
        .await;

    let Err(failure @ Failure::Connect(_)) = outcome else {
        panic!("expected a connection failure, got {outcome:?}");
    };
    let message = failure.to_string();
    assert!(message.to_lowercase().contains("refused"), "{message}");
    for secret_part in ["abc123", &text[6..], "CAF0000000001"] {
        assert!(!message.contains(secret_part), "{message}");
    }
}

#[tokio::test]
async fn an_endpoint_whose_certificate_is_not_trusted_is_a_connection_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key.into())
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _refused = acceptor.accept(stream).await;
        }
    });
    let url = check_webhook_url(&format!("https://{address}/hook")).unwrap();
    let (_, secret) = a_secret();

    let outcome = Sender::new()
        .unwrap()
        .send(&url, &secret, "evt_01", unix_now(), BODY)
        .await;

    let Err(Failure::Connect(message)) = &outcome else {
        panic!("expected a connection failure, got {outcome:?}");
    };
    assert!(message.contains("certificate"), "{message}");
}

#[tokio::test]
async fn a_url_that_is_not_a_webhook_url_is_not_sent_to() {
    let (_, secret) = a_secret();
    let url = url::Url::parse("http://192.0.2.1/hook").unwrap();

    let outcome = Sender::new()
        .unwrap()
        .send(&url, &secret, "evt_01", unix_now(), BODY)
        .await;

    assert!(matches!(outcome, Err(Failure::Url(_))), "{outcome:?}");
}
