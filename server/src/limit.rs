//! Login limits of this process, kept in memory, each a sliding window of
//! recent events per key: logins of any outcome that were hashed, per line
//! and per client address, so that no line or address can take this
//! process's hashing slots from everyone else, however right its key.
//! (Failed logins, per ID and per address, are counted in the store,
//! across every process: SPEC §4.)

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use shared::domain::CustomerId;

/// Recent events per key: at most `max` within `window`.
#[derive(Debug)]
pub struct Window<K> {
    max: usize,
    window: Duration,
    events: Mutex<HashMap<K, VecDeque<Instant>>>,
}

impl<K: Hash + Eq + Clone> Window<K> {
    /// At most `max` events per key within `window`.
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            events: Mutex::new(HashMap::new()),
        }
    }

    fn events(&self) -> MutexGuard<'_, HashMap<K, VecDeque<Instant>>> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How long `key` must wait before trying again, if it must.
    pub fn retry_after(&self, key: &K, now: Instant) -> Option<Duration> {
        wait(&mut self.events(), self.max, self.window, key, now)
    }

    /// Counts an event of `key`.
    pub fn record(&self, key: K, now: Instant) {
        record(&mut self.events(), self.max, key, now);
    }

    /// Forgets `key`'s events.
    pub fn forget(&self, key: &K) {
        self.events().remove(key);
    }

    /// Forgets keys whose events have all left the window.
    pub fn sweep(&self, now: Instant) {
        let window = self.window;
        self.events().retain(|_, recent| {
            recent
                .back()
                .is_some_and(|t| now.duration_since(*t) < window)
        });
    }
}

/// How long `key` must wait, its events older than `window` dropped first.
fn wait<K: Hash + Eq>(
    events: &mut HashMap<K, VecDeque<Instant>>,
    max: usize,
    window: Duration,
    key: &K,
    now: Instant,
) -> Option<Duration> {
    let recent = events.get_mut(key)?;
    while recent
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        recent.pop_front();
    }
    if recent.len() < max {
        return None;
    }
    recent
        .front()
        .map(|oldest| (*oldest + window).saturating_duration_since(now))
}

fn record<K: Hash + Eq>(
    events: &mut HashMap<K, VecDeque<Instant>>,
    max: usize,
    key: K,
    now: Instant,
) {
    let recent = events.entry(key).or_default();
    recent.push_back(now);
    while recent.len() > max {
        recent.pop_front();
    }
}

/// The hashing limits of the process.
#[derive(Debug)]
pub struct LoginLimits {
    /// Hashed logins per line.
    pub per_line: Window<CustomerId>,
    /// Hashed logins per client address.
    pub per_address: Window<IpAddr>,
}

impl LoginLimits {
    /// How long a login of `line` from `client` must wait for the
    /// per-line or per-address limit, if it must.
    pub fn login_wait(&self, line: &CustomerId, client: IpAddr, now: Instant) -> Option<Duration> {
        let by_line = self.per_line.retry_after(line, now);
        let by_address = self.per_address.retry_after(&client, now);
        by_line.max(by_address)
    }

    /// Counts a login of `line` from `client` if both limits allow it,
    /// checked and counted at once; otherwise how long it must wait.
    pub fn admit(&self, line: &CustomerId, client: IpAddr, now: Instant) -> Result<(), Duration> {
        // Always in this order: line, then address.
        let mut lines = self.per_line.events();
        let mut addresses = self.per_address.events();
        let by_line = wait(
            &mut lines,
            self.per_line.max,
            self.per_line.window,
            line,
            now,
        );
        let by_address = wait(
            &mut addresses,
            self.per_address.max,
            self.per_address.window,
            &client,
            now,
        );
        if let Some(wait) = by_line.max(by_address) {
            return Err(wait);
        }
        record(&mut lines, self.per_line.max, line.clone(), now);
        record(&mut addresses, self.per_address.max, client, now);
        Ok(())
    }

    /// Forgets what has left every window.
    pub fn sweep(&self, now: Instant) {
        self.per_line.sweep(now);
        self.per_address.sweep(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn sweeping_forgets_keys_whose_events_are_old() {
        let limit: Window<IpAddr> = Window::new(3, Duration::from_secs(60));
        let start = Instant::now();
        limit.record(A, start);
        limit.sweep(start + Duration::from_secs(61));
        assert!(limit.events.lock().unwrap().is_empty());
    }

    fn limits(per_line: usize, per_address: usize) -> LoginLimits {
        LoginLimits {
            per_line: Window::new(per_line, Duration::from_secs(60)),
            per_address: Window::new(per_address, Duration::from_secs(60)),
        }
    }

    fn line(n: u32) -> CustomerId {
        CustomerId::parse(&format!("CAF{n:010}")).unwrap()
    }

    #[test]
    fn a_line_is_admitted_so_many_times_a_window_whatever_the_address() {
        let limits = limits(10, 120);
        let start = Instant::now();
        for i in 0..10 {
            let from = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, i));
            assert_eq!(limits.admit(&line(1), from, start), Ok(()));
        }
        let later = start + Duration::from_secs(15);
        assert_eq!(
            limits.admit(&line(1), B, later),
            Err(Duration::from_secs(45))
        );
        assert_eq!(
            limits.login_wait(&line(1), B, later),
            Some(Duration::from_secs(45))
        );
        assert_eq!(limits.admit(&line(2), B, later), Ok(()), "another line");
        assert_eq!(
            limits.admit(&line(1), B, start + Duration::from_secs(60)),
            Ok(()),
            "the window has moved on"
        );
    }

    #[test]
    fn an_address_is_admitted_so_many_times_a_window_and_a_refusal_counts_nowhere() {
        let limits = limits(10, 3);
        let start = Instant::now();
        for n in 0..3 {
            assert_eq!(limits.admit(&line(n), A, start), Ok(()));
        }
        assert_eq!(
            limits.admit(&line(7), A, start),
            Err(Duration::from_secs(60))
        );
        assert_eq!(
            limits.login_wait(&line(7), A, start),
            Some(Duration::from_secs(60))
        );
        // The refused login was not counted for line 7.
        assert!(
            limits
                .per_line
                .events
                .lock()
                .unwrap()
                .get(&line(7))
                .is_none()
        );
        assert_eq!(limits.admit(&line(7), B, start), Ok(()), "another address");
        limits.sweep(start + Duration::from_secs(61));
        assert!(limits.per_address.events.lock().unwrap().is_empty());
        assert!(limits.per_line.events.lock().unwrap().is_empty());
    }
}
