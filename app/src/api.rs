//! The typed client of the server's `/api`. Every response goes through one
//! `into_result`, which turns an `ErrorBody` into a [`ClientError`] and
//! keeps the client's copy of the session's idle timer ([`crate::idle`]).
//!
//! JSON is parsed and written by the browser (`JSON.parse`/`stringify`);
//! serde only walks the values ([`from_json`], [`to_json`]), so the client
//! carries no JSON parser of its own, and requests go through the browser's
//! `fetch` without a wrapper crate.

use std::marker::PhantomData;

use leptos::prelude::*;
use leptos::wasm_bindgen::{JsCast, JsValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::{
    Consent, DisclosurePage, ErrorBody, ErrorKind, FieldMessage, LineOverview, LoginRequest,
    NotificationRow, ProviderPage, Receipt, SessionInfo, SubmitApplication, paths,
};
use wasm_bindgen_futures::JsFuture;

use crate::idle;

/// Shown when the server cannot be reached or answers nonsense.
pub const NETWORK_ERROR: &str =
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

/// The browser's `fetch`, with a JSON body if one is given.
async fn fetch(
    method: &str,
    path: &str,
    json: Option<String>,
) -> Result<web_sys::Response, JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(json) = json {
        let headers = web_sys::Headers::new()?;
        headers.set("content-type", "application/json")?;
        init.set_headers(&headers);
        init.set_body(&JsValue::from(json));
    }
    let response = JsFuture::from(window().fetch_with_str_and_init(path, &init)).await?;
    Ok(response.unchecked_into())
}

/// Sends a request and answers the body of a successful response. Not
/// generic, so that the client holds this code once, not once per type.
async fn send(
    method: &'static str,
    path: String,
    json: Option<String>,
) -> Result<String, ClientError> {
    let network_error = |_| ClientError::Failed(NETWORK_ERROR.into());
    let response = fetch(method, &path, json).await.map_err(network_error)?;
    // Any answer but 401 comes from a live session, whose idle timer the
    // server has just restarted.
    if response.status() == 401 {
        idle::forget();
    } else {
        idle::seen_now();
    }
    let text = JsFuture::from(response.text().map_err(network_error)?)
        .await
        .map_err(network_error)?
        .as_string()
        .unwrap_or_default();
    if response.ok() {
        return Ok(text);
    }
    let body: ErrorBody = decode(&text)?;
    Err(match body.kind {
        ErrorKind::Unauthenticated | ErrorKind::SessionExpired => {
            ClientError::Unauthenticated(body.message)
        }
        ErrorKind::Validation => ClientError::Validation(body.fields),
        _ => ClientError::Failed(body.message),
    })
}

/// Reads a response's body as `T`.
fn decode<T: DeserializeOwned>(text: &str) -> Result<T, ClientError> {
    from_json(text).ok_or_else(|| ClientError::Failed(NETWORK_ERROR.into()))
}

/// Parses JSON text as `T`, with the browser's `JSON.parse`.
pub fn from_json<T: DeserializeOwned>(text: &str) -> Option<T> {
    let value = js_sys::JSON::parse(text).ok()?;
    serde_wasm_bindgen::from_value(value).ok()
}

/// Writes `value` as JSON text, with the browser's `JSON.stringify`.
pub fn to_json<T: Serialize>(value: &T) -> Option<String> {
    let value = value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .ok()?;
    js_sys::JSON::stringify(&value).ok().map(String::from)
}

async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ClientError> {
    decode(&send("GET", path.into(), None).await?)
}

async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ClientError> {
    decode(&send("POST", path.into(), Some(to_json(body).unwrap_or_default())).await?)
}

/// What a page shows from the server: loaded when the page is drawn, and
/// again whenever a signal its path reads changes. Every `Loader` holds the
/// same resource type (the response's text), decoded when read: each
/// resource type would cost the client kilobytes of generic code.
pub struct Loader<T>(
    LocalResource<Result<String, ClientError>>,
    PhantomData<fn() -> T>,
);

impl<T> Clone for Loader<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Loader<T> {}

impl<T: DeserializeOwned> Loader<T> {
    /// Loads `GET path()`.
    pub fn new(path: impl Fn() -> String + 'static) -> Self {
        Self(resource(Box::new(path)), PhantomData)
    }

    /// Nothing while loading, then the data or why it failed (tracked).
    pub fn get(&self) -> Option<Result<T, ClientError>> {
        self.0.with(Self::decode)
    }

    /// As [`Self::get`], untracked.
    pub fn get_untracked(&self) -> Option<Result<T, ClientError>> {
        self.0.with_untracked(Self::decode)
    }

    fn decode(loaded: &Option<Result<String, ClientError>>) -> Option<Result<T, ClientError>> {
        loaded
            .as_ref()
            .map(|r| r.as_ref().map_err(Clone::clone).and_then(|t| decode(t)))
    }
}

fn resource(path: Box<dyn Fn() -> String>) -> LocalResource<Result<String, ClientError>> {
    LocalResource::new(move || send("GET", path(), None))
}

/// The top page's data.
pub fn line() -> Loader<LineOverview> {
    Loader::new(|| paths::LINE.into())
}

/// The providers set to 「通知する」.
pub fn notifications() -> Loader<Vec<NotificationRow>> {
    Loader::new(|| paths::NOTIFICATIONS.into())
}

/// The pages of the providers that are 「通知しない」, following `page`.
pub fn providers(page: Memo<u32>) -> Loader<ProviderPage> {
    Loader::new(move || format!("{}?page={}", paths::PROVIDERS, page.get()))
}

/// The pages of the line's disclosures, newest first, following `page`.
pub fn disclosures(page: Memo<u32>) -> Loader<DisclosurePage> {
    Loader::new(move || format!("{}?page={}", paths::DISCLOSURES, page.get()))
}

/// The consent document in force.
pub fn consent() -> Loader<Consent> {
    Loader::new(|| paths::CONSENT.into())
}

/// The line's applications, newest first.
pub fn applications() -> Loader<Vec<Receipt>> {
    Loader::new(|| paths::APPLICATIONS.into())
}

/// One receipt, following the ID in `id`.
pub fn receipt(id: impl Fn() -> String + 'static) -> Loader<Receipt> {
    Loader::new(move || paths::application(&id()))
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
    let _ = fetch("DELETE", paths::SESSION, None).await;
}

/// Submits the application (「変更」).
pub async fn submit(application: &SubmitApplication) -> Result<Receipt, ClientError> {
    post(paths::APPLICATIONS, application).await
}
