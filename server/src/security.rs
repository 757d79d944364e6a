//! The security-event log (OWASP ASVS V16): logins, lockouts, refusals and
//! logouts, each one structured event on the `kaisen::security` target with
//! the time (from the subscriber's formatter), the masked customer ID, the
//! client's address and the outcome. The request's span adds its request
//! ID. A customer ID's digits and an access key never reach a log line.

use std::net::IpAddr;

use shared::domain::CustomerId;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityEvent {
    /// Right customer ID and key: a session was started.
    LoginSucceeded,
    /// Wrong customer ID or key (or a malformed one).
    LoginFailed,
    /// This failure locked the customer ID.
    LockedOut,
    /// A login for a customer ID that is locked was refused unchecked.
    LoginWhileLocked,
    /// Too many logins or failures from the address or for the line: 429.
    RateLimited,
    /// No hashing slot came free in time: 503.
    Busy,
    /// A state-changing request from another origin: 403.
    CrossSiteRefused,
    /// `--line-login-only`: a login from outside the line's prefixes: 403.
    NotFromLine,
    /// A session was ended by 「ログアウト」.
    LoggedOut,
    /// A session was revoked because its browser logged in again.
    SessionReplaced,
}

impl SecurityEvent {
    /// The event's name in the log.
    pub fn name(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LockedOut => "locked_out",
            Self::LoginWhileLocked => "login_while_locked",
            Self::RateLimited => "rate_limited",
            Self::Busy => "busy",
            Self::CrossSiteRefused => "cross_site_refused",
            Self::NotFromLine => "not_from_line",
            Self::LoggedOut => "logged_out",
            Self::SessionReplaced => "session_replaced",
        }
    }

    /// Whether it went the way of the person logging in.
    fn outcome(self) -> &'static str {
        match self {
            Self::LoginSucceeded | Self::LoggedOut | Self::SessionReplaced => "success",
            _ => "failure",
        }
    }
}

/// Logs `event` for `customer_id` (masked; `None` when the request named no
/// valid one) from `client`.
pub fn record(event: SecurityEvent, customer_id: Option<&CustomerId>, client: IpAddr) {
    metrics::counter!("kaisen_security_events_total", "event" => event.name()).increment(1);
    let customer = customer_id.map_or_else(|| "-".to_owned(), CustomerId::masked);
    tracing::info!(
        target: "kaisen::security",
        event = event.name(),
        customer = %customer,
        client = %client,
        outcome = event.outcome(),
        "security event"
    );
}
