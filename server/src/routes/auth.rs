//! Logging in and out.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use shared::api::{LoginRequest, SessionInfo};
use shared::domain::{AccessKey, CustomerId};

use crate::error::ApiError;
use crate::extract::{AppJson, ClientAddr, CurrentLine};
use crate::password;
use crate::state::{AppState, now};
use crate::store::SessionRecord;

/// The session cookie holding `value`, with the same attributes when it is
/// set and when it is removed: a browser removes a `__Host-` cookie only by
/// a `Secure` one.
fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build((state.config.session_cookie(), value))
        .secure(state.config.https())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .build()
}

fn session_info(state: &AppState, customer_id: CustomerId) -> SessionInfo {
    SessionInfo {
        customer_id,
        idle_timeout_secs: state.config.idle_timeout.as_secs(),
    }
}

/// Failed logins in a row after which a customer ID is locked (SPEC §4).
pub const ID_MAX_FAILURES: u32 = 10;
/// How long a customer ID stays locked.
pub const ID_LOCK: Duration = Duration::from_secs(15 * 60);
/// Failed logins from one address within [`ADDRESS_FAILURE_WINDOW`] after
/// which that address waits.
pub const ADDRESS_MAX_FAILURES: usize = 30;
/// The window of [`ADDRESS_MAX_FAILURES`].
pub const ADDRESS_FAILURE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// `POST /api/session`: checks the credentials and starts a session with a
/// new random ID. Wrong ID or key get one message that says neither. A
/// locked ID, or an address with too many failures, is refused before any
/// key is checked; failures are counted for unknown IDs too, so a lock says
/// nothing about which IDs exist.
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    AppJson(form): AppJson<LoginRequest>,
) -> Result<(CookieJar, Json<SessionInfo>), ApiError> {
    if let Some(wait) = state.login_failures.retry_after(client, Instant::now()) {
        return Err(ApiError::TooManyFailures(wait.as_secs()));
    }
    let failed = |error: ApiError| {
        state.login_failures.record(client, Instant::now());
        Err(error)
    };
    let (Ok(customer_id), Ok(key)) = (
        CustomerId::parse(&form.customer_id),
        AccessKey::parse(&form.access_key),
    ) else {
        return failed(ApiError::BadCredentials);
    };
    let locked = {
        let id = customer_id.clone();
        state
            .blocking(move |store| store.login_locked_until(&id, now()))
            .await?
    };
    if let Some(until) = locked {
        return failed(ApiError::Locked(until));
    }
    let id = customer_id.clone();
    // One Argon2 hash at a time per core: a flood of logins gets 503 at
    // once instead of starving every other request.
    let slot = state
        .hashing
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Busy)?;
    let session_id = state
        .blocking(move |store| {
            let _slot = slot;
            let matches = match store.line(&id)? {
                Some(line) => password::verify(&key, &line.access_key_hash),
                None => password::verify_dummy(&key),
            };
            if !matches {
                let lock = ID_LOCK.as_secs().try_into().unwrap_or(i64::MAX);
                return Err(
                    match store.record_login_failure(&id, now(), ID_MAX_FAILURES, lock)? {
                        Some(until) => ApiError::Locked(until),
                        None => ApiError::BadCredentials,
                    },
                );
            }
            store.clear_login_failures(&id)?;
            let session_id = hex::encode(rand::random::<[u8; 16]>());
            let now = now();
            store.put_session(
                &session_id,
                &SessionRecord {
                    customer_id: id,
                    created_at: now,
                    last_seen: now,
                },
            )?;
            Ok(session_id)
        })
        .await;
    let session_id = match session_id {
        Ok(id) => id,
        Err(e @ (ApiError::BadCredentials | ApiError::Locked(_))) => return failed(e),
        Err(e) => return Err(e),
    };
    let cookie = session_cookie(&state, session_id);
    Ok((jar.add(cookie), Json(session_info(&state, customer_id))))
}

/// `GET /api/session`: who is logged in (and keeps the session alive).
pub async fn current_session(
    State(state): State<AppState>,
    line: CurrentLine,
) -> Json<SessionInfo> {
    Json(session_info(&state, line.customer_id))
}

/// `DELETE /api/session`: ends the session, if any.
/// The session ends on the server, its cookie is removed, and the browser
/// is told to forget its storage (the flow's draft), so "back" shows no
/// data. Not its cookies by `Clear-Site-Data`: a browser that honours
/// `"cookies"` ignores the response's own `Set-Cookie`, and outside a
/// secure context (plain HTTP on a host name other than localhost) it
/// ignores `Clear-Site-Data` altogether, which kept the cookie.
pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(id) = jar
        .get(state.config.session_cookie())
        .map(|c| c.value().to_owned())
    {
        state
            .blocking(move |store| store.delete_session(&id))
            .await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(HeaderName::from_static("clear-site-data"), "\"storage\"")],
        jar.remove(session_cookie(&state, String::new())),
    ))
}
