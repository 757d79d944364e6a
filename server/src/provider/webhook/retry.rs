//! When to try a failed delivery again.

use std::time::Duration;

/// The wait after the first failed attempt.
pub const FIRST_RETRY: Duration = Duration::from_secs(5);

/// The wait never grows beyond this: a provider back after hours of
/// downtime hears of its events within ten minutes.
pub const LONGEST_RETRY: Duration = Duration::from_secs(600);

/// How long to wait before the next attempt, after `attempts` attempts have
/// failed: 5 s, doubling each time (10 s, 20 s, …), at most 10 min. It never
/// gives up: the worker retries until a 2xx, so nothing is lost while a
/// provider is down.
pub fn retry_delay(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    FIRST_RETRY
        .saturating_mul(1 << doublings)
        .min(LONGEST_RETRY)
}
