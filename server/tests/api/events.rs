//! Events for providers (SPEC §8) against the real server and a real
//! webhook listener: a change reaches the provider's webhook signed (checked
//! by the `standardwebhooks` crate, not by kaisen's code), retried after
//! the listener fails, in order; the same events are pulled by cursor; one
//! provider never sees another's; a grant shows on S2 and S9.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{LINE_A, TestApp, provider_name, service_name, spawn_app};
use crate::provider::{TestProvider, WEBHOOK_SECRET, now, rfc3339};

/// A request the listener received: headers, body, and the status it
/// answered.
type Received = (HeaderMap, Vec<u8>, u16);

/// A provider's webhook endpoint: answers 503 to the first `failures`
/// requests, then 204; keeps every request.
#[derive(Clone, Default)]
struct Listener {
    requests: Arc<Mutex<Vec<Received>>>,
    failures: Arc<Mutex<usize>>,
}

impl Listener {
    async fn start(failures: usize) -> (Self, String) {
        let listener = Self::default();
        *listener.failures.lock().expect("not poisoned") = failures;
        let state = listener.clone();
        let router = axum::Router::new().route(
            "/webhook",
            axum::routing::post(
                |axum::extract::State(s): axum::extract::State<Listener>,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    let status = {
                        let mut left = s.failures.lock().expect("not poisoned");
                        if *left > 0 {
                            *left -= 1;
                            AxumStatus::SERVICE_UNAVAILABLE
                        } else {
                            AxumStatus::NO_CONTENT
                        }
                    };
                    s.requests.lock().expect("not poisoned").push((
                        headers,
                        body.to_vec(),
                        status.as_u16(),
                    ));
                    status
                },
            ),
        );
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!("http://{}/webhook", socket.local_addr().expect("bound"));
        tokio::spawn(async move { axum::serve(socket, router.with_state(state)).await });
        (listener, url)
    }

    /// The requests answered 2xx, once there are `n` of them.
    async fn delivered(&self, n: usize) -> Vec<(HeaderMap, Vec<u8>)> {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let delivered: Vec<_> = self
                .requests
                .lock()
                .expect("not poisoned")
                .iter()
                .filter(|(_, _, status)| *status == 204)
                .map(|(h, b, _)| (h.clone(), b.clone()))
                .collect();
            if delivered.len() >= n {
                return delivered;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} events delivered",
                delivered.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Registers `provider` as `code` (`n`), and line A's /56 since an hour ago.
async fn register(app: &TestApp, provider: &TestProvider, n: usize) {
    app.import(json!({
        "providers": [{"code": format!("W{n:04}"), "service_name": service_name(n),
                       "name": provider_name(n), "api": provider.api()}],
        "prefixes": [{"customer_id": LINE_A, "prefix": "2001:db8:a::/56",
                      "from": rfc3339(now() - 3600), "until": null}],
    }))
    .await
    .expect("registered");
}

async fn pull(app: &TestApp, token: &str, after: Option<&str>) -> (StatusCode, Value) {
    let mut url = app.url("/provider/v1/events");
    if let Some(after) = after {
        url.push_str(&format!("?after={after}"));
    }
    let reply = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("answered");
    let status = reply.status();
    (status, reply.json().await.expect("JSON"))
}

/// Verifies a delivery as a provider would, with the `standardwebhooks`
/// crate, and returns its body.
fn verified(headers: &HeaderMap, body: &[u8]) -> Value {
    let receiver = standardwebhooks::Webhook::new(WEBHOOK_SECRET).expect("a secret");
    receiver.verify(body, headers).expect("a valid signature");
    let event: Value = serde_json::from_slice(body).expect("JSON");
    assert_eq!(
        event["id"].as_str(),
        headers.get("webhook-id").and_then(|v| v.to_str().ok()),
        "the event ID is the webhook-id"
    );
    event
}

#[tokio::test]
async fn a_change_reaches_the_providers_webhook_signed_in_order_retried_and_pullable() {
    let app = spawn_app().await;
    // W0001's endpoint fails its first request; W0003's works.
    let (w1_hook, w1_url) = Listener::start(1).await;
    let (w3_hook, w3_url) = Listener::start(0).await;
    let mut w1 = TestProvider::new("w0001");
    w1.webhook_url = w1_url;
    let mut w3 = TestProvider::new("w0003");
    w3.webhook_url = w3_url;
    register(&app, &w1, 1).await;
    register(&app, &w3, 3).await;
    let (t1, t3) = (w1.token(&app).await, w3.token(&app).await);
    // W0001 receives line A's ID on a lookup.
    let (status, _, _) = w1
        .lookup(&app, &t1, &json!({"ipv6_address": "2001:db8:a::1"}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Line A withdraws W0001's and grants W0003's, then W0001's again.
    let a = app.line_a().await;
    let revoke = a.submit_ok("do_not_notify", &["W0001"]).await;
    let grant_w3 = a.submit_ok("notify", &["W0003"]).await;
    a.wait_until_completed(&revoke).await;
    a.wait_until_completed(&grant_w3).await;
    let grant_w1 = a.submit_ok("notify", &["W0001"]).await;
    a.wait_until_completed(&grant_w1).await;

    // W0001: the revocation failed once, was retried (5 s later) with the
    // same ID, and only then the grant went.
    let delivered = w1_hook.delivered(2).await;
    let events: Vec<Value> = delivered.iter().map(|(h, b)| verified(h, b)).collect();
    assert_eq!(events[0]["type"], "notification.revoked");
    assert_eq!(events[1]["type"], "notification.granted");
    let requests = w1_hook.requests.lock().expect("not poisoned").clone();
    assert_eq!(requests.len(), 3, "one failure, two deliveries");
    assert_eq!(requests[0].2, 503);
    assert_eq!(
        requests[0].0.get("webhook-id"),
        requests[1].0.get("webhook-id"),
        "a retry keeps its webhook-id"
    );
    assert_eq!(
        events[0]["data"],
        json!({"customer_id": LINE_A, "provider": "W0001", "application_id": revoke})
    );
    let grant = &events[1]["data"];
    assert_eq!(
        (
            &grant["customer_id"],
            &grant["provider"],
            &grant["application_id"]
        ),
        (&json!(LINE_A), &json!("W0001"), &json!(grant_w1))
    );
    let disclosure_id = grant["disclosure_id"].as_str().expect("a disclosure ID");
    let timestamp = events[1]["timestamp"].as_str().expect("a time");
    assert!(
        time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
            .is_ok()
            && timestamp.ends_with("+09:00"),
        "{timestamp}"
    );

    // The grant is a disclosure: on S9 and on S2.
    let history = a.get("/api/disclosures").await.body;
    let granted: Vec<&Value> = history["items"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|row| row["reason"] == "granted")
        .collect();
    assert_eq!(granted.len(), 2, "W0003's and W0001's: {history}");
    let stored = app
        .store
        .line_disclosures(
            &shared::domain::CustomerId::parse(LINE_A).expect("an ID"),
            0,
            10,
        )
        .await
        .expect("read");
    assert!(stored.items.iter().any(|d| d.id == disclosure_id));
    assert!(
        a.notification("W0003").await.expect("notified")["last_disclosed_at"]
            .as_i64()
            .is_some()
    );

    // The same events, pulled: in order, by cursor, W0001's own only.
    let (status, page) = pull(&app, &t1, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        page["events"],
        json!(events),
        "the pull gives what the webhook got"
    );
    assert_eq!(page["next"], "2");
    let (_, rest) = pull(&app, &t1, Some("1")).await;
    assert_eq!(rest["events"], json!([events[1]]));
    let (_, none) = pull(&app, &t1, Some("2")).await;
    assert_eq!(none, json!({"events": [], "next": "2"}));
    let (_, of_w3) = pull(&app, &t3, None).await;
    let w3_events = of_w3["events"].as_array().expect("events");
    assert_eq!(w3_events.len(), 1, "{of_w3}");
    assert_eq!(w3_events[0]["data"]["provider"], "W0003");
    let w3_delivered = w3_hook.delivered(1).await;
    assert_eq!(
        verified(&w3_delivered[0].0, &w3_delivered[0].1),
        w3_events[0]
    );

    // A cursor that is not one: 400; no token: 401.
    let (status, body) = pull(&app, &t1, Some("abc")).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_request"))
    );
    let reply = reqwest::Client::new()
        .get(app.url("/provider/v1/events"))
        .send()
        .await
        .expect("answered");
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
}
