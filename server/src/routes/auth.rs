//! Logging in and out.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use shared::api::{LoginRequest, SessionInfo};
use shared::domain::{AccessKey, CustomerId};

use crate::error::ApiError;
use crate::extract::{AppJson, CurrentLine, SESSION_COOKIE};
use crate::password;
use crate::state::{AppState, now};
use crate::store::SessionRecord;

fn session_info(state: &AppState, customer_id: CustomerId) -> SessionInfo {
    SessionInfo {
        customer_id,
        idle_timeout_secs: state.config.idle_timeout.as_secs(),
    }
}

/// `POST /api/session`: checks the credentials and starts a session with a
/// new random ID. Wrong ID or key get one message that says neither.
pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    AppJson(form): AppJson<LoginRequest>,
) -> Result<(CookieJar, Json<SessionInfo>), ApiError> {
    let (Ok(customer_id), Ok(key)) = (
        CustomerId::parse(&form.customer_id),
        AccessKey::parse(&form.access_key),
    ) else {
        return Err(ApiError::BadCredentials);
    };
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
                return Err(ApiError::BadCredentials);
            }
            let session_id = hex::encode(rand::random::<[u8; 16]>());
            let now = now();
            store.create_session(
                &session_id,
                &SessionRecord {
                    customer_id: id,
                    created_at: now,
                    last_seen: now,
                },
            )?;
            Ok(session_id)
        })
        .await?;
    let cookie = Cookie::build((SESSION_COOKIE, session_id))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .build();
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
/// The session ends on the server, and the browser is told to forget its
/// cookies and storage (the flow's draft), so "back" shows no data.
pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(id) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()) {
        state
            .blocking(move |store| store.delete_session(&id))
            .await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(
            HeaderName::from_static("clear-site-data"),
            "\"cookies\", \"storage\"",
        )],
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
    ))
}
