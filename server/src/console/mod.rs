//! The operator console (SPEC §5): server-rendered HTML (maud) on its own
//! listener, `serve --operator-addr`, under `/console`. Never on the public
//! listener, which answers 404 for `/console`.
//!
//! - Operators log in with a password (Argon2id) and a TOTP code; a new
//!   account changes its one-time password and enrols an authenticator
//!   first (`auth`).
//! - Viewers look applications, lines, the outbox and events up; admins
//!   also unlock customer IDs, retry deliveries and manage operators
//!   (`lookup`, `admin`).
//! - Every action is appended to the operator log before its answer is
//!   sent (「操作履歴」); nothing in the console edits or deletes it.
//! - CSRF: the session cookie is `SameSite=Strict` on `/console`; every
//!   POST must come from this origin (`Sec-Fetch-Site`, `Origin`), be a
//!   form (`application/x-www-form-urlencoded`), and, once logged in, carry
//!   the session's token.

pub mod accounts;
mod admin;
mod auth;
mod lookup;
pub mod totp;
mod view;

use std::net::IpAddr;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::de::DeserializeOwned;
use shared::domain::{CustomerId, Timestamp};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::extract::ClientAddr;
use crate::state::{AppState, now};
use crate::store::StoreError;
use crate::store::operators::{
    ActionKind, NewAction, OperatorRecord, OperatorRole, OperatorSession,
};

/// Where the console lives on its listener.
pub const BASE: &str = "/console";
/// The console's session cookie (its own name and path).
pub const COOKIE: &str = "kaisen_operator";
/// A console session ends after this long without a request.
pub const IDLE_SECS: i64 = 30 * 60;
/// A console session ends this long after login, whatever happens.
pub const TOTAL_SECS: i64 = 8 * 60 * 60;

/// The console's Content-Security-Policy: no script at all, styles and
/// images from this origin only, forms posted only here, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's stylesheet.
const STYLESHEET: &str = include_str!("console.css");

/// The console's router, for the operator listener.
pub fn router(state: AppState) -> Router {
    let https = state.config.tls_cert.is_some();
    let console = Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console.css", get(stylesheet))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/setup", get(auth::setup_page).post(auth::setup))
        .route("/applications", get(lookup::application))
        .route("/lines", get(lookup::line))
        .route("/lines/{customer_id}/unlock", post(admin::unlock))
        .route("/outbox", get(lookup::outbox))
        .route("/outbox/{application_id}/retry", post(admin::retry_mail))
        .route("/events", get(lookup::events))
        .route(
            "/events/{provider}/{sequence}/retry",
            post(admin::retry_event),
        )
        .route("/actions", get(lookup::actions))
        .route(
            "/operators",
            get(admin::operators_page).post(admin::add_operator),
        )
        .route("/operators/{name}/disable", post(admin::disable_operator))
        .route_layer(axum::middleware::from_fn(
            crate::telemetry::keep_matched_path,
        ))
        .fallback(|| async { ConsoleError::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            same_origin_form,
        ))
        .layer(DefaultBodyLimit::max(crate::startup::BODY_LIMIT));
    let app = Router::new()
        .route("/console/", get(lookup::home))
        .nest(BASE, console)
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/livez", get(|| async { "ok\n" }))
        // No icon: a browser asks for one on every page, and logs a 404.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(|| async { ConsoleError::NotFound })
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        // Not the portal's `no-referrer`: under it a browser's form POST
        // says `Origin: null`, which the CSRF check refuses. Same-origin
        // requests carry the referrer; nothing leaves the console.
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::telemetry::observe,
        ))
        .with_state(state);
    crate::startup::secured(app, CONTENT_SECURITY_POLICY, https)
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STYLESHEET,
    )
}

/// Every way a console request can fail, each answered with a page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Not logged in, or the session ran out: to the login page.
    #[error("not logged in")]
    Login,
    /// Logged in, but the one-time password or the TOTP enrolment is
    /// still to be done: to the setup page.
    #[error("setup needed")]
    Setup,
    /// A viewer asked for an admin's action.
    #[error("forbidden")]
    Forbidden,
    /// No such page.
    #[error("not found")]
    NotFound,
    /// A POST from another origin, or without the session's token.
    #[error("cross-site request")]
    CrossSite,
    /// A POST that is not a form.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// A body beyond the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// A malformed request.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The storage failed (logged, never shown).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else that failed inside (logged, never shown).
    #[error("internal: {0}")]
    Internal(String),
}

impl From<crate::error::ApiError> for ConsoleError {
    fn from(e: crate::error::ApiError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            Self::Login => return Redirect::to("/console/login").into_response(),
            Self::Setup => return Redirect::to("/console/setup").into_response(),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "権限がありません",
                "この操作は管理者の権限が必要です。",
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "ページが見つかりません",
                "お探しのページは見つかりませんでした。",
            ),
            Self::CrossSite => (
                StatusCode::FORBIDDEN,
                "操作を受け付けられませんでした",
                "画面を開き直してから、もう一度操作してください。",
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "操作を受け付けられませんでした",
                "コンソールの画面から操作してください。",
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "操作を受け付けられませんでした",
                "入力が長すぎます。内容を短くして、もう一度操作してください。",
            ),
            Self::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "操作を受け付けられませんでした",
                "入力内容を確認して、もう一度操作してください。",
            ),
            Self::Store(_) | Self::Internal(_) => {
                tracing::error!(error = %self, "console request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "システムエラー",
                    "処理中にエラーが発生しました。しばらくしてから、もう一度操作してください。",
                )
            }
        };
        (status, view::message_page(title, message)).into_response()
    }
}

