//! Failed logins per client address: after `max` failures within `window`,
//! that address waits until the oldest failure leaves the window. Kept in
//! memory (a restart forgets it; the per-ID lock in the store does not).
//! Successful logins are not counted: many subscribers can share an address.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Recent failures per address.
#[derive(Debug)]
pub struct FailureWindow {
    max: usize,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl FailureWindow {
    /// At most `max` failures per address within `window`.
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// How long `addr` must wait before trying again, if it must.
    pub fn retry_after(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let recent = failures.get_mut(&addr)?;
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            recent.pop_front();
        }
        if recent.len() < self.max {
            return None;
        }
        recent
            .front()
            .map(|oldest| (*oldest + self.window).saturating_duration_since(now))
    }

    /// Counts a failure of `addr`.
    pub fn record(&self, addr: IpAddr, now: Instant) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let recent = failures.entry(addr).or_default();
        recent.push_back(now);
        while recent.len() > self.max {
            recent.pop_front();
        }
    }

    /// Forgets addresses whose failures have all left the window.
    pub fn sweep(&self, now: Instant) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.retain(|_, recent| {
            recent
                .back()
                .is_some_and(|t| now.duration_since(*t) < self.window)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn the_thirtieth_failure_in_ten_minutes_makes_the_address_wait_out_the_window() {
        let limit = FailureWindow::new(30, Duration::from_secs(600));
        let start = Instant::now();
        for i in 0..29 {
            limit.record(A, start + Duration::from_secs(i));
        }
        assert_eq!(limit.retry_after(A, start + Duration::from_secs(30)), None);
        limit.record(A, start + Duration::from_secs(30));
        assert_eq!(
            limit.retry_after(A, start + Duration::from_secs(31)),
            Some(Duration::from_secs(569))
        );
        assert_eq!(
            limit.retry_after(B, start + Duration::from_secs(31)),
            None,
            "other addresses are free"
        );
        assert_eq!(
            limit.retry_after(A, start + Duration::from_secs(600)),
            None,
            "the oldest has left the window"
        );
    }

    #[test]
    fn sweeping_forgets_addresses_whose_failures_are_old() {
        let limit = FailureWindow::new(3, Duration::from_secs(60));
        let start = Instant::now();
        limit.record(A, start);
        limit.sweep(start + Duration::from_secs(61));
        assert!(limit.failures.lock().unwrap().is_empty());
    }
}
