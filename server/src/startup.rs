//! Builds the app: router, static client, worker, listener.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::{any, get};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::hashing::HashingSlots;
use crate::limit::{LoginLimits, Window};
use crate::mail::{self, Mailer};
use crate::state::AppState;
use crate::store::{Purpose, Store};
use crate::{demo, import, password, routes, telemetry, work};

/// The largest request body accepted (the portal's and the console's).
pub const BODY_LIMIT: usize = 64 * 1024;

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
        .route_layer(axum::middleware::from_fn(telemetry::keep_matched_path))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::csrf::same_origin_json,
        ))
        .layer(no_store.clone())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            time_limit,
        ));
    let provider_api = crate::provider::api::router()
        .route_layer(axum::middleware::from_fn(telemetry::keep_matched_path))
        .layer(no_store.clone())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            time_limit,
        ));
    let https = state.config.https();
    let app = Router::new()
        .nest("/api", api)
        .nest("/provider/v1", provider_api)
        // `nest` matches `/api` and `/api/…` but leaves `/api/` itself to the
        // fallback, which would answer with the client: it is an API path.
        .route(
            "/api/",
            any(|| async { ApiError::NotFound }).layer(no_store),
        )
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/robots.txt", get(|| async { ROBOTS_TXT }))
        // The operator console is never served here (`--operator-addr`).
        .route("/console", any(|| async { ApiError::NotFound }))
        .route("/console/", any(|| async { ApiError::NotFound }))
        .route("/console/{*rest}", any(|| async { ApiError::NotFound }))
        .route_layer(axum::middleware::from_fn(telemetry::keep_matched_path))
        .nest_service("/assets", assets)
        .fallback_service(index)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::observe,
        ))
        .with_state(state);
    // Security headers on every response, API and client alike.
    secured(app, CONTENT_SECURITY_POLICY, https)
}