/// Refuses a POST from another origin (403) and one that is not a form
/// (415), before anything reads it.
async fn same_origin_form(
    State(state): St,
    request: Request,
    next: Next,
) -> Result<Response, ConsoleError> {
    if request.method() == Method::POST {
        let headers = request.headers();
        let https = state.config.tls_cert.is_some();
        if !crate::csrf::from_own_origin(https, request.uri(), headers) {
            return Err(ConsoleError::CrossSite);
        }
        if !crate::csrf::has_content_type(headers, "application/x-www-form-urlencoded") {
            return Err(ConsoleError::UnsupportedMediaType);
        }
    }
    Ok(next.run(request).await)
}

/// A form body; a malformed one is a 400 page.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Form::<T>::from_request(request, state)
            .await
            .map(|axum::Form(form)| Self(form))
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ConsoleError::PayloadTooLarge
                } else {
                    ConsoleError::BadRequest(e.body_text())
                }
            })
    }
}

/// A query string; a malformed one is a 400 page.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(query)| Self(query))
            .map_err(|e| ConsoleError::BadRequest(e.body_text()))
    }
}

/// The session cookie with `value`; its removal must carry the same
/// attributes.
fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build((COOKIE, value))
        .secure(state.config.tls_cert.is_some())
        .path(BASE)
        .http_only(true)
        .same_site(SameSite::Strict)
        .build()
}

/// A logged-in operator: the session (touched by this request) and the
/// account as it is now. A session whose account is gone or disabled ends.
pub struct LoggedIn {
    /// The session's ID.
    pub id: String,
    /// The session.
    pub session: OperatorSession,
    /// The account.
    pub operator: OperatorRecord,
    /// The client's address.
    pub address: IpAddr,
}

impl LoggedIn {
    /// Whether the account still has its setup to do.
    pub fn needs_setup(&self) -> bool {
        self.operator.password_temporary || self.operator.totp_secret.is_none()
    }

    /// Checks a form's CSRF token against the session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), ConsoleError> {
        use subtle::ConstantTimeEq;
        if bool::from(token.as_bytes().ct_eq(self.session.csrf.as_bytes())) {
            Ok(())
        } else {
            Err(ConsoleError::CrossSite)
        }
    }

    /// Refuses a viewer.
    pub fn require_admin(&self) -> Result<(), ConsoleError> {
        match self.operator.role {
            OperatorRole::Admin => Ok(()),
            OperatorRole::Viewer => Err(ConsoleError::Forbidden),
        }
    }

    /// Appends an action of this operator to the log.
    pub async fn record(
        &self,
        state: &AppState,
        customer_id: Option<CustomerId>,
        kind: ActionKind,
    ) -> Result<(), ConsoleError> {
        record(
            state,
            &self.operator.name,
            customer_id,
            Some(self.address),
            kind,
        )
        .await
    }

    /// What the layout shows of the operator.
    fn nav(&self) -> view::Nav<'_> {
        view::Nav {
            operator: &self.operator.name,
            role: self.operator.role,
            csrf: &self.session.csrf,
        }
    }
}

/// Appends an action to the operator log.
pub async fn record(
    state: &AppState,
    operator: &str,
    customer_id: Option<CustomerId>,
    address: Option<IpAddr>,
    kind: ActionKind,
) -> Result<(), ConsoleError> {
    state
        .store
        .record_action(&NewAction {
            at: now(),
            operator: operator.to_owned(),
            customer_id,
            address,
            kind,
        })
        .await?;
    Ok(())
}

/// Reads the session of the request's cookie, ends it if run out or if
/// its account cannot log in any more, and records this request on it.
async fn logged_in(parts: &mut Parts, state: &AppState) -> Result<LoggedIn, ConsoleError> {
    let jar = CookieJar::from_headers(&parts.headers);
    let id = jar
        .get(COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or(ConsoleError::Login)?;
    let store = &state.store;
    let Some(mut session) = store.operator_session(&id).await? else {
        return Err(ConsoleError::Login);
    };
    let at = now();
    let operator = store.operator(&session.operator).await?;
    let expired =
        crate::store::operators::operator_session_expired(&session, at, IDLE_SECS, TOTAL_SECS);
    let Some(operator) = operator.filter(|o| !o.disabled && !expired) else {
        store.end_operator_session(&id).await?;
        return Err(ConsoleError::Login);
    };
    session.last_seen = at;
    store.put_operator_session(&id, &session).await?;
    let address = ClientAddr::from_request_parts(parts, state)
        .await
        .map(|ClientAddr(a)| a)
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok(LoggedIn {
        id,
        session,
        operator,
        address,
    })
}

/// A logged-in operator whose setup may still be due (the setup page).
pub struct Setup(pub LoggedIn);

impl FromRequestParts<AppState> for Setup {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        logged_in(parts, state).await.map(Self)
    }
}

impl FromRequestParts<AppState> for LoggedIn {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let me = logged_in(parts, state).await?;
        if me.needs_setup() {
            return Err(ConsoleError::Setup);
        }
        Ok(me)
    }
}

/// The handler's state.
type St = State<AppState>;

/// A new random token (session IDs, CSRF tokens).
fn token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A time as the console shows it (JST).
fn at(t: Timestamp) -> String {
    t.display_jst()
}
