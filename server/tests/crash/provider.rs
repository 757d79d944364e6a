//! The provider side of the crash test: every provider of the fixture
//! registered for the provider API (one key, one webhook listener), line
//! prefixes, a provider looking lines up while the server is killed, and
//! the checks that no disclosure was answered without its record and no
//! event was lost, duplicated or delivered out of order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_simple::prelude::*;
use kaisen::store::{ApplicationRecord, EventKind, EventRecord, Store};
use rand::Rng;
use serde_json::{Value, json};
use shared::domain::{ApplicationState, CustomerId, Setting};

use super::fixture::{LINES, PROVIDERS, Workspace, customer_id, provider_code};

/// The webhook secret of every provider.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One in this many webhook requests is answered 503.
const FAIL_ONE_IN: u32 = 10;

/// Line `n`'s /56.
fn prefix(n: usize) -> String {
    format!("2001:db8:7000:{n:02x}00::/56")
}

/// An address in line `n`'s prefix.
fn address(n: usize) -> String {
    format!("2001:db8:7000:{n:02x}00::1")
}

/// What the webhook listener was sent, in arrival order: (event ID, the
/// body's type, whether it answered 2xx). It fails one request in
/// `FAIL_ONE_IN` until [`Webhooks::stop_failing`].
#[derive(Clone, Default)]
pub struct Webhooks {
    received: Arc<Mutex<Vec<(String, Value, bool)>>>,
    reliable: Arc<AtomicBool>,
}

impl Webhooks {
    /// From now on, answers every validly signed request with 2xx: what
    /// failed is then retried until delivered, which the end of the test
    /// waits for, without a new failure's backoff drawn at random.
    pub fn stop_failing(&self) {
        self.reliable.store(true, Ordering::SeqCst);
    }

    /// Listens on 127.0.0.1; returns the listener and its URL. Signatures
    /// are checked with the `standardwebhooks` crate; a bad one fails the
    /// test at the end (it is recorded as a non-event).
    pub async fn start() -> (Self, String) {
        let hooks = Self::default();
        let state = hooks.clone();
        let router = axum::Router::new().route(
            "/webhook",
            axum::routing::post(
                |axum::extract::State(s): axum::extract::State<Webhooks>,
                 headers: axum::http::HeaderMap,
                 body: axum::body::Bytes| async move {
                    let receiver = standardwebhooks::Webhook::new(SECRET).expect("a secret");
                    let valid = receiver.verify(&body, &headers).is_ok();
                    let ok = valid
                        && (s.reliable.load(Ordering::SeqCst)
                            || rand::rng().random_ratio(FAIL_ONE_IN - 1, FAIL_ONE_IN));
                    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let id = if valid {
                        event["id"].as_str().unwrap_or_default().to_owned()
                    } else {
                        "<bad signature>".to_owned()
                    };
                    s.received
                        .lock()
                        .expect("not poisoned")
                        .push((id, event, ok));
                    if ok {
                        axum::http::StatusCode::NO_CONTENT
                    } else {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    }
                },
            ),
        );
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!("http://{}/webhook", socket.local_addr().expect("bound"));
        tokio::spawn(async move { axum::serve(socket, router.with_state(state)).await });
        (hooks, url)
    }

    /// The IDs answered 2xx, each once, in the order of their first 2xx.
    fn delivered(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        self.received
            .lock()
            .expect("not poisoned")
            .iter()
            .filter(|(_, _, ok)| *ok)
            .filter(|(id, _, _)| seen.insert(id.clone()))
            .map(|(id, _, _)| id.clone())
            .collect()
    }
}

/// The provider: one key pair for every client ID.
pub struct Provider {
    key: ES256KeyPair,
    http: reqwest::Client,
    /// The disclosure IDs of every `notify: true` answered.
    pub answered: Arc<Mutex<BTreeSet<String>>>,
}

