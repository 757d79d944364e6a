//! What an operator watches: a request ID and a span on every request,
//! Prometheus metrics (`--metrics-addr`, its own listener), and the log's
//! format (`--log-format text|json`).
//!
//! Metrics, all prefixed `kaisen_`:
//! - `http_requests_total` and `http_request_duration_seconds` by method,
//!   route (the router's pattern, never a raw path) and status;
//! - `applications_received_total`, `applications_completed_total`;
//! - `work_queue_depth`, `work_queue_oldest_age_seconds`, `mail_queue_depth`,
//!   `mail_queue_oldest_age_seconds` (read from the store at each scrape);
//! - `security_events_total` by event (failed logins, lockouts, 429s, …);
//! - `hashing_slots_in_use`, `hashing_slots`, `hashing_queue_waiting`;
//! - `store_commit_duration_seconds` (each group commit's flush and fsync);
//! - `connections_open`, `connections_refused_total`.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

use crate::state::{AppState, now};

/// The header that carries a request's ID.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Latency buckets, in seconds: from a cached read to a slow login.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (tracing-subscriber's JSON layer), for a
    /// log shipper.
    Json,
}

/// Sets up the process's log: `RUST_LOG` filters (default `info`), to
/// standard error.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// The process's metrics recorder, installed on first use. One per
/// process: every server in it (the tests start several) shares it.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let builder = [
            "kaisen_http_request_duration_seconds",
            "kaisen_store_commit_duration_seconds",
        ]
        .into_iter()
        .try_fold(builder, |builder, name| {
            builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), LATENCY_BUCKETS)
        })
        .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already; metrics are not kept");
        }
        handle
    })
}

/// Every request: an ID (a trusted proxy's `X-Request-Id`, else a new
/// one) in a span around it, so that every log line of the request names
/// it, and in the response's header; and its count and latency.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&request, &state.config.trusted_proxies);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", request_id = %id, method = %method);
    let mut response = next.run(request).instrument(span.clone()).await;
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| fallback_route(&path), |p| p.as_str().to_owned());
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::debug!(target: "kaisen::access", route, status, latency_ms = elapsed.as_secs_f64() * 1e3, "request done");
    });
    let labels = [
        ("method", method.as_str().to_owned()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("kaisen_http_requests_total", &labels).increment(1);
    metrics::histogram!("kaisen_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

/// Hands the route pattern that matched (known only inside the router)
/// out with the response, for [`observe`] to label the metrics with.
pub async fn keep_matched_path(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    response
}

/// A route label for a request no route pattern matched: the static
/// client and its assets, or "other" — never the raw path, which would
/// make a label per URL.
fn fallback_route(path: &str) -> String {
    if path.starts_with("/assets/") {
        "/assets/{file}".to_owned()
    } else if path == "/api" || path.starts_with("/api/") {
        "/api/other".to_owned()
    } else {
        "client".to_owned()
    }
}

/// The request's ID: a trusted proxy's `X-Request-Id` when it is short and
/// plain (letters, digits, `-`, `_`, `.`), else 16 random bytes in hex.
fn request_id(request: &Request, trusted: &[std::net::IpAddr]) -> String {
    let from_proxy = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|peer| trusted.contains(&peer.0.ip()));
    let given = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            from_proxy
                && (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    given.map_or_else(|| hex::encode(rand::random::<[u8; 16]>()), str::to_owned)
}

/// Serves `/metrics` on `listener` until `stop` resolves.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(render))
        .with_state(state);
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!(%error, "the metrics listener failed");
    }
}

/// `GET /metrics`: the gauges read now, then everything in Prometheus's
/// text format.
async fn render(State(state): State<AppState>) -> ([(HeaderName, &'static str); 1], String) {
    match state.store.queues(now()).await {
        Ok(queues) => {
            metrics::gauge!("kaisen_work_queue_depth").set(queues.work as f64);
            metrics::gauge!("kaisen_work_queue_oldest_age_seconds")
                .set(queues.oldest_work_age_secs as f64);
            metrics::gauge!("kaisen_mail_queue_depth").set(queues.mail as f64);
            metrics::gauge!("kaisen_mail_queue_oldest_age_seconds")
                .set(queues.oldest_mail_age_secs as f64);
            metrics::gauge!("kaisen_event_queue_depth").set(queues.events as f64);
            metrics::gauge!("kaisen_event_queue_oldest_age_seconds")
                .set(queues.oldest_event_age_secs as f64);
        }
        Err(error) => tracing::warn!(%error, "metrics: cannot read the queues"),
    }
    let slots = state.config.hash_slots();
    metrics::gauge!("kaisen_hashing_slots").set(slots as f64);
    metrics::gauge!("kaisen_hashing_slots_in_use")
        .set(slots.saturating_sub(state.hashing.free_slots()) as f64);
    metrics::gauge!("kaisen_hashing_queue_waiting").set(state.hashing.waiting() as f64);
    metrics::gauge!("kaisen_connections_open").set(state.health.connections.get() as f64);
    let handle = recorder();
    handle.run_upkeep();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::fallback_route;

    #[test]
    fn unmatched_paths_get_a_few_labels_never_the_path_itself() {
        assert_eq!(fallback_route("/assets/kaisen-1234.js"), "/assets/{file}");
        assert_eq!(fallback_route("/api/nothing/here"), "/api/other");
        assert_eq!(fallback_route("/applications/2026112500000421"), "client");
    }
}