/// `app` with the security headers every response carries, under the
/// Content-Security-Policy `csp` (the portal's, or the console's).
pub fn secured(app: Router, csp: &'static str, https: bool) -> Router {
    let app = app
        .layer(always(header::CONTENT_SECURITY_POLICY, csp))
        .layer(always(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(always(header::REFERRER_POLICY, "no-referrer"))
        .layer(always(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
        .layer(always(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ))
        .layer(always(
            header::HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        ))
        .layer(always(
            header::HeaderName::from_static("x-robots-tag"),
            "noindex, nofollow",
        ));
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

/// The portal is a logged-in service: nothing in it is for search engines.
const ROBOTS_TXT: &str = "User-agent: *\nDisallow: /\n";

/// Every browser feature the portal never uses, denied to it and to
/// anything it could embed.
const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), bluetooth=(), camera=(), \
    display-capture=(), geolocation=(), gyroscope=(), hid=(), magnetometer=(), microphone=(), \
    midi=(), payment=(), publickey-credentials-get=(), screen-wake-lock=(), serial=(), usb=(), \
    xr-spatial-tracking=()";

/// `GET /readyz`: 200 while the portal takes requests and its store
/// answers; 503 while starting, while stopping, or when the store fails.
async fn readyz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (StatusCode, &'static str) {
    if !state.health.is_ready() {
        return (StatusCode::SERVICE_UNAVAILABLE, "not ready\n");
    }
    match state.store.ping().await {
        Ok(_) => (StatusCode::OK, "ready\n"),
        Err(e) => {
            tracing::error!(error = %e, "readiness: the store does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n")
        }
    }
}

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
    // mime_guess names HTML and JavaScript without their charset.
    let charset = match headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes) {
        Some(b"text/html") => Some("text/html; charset=utf-8"),
        Some(b"text/javascript" | b"application/javascript") => {
            Some("text/javascript; charset=utf-8")
        }
        Some(b"text/css") => Some("text/css; charset=utf-8"),
        _ => None,
    };
    if let Some(content_type) = charset {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
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
    metrics: Option<TcpListener>,
    console: Option<TcpListener>,
    tls: Option<TlsAcceptor>,
    state: AppState,
    mailer: Mailer,
    webhooks: crate::provider::webhook::Sender,
}

impl Server {
    /// Checks the configuration and sets up the mailer (before the
    /// database folder is made, so that a wrong flag changes nothing), opens
    /// the store (loading the demo data if asked and the database is empty)
    /// and binds the address.
    pub async fn build(
        mut config: ServeConfig,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        config.settle()?;
        let mailer = Mailer::new(&config)?;
        let location = config.database.location()?;
        let store = Store::open(&location, Purpose::Serve).await?;
        Self::assemble(config, store, mailer).await
    }

    /// Like [`Server::build`], with `store` already opened on
    /// `config.database`. sled locks its folder while any handle is open, so
    /// the integration tests load their data through a `Store` and hand that
    /// same store over.
    pub async fn with_store(
        mut config: ServeConfig,
        store: Store,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        config.settle()?;
        let mailer = Mailer::new(&config)?;
        Self::assemble(config, store, mailer).await
    }

    /// The rest of [`Server::build`], on a settled configuration.
    async fn assemble(
        config: ServeConfig,
        store: Store,
        mailer: Mailer,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if config.demo && store.has_no_lines().await? {
            let report = import::import(&store, demo::demo_file()).await?;
            tracing::info!(?report, "demo data loaded");
        }
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(crate::connections::tls_acceptor(cert, key)?),
            _ => None,
        };
        let listener = TcpListener::bind(config.addr).await?;
        let metrics = match config.metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("cannot listen on --metrics-addr {addr}: {e}"))?,
            ),
            None => None,
        };
        let console = match config.operator_addr {
            Some(addr) if addr == listener.local_addr()? => {
                return Err(format!(
                    "--operator-addr {addr} is the public address: the console needs its own"
                )
                .into());
            }
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("cannot listen on --operator-addr {addr}: {e}"))?,
            ),
            None => None,
        };
        password::check_dummy().map_err(|e| format!("the dummy hash cannot be checked: {e}"))?;
        let hashing = HashingSlots::new(config.hash_slots(), config.hash_wait, config.hash_queue);
        let login_limits = LoginLimits {
            per_line: Window::new(config.logins_per_line, config.login_window),
            per_address: Window::new(config.logins_per_address, config.login_window),
        };
        // The provider's assertions name the token endpoint's URL (`aud`):
        // the public URL's, or this listener's.
        let token_audience = match &config.public_url {
            Some(origin) => format!("{origin}{}", crate::provider::api::TOKEN_PATH),
            None => format!(
                "{}://{}{}",
                if config.https() { "https" } else { "http" },
                listener.local_addr()?,
                crate::provider::api::TOKEN_PATH
            ),
        };
        let provider_limits =
            crate::provider::api::provider_limits(config.provider_rate, config.provider_burst);
        let state = AppState::new(crate::state::Shared {
            store,
            token_audience,
            token_key: tokio::sync::OnceCell::new(),
            provider_limits,
            config: Arc::new(config),
            work_queued: Arc::new(Notify::new()),
            mail_queued: Arc::new(Notify::new()),
            events_queued: Arc::new(Notify::new()),
            hashing: Arc::new(hashing),
            login_limits: Arc::new(login_limits),
            health: Arc::new(crate::state::Health::default()),
        });
        let webhooks = crate::provider::webhook::Sender::new()?;
        Ok(Self {
            listener,
            metrics,
            console,
            tls,
            state,
            mailer,
            webhooks,
        })
    }

    /// The address actually bound (port 0 picks a free one).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The console listener's address, if `--operator-addr` was given.
    pub fn operator_addr(&self) -> Option<SocketAddr> {
        self.console.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The metrics listener's address, if `--metrics-addr` was given.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Runs the portal and its worker until SIGTERM or SIGINT, then stops
    /// gracefully (see [`Server::run_until`]).
    pub async fn run(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Runs the portal, its worker, mailer and sweeper until `stop`
    /// resolves. Then: `/readyz` answers 503, no connection is accepted,
    /// requests in flight finish (their group commit with them), the worker
    /// finishes its current step and the mailer its current mail — all
    /// within `--shutdown-timeout`. Every write was durable when it
    /// returned, so nothing is left to sync.
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let config = self.state.config.clone();
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(work::run(self.state.clone(), stopped.clone()));
        let mailer = tokio::spawn(mail::run(self.state.clone(), self.mailer, stopped.clone()));
        let events = tokio::spawn(crate::provider::events::run(
            self.state.clone(),
            self.webhooks,
            stopped.clone(),
        ));
        let sweeper = tokio::spawn(sweep_sessions(self.state.clone()));
        let metrics = self.metrics.map(|listener| {
            telemetry::recorder();
            let mut stopped = stopped.clone();
            tokio::spawn(telemetry::serve_metrics(
                listener,
                self.state.clone(),
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
            ))
        });
        let health = self.state.health.clone();
        let open = health.connections.clone();
        let console_app = self
            .console
            .as_ref()
            .map(|_| crate::console::router(self.state.clone()));
        let app = router(self.state);
        health.set_ready(true);
        let files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
        let limits = crate::connections::Limits {
            max_connections: config.max_connections(files),
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.keep_alive_timeout,
        };
        tracing::info!(
            max_connections = limits.max_connections,
            open_files_limit = files,
            header_read_timeout = ?limits.header_read_timeout,
            keep_alive_timeout = ?limits.idle_timeout,
            "accepting connections"
        );
        let console = self.console.zip(console_app).map(|(listener, app)| {
            let mut stopped = stopped.clone();
            let tls = self.tls.clone();
            if let Ok(addr) = listener.local_addr() {
                tracing::info!("operator console on http://{addr}/console/");
            }
            tokio::spawn(crate::connections::serve(
                listener,
                tls,
                app,
                limits,
                Arc::default(),
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
                config.shutdown_timeout,
            ))
        });
        // The shutdown timeout counts from the moment the stop is asked for.
        let stop_asked = std::sync::OnceLock::new();
        let stop = async {
            stop.await;
            let _ = stop_asked.set(tokio::time::Instant::now());
            health.set_ready(false);
            tracing::info!("stopping: finishing requests in flight");
        };
        let drained = crate::connections::serve(
            self.listener,
            self.tls,
            app,
            limits,
            open,
            stop,
            config.shutdown_timeout,
        )
        .await;
        if !drained {
            tracing::warn!("stopping: some connections did not finish in time");
        }
        let _ = stopping.send(true);
        sweeper.abort();
        if let Some(console) = console {
            let _ = console.await;
        }
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        let deadline = stop_asked
            .get()
            .copied()
            .unwrap_or_else(tokio::time::Instant::now)
            + config.shutdown_timeout;
        let finished = tokio::time::timeout_at(deadline, async {
            let _ = worker.await;
            let _ = mailer.await;
            let _ = events.await;
        })
        .await
        .is_ok();
        if !finished {
            tracing::warn!(
                "stopping: the worker, the mailer or the event deliveries did not finish in time"
            );
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot watch SIGTERM; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Removes expired sessions, stale login-failure counters, login limits
/// and expired client assertion IDs every few minutes.
async fn sweep_sessions(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
    loop {
        tick.tick().await;
        let now = crate::state::now();
        let store = &state.store;
        let swept = async {
            store
                .sweep_sessions(now, state.config.session_limits())
                .await?;
            store
                .sweep_login_failures(now, routes::ID_LOCK.as_secs() as i64)
                .await?;
            store
                .sweep_operator_sessions(now, crate::console::IDLE_SECS, crate::console::TOTAL_SECS)
                .await?;
            store.sweep_assertion_ids(now).await
        }
        .await;
        state.login_limits.sweep(std::time::Instant::now());
        if let Err(e) = swept {
            tracing::warn!(error = %e, "session sweep failed");
        }
    }
}
