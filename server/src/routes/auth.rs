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
use crate::security::{self, SecurityEvent};
use crate::state::{AppState, now};
use crate::store::{AddressLimit, NewSession, SessionRecord};

fn session_info(state: &AppState, customer_id: CustomerId) -> SessionInfo {
    SessionInfo {
        customer_id,
        idle_timeout_secs: state.config.idle_timeout.as_secs(),
    }
}

/// The session cookie carrying `value`: `HttpOnly`, `SameSite=Strict`,
/// `Path=/`, and over HTTPS `Secure` (its `__Host-` name requires it). Its
/// removal at logout must carry the very same attributes, or the browser
/// keeps the cookie.
fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build((state.config.session_cookie(), value))
        .secure(state.config.https())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .build()
}

/// Failed logins in a row after which a customer ID is locked (SPEC §4).
pub const ID_MAX_FAILURES: u32 = 10;
/// How long a customer ID stays locked.
pub const ID_LOCK: Duration = Duration::from_secs(15 * 60);
/// Failed logins from one address after which it waits: 30 within 10
/// minutes (SPEC §4).
pub const ADDRESS_LIMIT: AddressLimit = AddressLimit {
    max: 30,
    window_secs: 10 * 60,
};

/// Whether `client` is inside one of the line's prefixes now.
async fn from_the_line(
    store: &crate::store::Store,
    line: &CustomerId,
    client: std::net::IpAddr,
) -> Result<bool, ApiError> {
    let std::net::IpAddr::V6(address) = client else {
        return Ok(false);
    };
    let at = now();
    Ok(store
        .line_prefixes(line)
        .await?
        .iter()
        .any(|p| p.holds_at(at) && p.prefix.contains(&address)))
}

/// `POST /api/session`: checks the credentials and starts a session with a
/// new random ID, revoking the session the browser held, if any. Wrong ID
/// or key get one message that says neither. A locked ID, or an address
/// with too many failures, is refused before any key is checked; failures
/// are counted for unknown IDs too, so a lock says nothing about which IDs
/// exist. With `--line-login-only`, a login from outside the line's
/// prefixes is refused before its key is checked. Every login that is
/// checked counts toward the per-line and
/// per-address login limits, and waits its turn for a hashing slot.
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    AppJson(form): AppJson<LoginRequest>,
) -> Result<(CookieJar, Json<SessionInfo>), ApiError> {
    let named = CustomerId::parse(&form.customer_id).ok();
    let event = |event: SecurityEvent| security::record(event, named.as_ref(), client);
    let store = &state.store;
    if let Some(wait) = store.address_wait(client, now(), ADDRESS_LIMIT).await? {
        event(SecurityEvent::RateLimited);
        return Err(ApiError::TooManyFailures(wait));
    }
    let failed = async |error: ApiError, what: SecurityEvent| {
        store
            .record_address_failure(client, now(), ADDRESS_LIMIT)
            .await?;
        event(what);
        Err(error)
    };
    let (Some(customer_id), Ok(key)) = (named.clone(), AccessKey::parse(&form.access_key)) else {
        return failed(ApiError::BadCredentials, SecurityEvent::LoginFailed).await;
    };
    if let Some(until) = store.login_locked_until(&customer_id, now()).await? {
        return failed(ApiError::Locked(until), SecurityEvent::LoginWhileLocked).await;
    }
    // Before any key is checked: a login from elsewhere tells nothing of
    // the key, and an unknown line has no prefix to be inside.
    if state.config.line_login_only && !from_the_line(store, &customer_id, client).await? {
        event(SecurityEvent::NotFromLine);
        return Err(ApiError::NotFromLine);
    }
    let limits = &state.login_limits;
    if let Some(wait) = limits.login_wait(&customer_id, client, Instant::now()) {
        event(SecurityEvent::RateLimited);
        return Err(ApiError::TooManyLogins(wait.as_secs()));
    }
    // One Argon2 hash at a time per core, in the slot's own memory; the
    // rest wait their turn, briefly.
    let Some(mut slot) = state.hashing.acquire().await else {
        event(SecurityEvent::Busy);
        return Err(ApiError::Busy);
    };
    // Counted only once a slot is held, and checked again then: logins
    // that queued together cannot all pass.
    if let Err(wait) = limits.admit(&customer_id, client, Instant::now()) {
        event(SecurityEvent::RateLimited);
        return Err(ApiError::TooManyLogins(wait.as_secs()));
    }
    let stored_hash = store.line(&customer_id).await?.map(|l| l.access_key_hash);
    let matches = state
        .blocking(move || {
            let hasher = slot.hasher();
            match stored_hash {
                Some(hash) => hasher.verify(&key, &hash).or_else(|e| {
                    // Import checks every hash: this store was changed by hand.
                    tracing::error!(error = %e, "a line's access-key hash cannot be checked");
                    hasher.verify_dummy(&key).map(|()| false)
                }),
                None => hasher.verify_dummy(&key).map(|()| false),
            }
            .map_err(|e| ApiError::Internal(format!("hashing: {e}")))
        })
        .await?;
    if !matches {
        let lock = ID_LOCK.as_secs().try_into().unwrap_or(i64::MAX);
        let locked = store
            .record_login_failure(&customer_id, now(), ID_MAX_FAILURES, lock)
            .await?;
        return match locked {
            None => failed(ApiError::BadCredentials, SecurityEvent::LoginFailed).await,
            Some(until) => failed(ApiError::Locked(until), SecurityEvent::LockedOut).await,
        };
    }
    let now = now();
    let session = NewSession {
        id: hex::encode(rand::random::<[u8; 16]>()),
        record: SessionRecord {
            customer_id: customer_id.clone(),
            created_at: now,
            last_seen: now,
        },
        replacing: jar
            .get(state.config.session_cookie())
            .map(|c| c.value().to_owned()),
    };
    let replaced = store.login(&customer_id, &session).await?;
    if let Some(old) = replaced {
        security::record(
            SecurityEvent::SessionReplaced,
            Some(&old.customer_id),
            client,
        );
    }
    event(SecurityEvent::LoginSucceeded);
    let cookie = session_cookie(&state, session.id);
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
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(id) = jar
        .get(state.config.session_cookie())
        .map(|c| c.value().to_owned())
    {
        let ended = state.store.end_session(&id).await?;
        if let Some(session) = ended {
            security::record(SecurityEvent::LoggedOut, Some(&session.customer_id), client);
        }
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(HeaderName::from_static("clear-site-data"), "\"storage\"")],
        jar.remove(session_cookie(&state, String::new())),
    ))
}
