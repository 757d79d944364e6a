//! Builds the app: router, static client, worker, listener.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::any;
use axum_server::tls_rustls::RustlsConfig;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::hashing::HashingSlots;
use crate::limit::{LoginLimits, Window};
use crate::mail::{self, Mailer};
use crate::state::AppState;
use crate::store::Store;
use crate::{demo, import, password, routes, work};

/// The largest request body accepted.
const BODY_LIMIT: usize = 64 * 1024;

/// The whole app: `/api`; the built client's `assets/`, whose names carry
/// their content's hash and are cached for good; and `index.html`, always
/// revalidated, for every other path, so that deep links and reloads work.
/// Both send the brotli or gzip copy the client build made to a browser
/// that accepts it.
pub fn router(state: AppState) -> Router {
    let site = &state.config.site;
    let assets = ServeDir::new(site.join("assets"))
        .precompressed_br()
        .precompressed_gzip();
    let assets = tower::ServiceBuilder::new()
        .map_request(unnameable_file_is_not_found)
        .map_response(|response| cached(response, IMMUTABLE))
        .service(assets);
    let index = ServeFile::new(site.join("index.html"))
        .precompressed_br()
        .precompressed_gzip();
    let index = tower::ServiceBuilder::new()
        .map_response(|response| cached(response, "no-cache"))
        .service(index);
    let no_store = SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    let api = routes::api()
        .layer(no_store.clone())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            time_limit,
        ));
    let https = state.config.https();
    let app = Router::new()
        .nest("/api", api)
        // `nest` matches `/api` and `/api/…` but leaves `/api/` itself to the
        // fallback, which would answer with the client: it is an API path.
        .route(
            "/api/",
            any(|| async { ApiError::NotFound }).layer(no_store),
        )
        .nest_service("/assets", assets)
        .fallback_service(index)
        // Security headers on every response, API and client alike.
        .layer(always(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        .layer(always(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(always(header::REFERRER_POLICY, "no-referrer"))
        .layer(always(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
        .with_state(state);
    if https {
        app.layer(always(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        ))
    } else {
        app
    }
}

/// The Content-Security-Policy of every response: no inline script (the
/// wasm loader is a file), wasm compiled from our own origin only, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// How long a browser may keep a file of `assets/`: a year, without asking
/// again. A new build has new names.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Marks a static file's answer: how long to cache it (success only: a 404
/// must not be kept), and that it depends on `Accept-Encoding`.
fn cached<B>(
    mut response: axum::http::Response<B>,
    cache_control: &'static str,
) -> axum::http::Response<B> {
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        );
    }
    response
}

/// tower-http's `ServeDir` answers 500 to a path that cannot name a file
/// at all — a name longer than the file system allows (`ENAMETOOLONG`), or
/// an encoded NUL in a HEAD request. No asset has such a name, so it is
/// asked for as the folder itself, which is not found.
fn unnameable_file_is_not_found<B>(mut request: axum::http::Request<B>) -> axum::http::Request<B> {
    let path = request.uri().path();
    if path.len() > 255 || path.to_ascii_lowercase().contains("%00") {
        *request.uri_mut() = axum::http::Uri::from_static("/");
    }
    request
}

/// Answers 408 (with the usual error body) to an API request not done
/// within `--request-timeout`, such as one whose body never arrives.
async fn time_limit(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    tokio::time::timeout(state.config.request_timeout, next.run(request))
        .await
        .unwrap_or_else(|_| ApiError::Timeout.into_response())
}

fn always(name: header::HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// A bound, not yet running, server.
pub struct Server {
    listener: TcpListener,
    tls: Option<RustlsConfig>,
    state: AppState,
    mailer: Mailer,
}

impl Server {
    /// Opens the store (loading the demo data if asked and the database is
    /// empty) and binds the address.
    pub async fn build(
        config: ServeConfig,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let store = Store::open(&config.db)?;
        Self::with_store(config, store).await
    }

    /// Like [`Server::build`], with `store` already opened on `config.db`.
    /// sled locks its folder while any handle is open, so the integration
    /// tests load their data through a `Store` and hand that same store over.
    pub async fn with_store(
        config: ServeConfig,
        store: Store,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if config.demo && store.has_no_lines() {
            let report = {
                let store = store.clone();
                tokio::task::spawn_blocking(move || import::import(&store, demo::demo_file()))
                    .await??
            };
            tracing::info!(?report, "demo data loaded");
        }
        let mailer = Mailer::new(config.mail_dir.clone(), config.smtp_url.as_deref())?;
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => {
                Some(RustlsConfig::from_pem_file(cert, key).await.map_err(|e| {
                    format!(
                        "cannot load --tls-cert {} / --tls-key {}: {e}",
                        cert.display(),
                        key.display()
                    )
                })?)
            }
            _ => None,
        };
        let listener = TcpListener::bind(config.addr).await?;
        password::check_dummy().map_err(|e| format!("the dummy hash cannot be checked: {e}"))?;
        let hashing = HashingSlots::new(
            config.hash_slot_count(),
            config.hash_wait,
            config.hash_queue,
        );
        let login_limits = LoginLimits {
            failures: Window::new(routes::ADDRESS_MAX_FAILURES, routes::ADDRESS_FAILURE_WINDOW),
            per_line: Window::new(config.logins_per_line, config.login_window),
            per_address: Window::new(config.logins_per_address, config.login_window),
        };
        let state = AppState {
            store,
            config: Arc::new(config),
            work_queued: Arc::new(Notify::new()),
            mail_queued: Arc::new(Notify::new()),
            hashing: Arc::new(hashing),
            login_limits: Arc::new(login_limits),
        };
        Ok(Self {
            listener,
            tls,
            state,
            mailer,
        })
    }

    /// The address actually bound (port 0 picks a free one).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Runs the portal and its worker until the process ends.
    pub async fn run(self) -> std::io::Result<()> {
        tokio::spawn(work::run(self.state.clone()));
        tokio::spawn(mail::run(self.state.clone(), self.mailer));
        tokio::spawn(sweep_sessions(self.state.clone()));
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        match self.tls {
            Some(tls) => {
                axum_server::from_tcp_rustls(self.listener.into_std()?, tls)?
                    .serve(app)
                    .await
            }
            None => axum::serve(self.listener, app).into_future().await,
        }
    }
}

/// Removes expired sessions, stale login-failure counters and login
/// limits every few minutes.
async fn sweep_sessions(state: AppState) {
    let idle = i64::try_from(state.config.idle_timeout.as_secs()).unwrap_or(i64::MAX);
    let limit = i64::try_from(state.config.session_limit.as_secs()).unwrap_or(i64::MAX);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
    loop {
        tick.tick().await;
        let now = crate::state::now().unix();
        let swept = state
            .blocking(move |store| {
                store.sweep_sessions(|s| {
                    now - s.last_seen.unix() > idle || now - s.created_at.unix() > limit
                })?;
                store.sweep_login_failures(crate::state::now(), routes::ID_LOCK.as_secs() as i64)
            })
            .await;
        state.login_limits.sweep(std::time::Instant::now());
        if let Err(e) = swept {
            tracing::warn!(error = %e, "session sweep failed");
        }
    }
}
