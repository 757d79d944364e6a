//! `ApiError`: the one place an HTTP status is chosen for a failure.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::api::{ErrorBody, ErrorKind};
use shared::domain::FieldErrors;

use crate::store::{StoreError, SubmitError};

/// Every way an `/api` request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A malformed request, with a message for the subscriber.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Invalid fields.
    #[error("invalid fields")]
    Validation(FieldErrors),
    /// Wrong customer ID or access key.
    #[error("bad credentials")]
    BadCredentials,
    /// No session.
    #[error("not logged in")]
    Unauthenticated,
    /// The session has run out.
    #[error("session expired")]
    SessionExpired,
    /// No such thing (or not this line's: never said which).
    #[error("not found")]
    NotFound,
    /// The change conflicts with the current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A state-changing request from another site.
    #[error("cross-site request")]
    CrossSite,
    /// `--line-login-only`: the login came from outside the line's prefixes.
    #[error("not from the line")]
    NotFromLine,
    /// A POST whose body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The body is larger than the server accepts.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The path exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Too many failed logins in a row: the customer ID is locked until then.
    #[error("locked")]
    Locked(shared::domain::Timestamp),
    /// Too many failed logins from this address: wait this many seconds.
    #[error("too many failed logins")]
    TooManyFailures(u64),
    /// Too many logins of this line, or from this address, however right
    /// their keys: wait this many seconds.
    #[error("too many logins")]
    TooManyLogins(u64),
    /// The request took too long (e.g. its body never came).
    #[error("request timeout")]
    Timeout,
    /// No hashing slot came free within the wait: try again in a moment.
    #[error("busy")]
    Busy,
    /// A server-side failure; logged, not sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // The database is out of reach for now (PostgreSQL restarting or
            // failing over): the subscriber may try again in a moment.
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "the database is unavailable");
                Self::Busy
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Store(e) => e.into(),
            SubmitError::ConsentChanged => Self::Conflict(
                "同意書の内容が更新されました。お手数ですが、最初からお手続きをやり直してください"
                    .into(),
            ),
            SubmitError::UnknownProvider(_) => {
                Self::BadRequest("選択された通知先が見つかりません".into())
            }
            SubmitError::ProviderBusy(name) => Self::Conflict(format!(
                "「{name}」は現在変更の工事中のため、お申し込みいただけません。工事完了後にあらためてお申し込みください"
            )),
            SubmitError::AlreadySet(name) => Self::Conflict(format!(
                "「{name}」はすでにその設定になっています。最新の状態をご確認ください"
            )),
            SubmitError::DayFull => {
                Self::Internal("application sequence exhausted for today".into())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            Self::BadRequest(message) => (
                StatusCode::BAD_REQUEST,
                ErrorBody::new(ErrorKind::BadRequest, message),
            ),
            Self::Validation(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorBody::validation(errors),
            ),
            Self::BadCredentials => (
                StatusCode::UNAUTHORIZED,
                ErrorBody::new(
                    ErrorKind::BadCredentials,
                    "フレッツナンバーまたはアクセスキーが正しくありません",
                ),
            ),
            Self::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                ErrorBody::new(ErrorKind::Unauthenticated, "ログインしてください"),
            ),
            Self::SessionExpired => (
                StatusCode::UNAUTHORIZED,
                ErrorBody::new(
                    ErrorKind::SessionExpired,
                    "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください",
                ),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                ErrorBody::new(ErrorKind::NotFound, "お探しの情報は見つかりませんでした"),
            ),
            Self::Conflict(message) => (
                StatusCode::CONFLICT,
                ErrorBody::new(ErrorKind::Conflict, message),
            ),
            Self::CrossSite => (
                StatusCode::FORBIDDEN,
                ErrorBody::new(
                    ErrorKind::Forbidden,
                    "この操作は受け付けられません。サービス申込受付ページを開き直してください",
                ),
            ),
            Self::NotFromLine => (
                StatusCode::FORBIDDEN,
                ErrorBody::new(ErrorKind::Forbidden, "ご契約の回線からアクセスしてください"),
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorBody::new(ErrorKind::BadRequest, "リクエストの形式が正しくありません"),
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorBody::new(ErrorKind::PayloadTooLarge, "送信された内容が大きすぎます"),
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorBody::new(ErrorKind::BadRequest, "この操作はできません"),
            ),
            Self::Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                ErrorBody::new(
                    ErrorKind::BadRequest,
                    "時間内に処理できませんでした。もう一度お試しください",
                ),
            ),
            Self::Locked(until) => {
                let time = until.display_jst();
                let message = format!(
                    "ログインに続けて失敗したため、このフレッツナンバーは{}までロックされています。時間をおいてから、もう一度お試しください",
                    time.get(11..16).unwrap_or(&time)
                );
                (
                    StatusCode::LOCKED,
                    ErrorBody::new(ErrorKind::Locked, message),
                )
            }
            Self::TooManyFailures(secs) => return too_many("ログインの失敗が続いたため", *secs),
            Self::TooManyLogins(secs) => {
                return too_many("短時間にログインが繰り返されたため", *secs);
            }
            Self::Busy => {
                let body = ErrorBody::new(
                    ErrorKind::Unavailable,
                    "ただいま混み合っています。少し時間をおいてから、もう一度お試しください",
                );
                let retry_after = [(axum::http::header::RETRY_AFTER, "1")];
                return (StatusCode::SERVICE_UNAVAILABLE, retry_after, Json(body)).into_response();
            }
            Self::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorBody::new(
                        ErrorKind::Internal,
                        "システムエラーが発生しました。しばらくしてからもう一度お試しください",
                    ),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}

/// 429 with `Retry-After`: why, and about how many minutes to wait.
fn too_many(because: &str, secs: u64) -> Response {
    let message = format!(
        "{because}、しばらくログインできません。{}分ほど時間をおいてから、もう一度お試しください",
        secs.div_ceil(60).max(1)
    );
    let body = ErrorBody::new(ErrorKind::TooManyRequests, message);
    let retry_after = [(axum::http::header::RETRY_AFTER, secs.max(1).to_string())];
    (StatusCode::TOO_MANY_REQUESTS, retry_after, Json(body)).into_response()
}
