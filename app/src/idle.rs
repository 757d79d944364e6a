//! The client's copy of the session's idle timer (SPEC §4 Sessions). Every
//! call that the server answers for a logged-in session restarts the
//! server's timer; the client notes when, and the idle limit the server
//! told it, so that it can warn before the limit (WCAG 2.2.1).
//!
//! It also notes, in `localStorage` (so every tab and a reload see it),
//! that this browser has a session the client has not seen end: only then
//! does `/` ask the server whether it is still alive, so that a visitor
//! with no session gets the login form at once, without a request answered
//! 401.

use std::cell::Cell;
use std::time::Duration;

/// The longest warning: two minutes before the limit.
const WARNING_LEAD_SECS: u64 = 120;

/// The `localStorage` key present while a session may be alive.
const SESSION_KEY: &str = "kaisen.session";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

thread_local! {
    /// When the server last answered for the session (ms since the epoch).
    static LAST_SEEN_MS: Cell<Option<f64>> = const { Cell::new(None) };
    /// The server's idle limit, in seconds.
    static LIMIT_SECS: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Notes that the server has just answered for the session.
pub fn seen_now() {
    LAST_SEEN_MS.set(Some(js_sys::Date::now()));
}

/// Notes the idle limit the server told (at login, or asked for), and that
/// the session is alive.
pub fn set_limit(secs: u64) {
    LIMIT_SECS.set(Some(secs));
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(SESSION_KEY, "1");
    }
}

/// Forgets all of it: the session has ended.
pub fn forget() {
    LAST_SEEN_MS.set(None);
    LIMIT_SECS.set(None);
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(SESSION_KEY);
    }
}

/// Whether this browser may have a live session: it logged in (here or in
/// another tab) and no tab has seen the session end since.
pub fn may_be_logged_in() -> bool {
    local_storage()
        .and_then(|s| s.get_item(SESSION_KEY).ok().flatten())
        .is_some()
}

/// Whether both the limit and the last answer are known (not so after a
/// reload, until the session is asked for).
pub fn is_known() -> bool {
    LAST_SEEN_MS.get().is_some() && LIMIT_SECS.get().is_some()
}

/// The time left before the server ends the session, if known.
pub fn time_left() -> Option<Duration> {
    let (seen, limit) = (LAST_SEEN_MS.get()?, LIMIT_SECS.get()?);
    // Rounding up keeps 「あと…」 from saying 0 before the end.
    let left_ms = (seen + limit as f64 * 1000.0 - js_sys::Date::now()).max(0.0);
    Some(Duration::from_millis(left_ms.ceil() as u64))
}

/// How long before the limit the warning shows: two minutes, or half the
/// limit when that is short (tests run with a limit of seconds).
pub fn warning_lead() -> Option<Duration> {
    let limit = LIMIT_SECS.get()?;
    Some(Duration::from_secs(WARNING_LEAD_SECS.min(limit / 2)))
}