impl Provider {
    pub fn new() -> Self {
        Self {
            key: ES256KeyPair::generate().with_key_id("crash"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("a client"),
            answered: Arc::default(),
        }
    }

    fn jwks(&self) -> Value {
        let point = self.key.public_key().public_key().to_bytes_uncompressed();
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "crash",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        }]})
    }

    /// Registers every provider of the fixture and gives each line a /56,
    /// with `kaisen import` (after the fixture's own import).
    pub fn register(&self, binary: &Path, workspace: &Workspace, webhook_url: &str) {
        let providers: Vec<Value> = (0..PROVIDERS)
            .map(|n| {
                let service_name = ["IP電話", "映像配信", "セキュリティ対策"][n % 3];
                json!({
                    "code": provider_code(n),
                    "service_name": service_name,
                    "name": format!("試験通信{n:02}株式会社"),
                    "purpose": "ご契約回線の確認のため",
                    "api": {"client_id": provider_code(n).to_lowercase(), "jwks": self.jwks(),
                            "webhook_url": webhook_url, "webhook_secret": SECRET},
                })
            })
            .collect();
        let prefixes: Vec<Value> = (0..LINES)
            .map(|n| {
                json!({"customer_id": customer_id(n), "prefix": prefix(n),
                       "from": "2026-01-01T00:00:00+09:00", "until": null})
            })
            .collect();
        let file = json!({"providers": providers, "prefixes": prefixes});
        workspace.import_json(binary, "providers.json", &file);
    }

    async fn token(&self, base: &str, client_id: &str) -> Option<String> {
        let audience = format!("{base}/provider/v1/token");
        let claims = Claims::create(jwt_simple::prelude::Duration::from_secs(300))
            .with_issuer(client_id)
            .with_subject(client_id)
            .with_audience(&audience)
            .with_jwt_id(hex::encode(rand::random::<[u8; 16]>()));
        let assertion = self.key.sign(claims).expect("signed");
        let reply = self
            .http
            .post(audience)
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
            .await
            .ok()?;
        let body: Value = reply.json().await.ok()?;
        body["access_token"].as_str().map(str::to_owned)
    }

    /// Looks lines up as providers C0001 and C0002 until `stop`, noting
    /// every disclosure answered.
    pub fn spawn_lookups(
        self: &Arc<Self>,
        base: &str,
        stop: Arc<AtomicBool>,
    ) -> tokio::task::JoinHandle<()> {
        let (provider, base) = (self.clone(), base.to_owned());
        tokio::spawn(async move {
            let mut tokens = HashMap::new();
            while !stop.load(Ordering::SeqCst) {
                let client = provider_code(rand::rng().random_range(0..2)).to_lowercase();
                if !tokens.contains_key(&client) {
                    match provider.token(&base, &client).await {
                        Some(token) => tokens.insert(client.clone(), token),
                        None => {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                    };
                }
                let line = rand::rng().random_range(0..LINES);
                let reply = provider
                    .http
                    .post(format!("{base}/provider/v1/line-info/retrieve"))
                    .bearer_auth(&tokens[&client])
                    .json(&json!({"ipv6_address": address(line)}))
                    .send()
                    .await;
                let Ok(reply) = reply else { continue };
                if reply.status() == reqwest::StatusCode::UNAUTHORIZED {
                    tokens.remove(&client);
                    continue;
                }
                let Ok(body) = reply.json::<Value>().await else {
                    continue;
                };
                if body["notify"] == true {
                    let id = body["disclosure_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    provider.answered.lock().expect("not poisoned").insert(id);
                }
            }
        })
    }
}

/// Everything the checks read of a database.
pub struct ProviderSide {
    applications: Vec<ApplicationRecord>,
    events: BTreeMap<String, Vec<EventRecord>>,
    undelivered: BTreeSet<String>,
    disclosures: BTreeSet<String>,
}

impl ProviderSide {
    /// Reads `store`: every application, event and disclosure.
    pub async fn read(store: &Store) -> Self {
        let audit = store.audit().await.expect("every record decodes");
        let mut events = BTreeMap::new();
        for n in 0..PROVIDERS {
            let code = shared::domain::ProviderCode::parse(&provider_code(n)).expect("a code");
            events.insert(
                provider_code(n),
                store
                    .provider_events(&code, 0, usize::MAX)
                    .await
                    .expect("read"),
            );
        }
        let undelivered = store
            .undelivered_events()
            .await
            .expect("read")
            .into_iter()
            .map(|(e, _)| e.id)
            .collect();
        let mut disclosures = BTreeSet::new();
        for n in 0..LINES {
            let id = CustomerId::parse(&customer_id(n)).expect("an ID");
            let page = store
                .line_disclosures(&id, 0, u64::MAX)
                .await
                .expect("read");
            disclosures.extend(page.items.into_iter().map(|d| d.id));
        }
        Self {
            applications: audit.applications,
            events,
            undelivered,
            disclosures,
        }
    }

    /// How many events are waiting for delivery.
    pub fn undelivered(&self) -> usize {
        self.undelivered.len()
    }

    /// How many events there are.
    pub fn events(&self) -> usize {
        self.events.values().map(Vec::len).sum()
    }

    /// Broken promises: a disclosure answered without its record; an event
    /// without its completed application, or a grant without its
    /// disclosure; a provider's sequence with a gap or a repeat; a
    /// completed change to 「通知する」 without exactly one grant, or any
    /// change with more than one event; a webhook delivery of an event the
    /// database does not hold. With `end`, also: an event never delivered,
    /// and a line's events first delivered out of order.
    pub fn problems(&self, provider: &Provider, hooks: &Webhooks, end: bool) -> Vec<String> {
        let mut problems = Vec::new();
        for id in provider.answered.lock().expect("not poisoned").iter() {
            if !self.disclosures.contains(id) {
                problems.push(format!("disclosure {id} answered but not recorded"));
            }
        }
        let completed: HashMap<_, _> = self
            .applications
            .iter()
            .filter(|a| a.state == ApplicationState::Completed)
            .map(|a| (a.id, a))
            .collect();
        let mut per_change: HashMap<(shared::domain::ApplicationId, String), Vec<EventKind>> =
            HashMap::new();
        let mut by_id = HashMap::new();
        for (code, events) in &self.events {
            for (n, event) in events.iter().enumerate() {
                if event.sequence != n as u64 + 1 {
                    problems.push(format!(
                        "{code}: event {} has sequence {} at place {}",
                        event.id,
                        event.sequence,
                        n + 1
                    ));
                }
                if !completed.contains_key(&event.application_id) {
                    problems.push(format!(
                        "event {} for application {} not completed",
                        event.id, event.application_id
                    ));
                }
                if event.kind == EventKind::Granted
                    && !event
                        .disclosure_id
                        .as_ref()
                        .is_some_and(|d| self.disclosures.contains(d))
                {
                    problems.push(format!("grant {} without its disclosure", event.id));
                }
                per_change
                    .entry((event.application_id, code.clone()))
                    .or_default()
                    .push(event.kind);
                by_id.insert(event.id.clone(), event);
            }
        }
        for application in completed.values() {
            for change in &application.changes {
                let kinds = per_change
                    .get(&(application.id, change.provider.as_str().to_owned()))
                    .cloned()
                    .unwrap_or_default();
                let expected_grant = change.setting == Setting::Notify;
                let fine = if expected_grant {
                    kinds == [EventKind::Granted]
                } else {
                    kinds.is_empty() || kinds == [EventKind::Revoked]
                };
                if !fine {
                    problems.push(format!(
                        "application {} changing {} to {:?} has events {kinds:?}",
                        application.id, change.provider, change.setting
                    ));
                }
            }
        }
        let delivered = hooks.delivered();
        for id in &delivered {
            if !by_id.contains_key(id) {
                problems.push(format!("webhook delivered {id}, which the database lacks"));
            }
        }
        if end {
            let delivered_set: BTreeSet<&String> = delivered.iter().collect();
            for id in by_id.keys() {
                if !delivered_set.contains(id) {
                    problems.push(format!("event {id} never delivered"));
                }
            }
            let mut last: HashMap<(String, String), u64> = HashMap::new();
            for id in &delivered {
                let Some(event) = by_id.get(id) else { continue };
                let key = (
                    event.provider.as_str().to_owned(),
                    event.customer_id.as_str().to_owned(),
                );
                if let Some(before) = last.insert(key, event.sequence)
                    && before > event.sequence
                {
                    problems.push(format!(
                        "event {} (sequence {}) first delivered after sequence {before}",
                        event.id, event.sequence
                    ));
                }
            }
            if hooks
                .received
                .lock()
                .expect("not poisoned")
                .iter()
                .any(|(id, _, _)| id == "<bad signature>")
            {
                problems.push("a webhook with a bad signature".into());
            }
        }
        problems
    }
}
