//! One delivery attempt: a signed POST to the provider's webhook URL.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use url::Url;

use super::endpoint::check_webhook_url;
use super::secret::{WebhookSecret, signature};

/// The time an attempt may take, connecting included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A failed delivery attempt, in a short English sentence fit for the log
/// and the operator console: the status code or the kind of error, never
/// the secret or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The endpoint answered with this status, not a 2xx (a redirect
    /// included: redirects are not followed).
    #[error("the webhook endpoint answered HTTP {0}")]
    Status(u16),
    /// No answer within the time allowed.
    #[error("the webhook endpoint did not answer within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// No connection: the name did not resolve, the connection was refused,
    /// or TLS failed (an untrusted certificate, say).
    #[error("could not connect to the webhook endpoint: {0}")]
    Connect(String),
    /// The URL is not one a webhook may go to (see
    /// [`check_webhook_url`](super::check_webhook_url)).
    #[error("{0}")]
    Url(String),
    /// The request failed otherwise (the connection broke mid-way, say).
    #[error("the webhook request failed: {0}")]
    Request(String),
}

/// Sends webhooks: one HTTP client (rustls on ring with Mozilla's roots, no
/// proxy, no redirects followed, a time limit per attempt), shared by every
/// delivery. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    timeout: Duration,
}

impl Sender {
    /// A sender whose attempts may take [`DEFAULT_TIMEOUT`].
    pub fn new() -> Result<Self, String> {
        Self::with_timeout(DEFAULT_TIMEOUT)
    }

    /// A sender whose attempts may take `timeout`, connecting included.
    pub fn with_timeout(timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(true)
            .tls_built_in_webpki_certs(true)
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("kaisen-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make the webhook client: {}", root_cause(&e)))?;
        Ok(Self { client, timeout })
    }

    /// POSTs `body` (JSON) to `url` with the Standard Webhooks headers
    /// `webhook-id`, `webhook-timestamp` (Unix seconds) and
    /// `webhook-signature`. Succeeds on a 2xx answer, whatever its body.
    pub async fn send(
        &self,
        url: &Url,
        secret: &WebhookSecret,
        id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<(), Failure> {
        check_webhook_url(url.as_str()).map_err(Failure::Url)?;
        let id_header = HeaderValue::from_str(id)
            .map_err(|_| Failure::Request("the event ID is not a valid header value".into()))?;
        let response = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", id_header)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature(secret, id, timestamp, body))
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| self.failure(e))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(Failure::Status(status.as_u16()))
        }
    }

    /// What went wrong, without the URL (it may carry a token in its query).
    fn failure(&self, error: reqwest::Error) -> Failure {
        let error = error.without_url();
        if error.is_timeout() {
            Failure::Timeout(self.timeout)
        } else if error.is_connect() {
            Failure::Connect(root_cause(&error))
        } else {
            Failure::Request(root_cause(&error))
        }
    }
}

/// The innermost cause of an error (e.g. "Connection refused (os error
/// 111)", "invalid peer certificate: UnknownIssuer"), cut short.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let text = cause.to_string();
    match text.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}
