//! The typed client of the server's `/api`. Every response goes through one
//! `into_result`, which turns an `ErrorBody` into a [`ClientError`] and
//! keeps the client's copy of the session's idle timer ([`crate::idle`]).

use gloo_net::http::{Request, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::{
    Consent, ErrorBody, ErrorKind, FieldMessage, LineOverview, LoginRequest, NotificationRow,
    ProviderPage, Receipt, SessionInfo, SubmitApplication, paths,
};

use crate::idle;

/// Shown when the server cannot be reached or answers nonsense.
const NETWORK_ERROR: &str =
    "通信エラーが発生しました。通信環境をご確認のうえ、もう一度お試しください";

/// Why a call failed, as the page needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// No session, or it ran out: back to the login page with the message.
    Unauthenticated(String),
    /// Field errors, shown under the fields and in the error summary.
    Validation(Vec<FieldMessage>),
    /// Anything else: the message for the error summary.
    Failed(String),
}

impl ClientError {
    /// The message to show.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(m) | Self::Failed(m) => m.clone(),
            Self::Validation(_) => {
                "入力内容に誤りがあります。各項目のメッセージをご確認ください".into()
            }
        }
    }
}

async fn into_result<T: DeserializeOwned>(
    sent: Result<Response, gloo_net::Error>,
) -> Result<T, ClientError> {
    let response = sent.map_err(|_| ClientError::Failed(NETWORK_ERROR.into()))?;
    // Any answer but 401 comes from a live session, whose idle timer the
    // server has just restarted.
    if response.status() == 401 {
        idle::forget();
    } else {
        idle::seen_now();
    }
    if response.ok() {
        return response
            .json()
            .await
            .map_err(|_| ClientError::Failed(NETWORK_ERROR.into()));
    }
    let body: ErrorBody = response
        .json()
        .await
        .map_err(|_| ClientError::Failed(NETWORK_ERROR.into()))?;
    Err(match body.kind {
        ErrorKind::Unauthenticated | ErrorKind::SessionExpired => {
            ClientError::Unauthenticated(body.message)
        }
        ErrorKind::Validation => ClientError::Validation(body.fields),
        _ => ClientError::Failed(body.message),
    })
}

async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ClientError> {
    into_result(Request::get(path).send().await).await
}

async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ClientError> {
    let request = Request::post(path)
        .json(body)
        .map_err(|_| ClientError::Failed(NETWORK_ERROR.into()))?;
    into_result(request.send().await).await
}

/// Logs in.
pub async fn login(form: &LoginRequest) -> Result<SessionInfo, ClientError> {
    let info: SessionInfo = post(paths::SESSION, form).await?;
    idle::set_limit(info.idle_timeout_secs);
    Ok(info)
}

/// Asks who is logged in, which also keeps the session alive (「延長する」).
pub async fn session() -> Result<SessionInfo, ClientError> {
    let info: SessionInfo = get(paths::SESSION).await?;
    idle::set_limit(info.idle_timeout_secs);
    Ok(info)
}

/// Logs out; the session ends on the server even if the answer is lost.
pub async fn logout() {
    idle::forget();
    let _ = Request::delete(paths::SESSION).send().await;
}

/// The top page's data.
pub async fn line() -> Result<LineOverview, ClientError> {
    get(paths::LINE).await
}

/// The providers set to 「通知する」.
pub async fn notifications() -> Result<Vec<NotificationRow>, ClientError> {
    get(paths::NOTIFICATIONS).await
}

/// A page of the providers that are 「通知しない」.
pub async fn providers(page: u32) -> Result<ProviderPage, ClientError> {
    get(&format!("{}?page={page}", paths::PROVIDERS)).await
}

/// The consent document in force.
pub async fn consent() -> Result<Consent, ClientError> {
    get(paths::CONSENT).await
}

/// Submits the application (「変更」).
pub async fn submit(application: &SubmitApplication) -> Result<Receipt, ClientError> {
    post(paths::APPLICATIONS, application).await
}

/// The line's applications, newest first.
pub async fn applications() -> Result<Vec<Receipt>, ClientError> {
    get(paths::APPLICATIONS).await
}

/// One receipt.
pub async fn receipt(id: &str) -> Result<Receipt, ClientError> {
    get(&paths::application(id)).await
}
