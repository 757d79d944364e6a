//! A reference provider for kaisen's provider API, written against SPEC §8
//! alone: none of kaisen's code, only the crates a provider might choose
//! (reqwest, jwt-simple for JOSE, standardwebhooks, axum for the listener).
//!
//! ```text
//! cargo run -p kaisen-server --example provider -- token
//! cargo run -p kaisen-server --example provider -- lookup 2001:db8:1234:5600::1
//! cargo run -p kaisen-server --example provider -- listen --port 8101
//! cargo run -p kaisen-server --example provider -- events [--after CURSOR]
//! ```
//!
//! By default it is the demo provider W0001 (`demo-w0001`, the ES256 key in
//! `server/examples/demo-keys/`, its webhook secret) talking to a demo
//! portal on <http://127.0.0.1:3000>; `--url`, `--client-id`, `--key`,
//! `--kid` and `--secret` make it another.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Parser, Subcommand};
use jwt_simple::prelude::*;
use serde_json::Value;

/// Every error ends the program with its message.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// W0001's private key (published on purpose: demo only).
const DEMO_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/demo-keys/w0001-es256.pem"
);
/// W0001's webhook secret (demo only).
const DEMO_SECRET: &str = "whsec_qP83nAe0PBzaLpcv6s2J/ZhuNWVc/1CWaux74L1cbYQ=";

/// A reference provider for kaisen's provider API (SPEC §8).
#[derive(Parser)]
struct Cli {
    /// The portal's public URL (its `--public-url`).
    #[arg(long, global = true, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// The provider's client ID.
    #[arg(long, global = true, default_value = "demo-w0001")]
    client_id: String,
    /// The private key: PKCS#8 PEM or a private JWK, P-256 (ES256) or
    /// Ed25519 (EdDSA).
    #[arg(long, global = true, default_value = DEMO_KEY)]
    key: PathBuf,
    /// The `kid` to name in the assertion (a JWK's own by default; without
    /// one the portal tries each registered key of the algorithm).
    #[arg(long, global = true)]
    kid: Option<String>,
    /// The webhook secret (`whsec_…`), for `listen`.
    #[arg(long, global = true, default_value = DEMO_SECRET)]
    secret: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Gets an access token and prints the token response.
    Token,
    /// Gets a token and asks which line an address was.
    Lookup {
        /// The address the connection came from.
        ipv6_address: String,
        /// When it connected (RFC 3339); the portal's default is now.
        #[arg(long)]
        at: Option<String>,
    },
    /// Receives the portal's webhooks on http://127.0.0.1:PORT/webhook.
    Listen {
        /// The port (the demo registers 8101 for W0001, 8102 for W0002).
        #[arg(long, default_value_t = 8101)]
        port: u16,
    },
    /// Gets a token and pulls the events after a cursor.
    Events {
        /// The `next` of the previous pull; from the first event without.
        #[arg(long)]
        after: Option<String>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let portal = || -> Result<Portal> {
        let key = SigningKey::read(&cli.key, cli.kid.as_deref())?;
        Ok(Portal::new(&cli.url, &cli.client_id, key))
    };
    let answer = match &cli.command {
        Command::Listen { port } => return listen(&cli.secret, *port).await,
        Command::Token => portal()?.token().await?,
        Command::Lookup { ipv6_address, at } => {
            let portal = portal()?;
            let token = access_token(&portal.token().await?)?;
            portal.lookup(&token, ipv6_address, at.as_deref()).await?
        }
        Command::Events { after } => {
            let portal = portal()?;
            let token = access_token(&portal.token().await?)?;
            portal.events(&token, after.as_deref()).await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

/// Serves [`webhook_listener`] on 127.0.0.1:`port` until interrupted.
async fn listen(secret: &str, port: u16) -> Result<()> {
    let inbox = Arc::new(Inbox::new(secret)?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}/webhook", listener.local_addr()?);
    axum::serve(listener, webhook_listener(inbox)).await?;
    Ok(())
}

/// The provider's private key, for signing client assertions.
pub enum SigningKey {
    /// P-256, ES256.
    Es256(ES256KeyPair),
    /// Ed25519, EdDSA.
    EdDsa(Ed25519KeyPair),
}

impl SigningKey {
    /// Reads a PKCS#8 PEM file or a private JWK, naming `kid` (or the
    /// JWK's own) in the assertions' header.
    pub fn read(path: &Path, kid: Option<&str>) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the key {}: {e}", path.display()))?;
        let (key, own_kid) = if text.trim_start().starts_with('{') {
            Self::from_jwk(&serde_json::from_str(&text)?)?
        } else {
            (Self::from_pem(&text)?, None)
        };
        Ok(match kid.map(str::to_owned).or(own_kid) {
            Some(kid) => key.with_key_id(&kid),
            None => key,
        })
    }

    fn from_pem(pem: &str) -> Result<Self> {
        if let Ok(key) = ES256KeyPair::from_pem(pem) {
            return Ok(Self::Es256(key));
        }
        match Ed25519KeyPair::from_pem(pem) {
            Ok(key) => Ok(Self::EdDsa(key)),
            Err(_) => Err("the key is neither a P-256 nor an Ed25519 PKCS#8 PEM key".into()),
        }
    }

    fn from_jwk(jwk: &Value) -> Result<(Self, Option<String>)> {
        let field = |name: &str| -> Result<Vec<u8>> {
            let text = jwk[name].as_str().ok_or(format!("the JWK has no {name}"))?;
            Ok(URL_SAFE_NO_PAD.decode(text)?)
        };
        let key = match (jwk["kty"].as_str(), jwk["crv"].as_str()) {
            (Some("EC"), Some("P-256")) => Self::Es256(ES256KeyPair::from_bytes(&field("d")?)?),
            (Some("OKP"), Some("Ed25519")) => {
                let pair = [field("d")?, field("x")?].concat();
                Self::EdDsa(Ed25519KeyPair::from_bytes(&pair)?)
            }
            _ => return Err("the JWK is neither an EC P-256 nor an OKP Ed25519 key".into()),
        };
        Ok((key, jwk["kid"].as_str().map(str::to_owned)))
    }

    fn with_key_id(self, kid: &str) -> Self {
        match self {
            Self::Es256(key) => Self::Es256(key.with_key_id(kid)),
            Self::EdDsa(key) => Self::EdDsa(key.with_key_id(kid)),
        }
    }

    fn sign(&self, claims: JWTClaims<NoCustomClaims>) -> Result<String> {
        Ok(match self {
            Self::Es256(key) => key.sign(claims)?,
            Self::EdDsa(key) => key.sign(claims)?,
        })
    }
}

/// The portal's provider API, as one provider.
pub struct Portal {
    api: String,
    client_id: String,
    key: SigningKey,
    http: reqwest::Client,
}

impl Portal {
    /// The API of the portal at `url` (its public URL), for `client_id`.
    pub fn new(url: &str, client_id: &str, key: SigningKey) -> Self {
        Self {
            api: format!("{}/provider/v1", url.trim_end_matches('/')),
            client_id: client_id.to_owned(),
            key,
            http: reqwest::Client::new(),
        }
    }

    /// A client assertion (RFC 7523): `iss` = `sub` = the client ID, `aud`
    /// = the token endpoint's URL, good for 60 s, a fresh `jti`.
    fn assertion(&self) -> Result<String> {
        let claims = Claims::create(Duration::from_secs(60))
            .with_issuer(&self.client_id)
            .with_subject(&self.client_id)
            .with_audience(format!("{}/token", self.api))
            .with_jwt_id(URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()));
        self.key.sign(claims)
    }

    /// `POST /token`: the token response.
    pub async fn token(&self) -> Result<Value> {
        let assertion = self.assertion()?;
        let request = self.http.post(format!("{}/token", self.api)).form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ]);
        answer(request).await
    }

    /// `POST /line-info/retrieve`: `{"notify": true, "customer_id", …}` or
    /// `{"notify": false}`.
    pub async fn lookup(&self, token: &str, address: &str, at: Option<&str>) -> Result<Value> {
        let mut body = serde_json::json!({"ipv6_address": address});
        if let Some(at) = at {
            body["at"] = at.into();
        }
        let request = self
            .http
            .post(format!("{}/line-info/retrieve", self.api))
            .bearer_auth(token)
            .json(&body);
        answer(request).await
    }

    /// `GET /events?after=…`: `{"events": […], "next": "<cursor>"}`.
    pub async fn events(&self, token: &str, after: Option<&str>) -> Result<Value> {
        let mut request = self
            .http
            .get(format!("{}/events", self.api))
            .bearer_auth(token);
        if let Some(after) = after {
            request = request.query(&[("after", after)]);
        }
        answer(request).await
    }
}

/// The `access_token` of a token response.
pub fn access_token(response: &Value) -> Result<String> {
    Ok(response["access_token"]
        .as_str()
        .ok_or("the token response has no access_token")?
        .to_owned())
}

/// The JSON of a 2xx answer; any other is an error naming the status, the
/// `WWW-Authenticate` or `Retry-After` header, and the body.
async fn answer(request: reqwest::RequestBuilder) -> Result<Value> {
    let response = request.send().await?;
    let status = response.status();
    if status.is_success() {
        return Ok(response.json().await?);
    }
    let header = ["www-authenticate", "retry-after"]
        .iter()
        .find_map(|name| Some(format!(" ({name}: {:?})", response.headers().get(*name)?)))
        .unwrap_or_default();
    Err(format!("HTTP {status}{header}: {}", response.text().await?).into())
}

/// Where webhooks arrive: the secret that verifies them, and the
/// `webhook-id`s handled, so that a redelivery is acknowledged but not
/// handled twice (a real provider keeps them in its database).
pub struct Inbox {
    webhook: standardwebhooks::Webhook,
    handled: Mutex<HashSet<String>>,
}

/// What a verified delivery was.
pub enum Delivery {
    /// An event not seen before.
    New(Value),
    /// A redelivery of the event with this `webhook-id`.
    Again(String),
}

impl Inbox {
    /// An inbox verifying with `secret` (`whsec_…`).
    pub fn new(secret: &str) -> Result<Self> {
        Ok(Self {
            webhook: standardwebhooks::Webhook::new(secret)
                .map_err(|e| format!("the webhook secret: {e}"))?,
            handled: Mutex::new(HashSet::new()),
        })
    }

    /// Verifies a delivery's Standard Webhooks signature (and that its
    /// timestamp is within five minutes) and tells a new event from a
    /// redelivery.
    pub fn receive(&self, headers: &HeaderMap, body: &[u8]) -> Result<Delivery> {
        self.webhook.verify(body, headers)?;
        let id = headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .ok_or("no webhook-id")?
            .to_owned();
        let event: Value = serde_json::from_slice(body)?;
        let mut handled = self.handled.lock().map_err(|_| "the inbox is poisoned")?;
        Ok(if handled.insert(id.clone()) {
            Delivery::New(event)
        } else {
            Delivery::Again(id)
        })
    }

    /// How many distinct events have arrived.
    pub fn handled(&self) -> usize {
        self.handled.lock().map_or(0, |handled| handled.len())
    }
}

/// `POST /webhook`: 204 for a verified delivery, 401 for any other.
pub fn webhook_listener(inbox: Arc<Inbox>) -> axum::Router {
    axum::Router::new()
        .route("/webhook", axum::routing::post(receive))
        .with_state(inbox)
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    match inbox.receive(&headers, &body) {
        Ok(Delivery::New(event)) => {
            let summary = format!(
                "{} {} for {}",
                event["type"].as_str().unwrap_or("?"),
                event["data"]["customer_id"].as_str().unwrap_or("?"),
                event["data"]["provider"].as_str().unwrap_or("?"),
            );
            let action = match event["type"].as_str() {
                Some("notification.revoked") => " (delete the customer ID)",
                _ => "",
            };
            println!("{summary}{action}\n{event}");
            StatusCode::NO_CONTENT
        }
        Ok(Delivery::Again(id)) => {
            println!("{id} again: already handled");
            StatusCode::NO_CONTENT
        }
        Err(e) => {
            println!("refused a delivery: {e}");
            StatusCode::UNAUTHORIZED
        }
    }
}
