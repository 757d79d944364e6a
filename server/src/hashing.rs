//! The hashing slots: a fixed number of Argon2 hashes at once (one per core
//! by default), each slot owning one reusable memory buffer
//! ([`Hasher`]), so that hashing needs `slots × 19 MiB` whatever the load.
//! A login that finds every slot taken waits its turn, first come first
//! served, for a short bounded time; only when that wait runs out, or when
//! too many are waiting already, is it refused (503). A flood of logins,
//! valid or not, is thus served in order instead of winning the race for a
//! slot against everyone else.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::password::Hasher;

/// The slots and their queue.
#[derive(Debug)]
pub struct HashingSlots {
    /// One permit per slot; tokio's semaphore hands permits out in the
    /// order they were asked for.
    permits: Arc<Semaphore>,
    /// The buffers of the slots not in use.
    free: Mutex<Vec<Hasher>>,
    /// How long a login waits for a slot.
    wait: Duration,
    /// How many logins may wait at once.
    queue: usize,
    /// How many are waiting now.
    waiting: AtomicUsize,
}

/// A slot in use: its buffer, given back with the permit when dropped.
#[derive(Debug)]
pub struct Slot {
    hasher: Hasher,
    slots: Arc<HashingSlots>,
    // Dropped after `drop` has put the buffer back (fields drop after it).
    _permit: OwnedSemaphorePermit,
}

impl HashingSlots {
    /// `slots` slots, their buffers allocated now; a login waits at most
    /// `wait` for one, and at most `queue` logins wait at once.
    pub fn new(slots: usize, wait: Duration, queue: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(slots)),
            free: Mutex::new((0..slots).map(|_| Hasher::new()).collect()),
            wait,
            queue,
            waiting: AtomicUsize::new(0),
        }
    }

    /// Slots free now (for the metrics).
    pub fn free_slots(&self) -> usize {
        self.permits.available_permits()
    }

    /// Logins waiting in line now (for the metrics).
    pub fn waiting(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A free slot, at once or after waiting in line; `None` when none came
    /// free within the wait, or the line was full.
    pub async fn acquire(self: &Arc<Self>) -> Option<Slot> {
        // Permits given back go to those waiting first, so taking a free
        // one here never jumps the queue.
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let _in_line = InLine::join(&self.waiting, self.queue)?;
                tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
                    .await
                    .ok()?
                    .ok()?
            }
        };
        let hasher = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        Some(Slot {
            hasher,
            slots: self.clone(),
            _permit: permit,
        })
    }
}

impl Slot {
    /// The slot's buffer.
    pub fn hasher(&mut self) -> &mut Hasher {
        &mut self.hasher
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let hasher = std::mem::take(&mut self.hasher);
        self.slots
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(hasher);
    }
}

/// A place in the line, counted while held (also when the waiting login is
/// dropped, e.g. its client went away).
struct InLine<'a>(&'a AtomicUsize);

impl<'a> InLine<'a> {
    /// Joins unless `max` are waiting already.
    fn join(waiting: &'a AtomicUsize, max: usize) -> Option<Self> {
        waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(waiting))
    }
}

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_logins_get_the_slot_in_the_order_they_came() {
        let slots = Arc::new(HashingSlots::new(1, Duration::from_secs(10), 8));
        let held = slots.acquire().await.unwrap();
        let (order, mut served) = tokio::sync::mpsc::unbounded_channel();
        let mut waiting = Vec::new();
        for n in 0..4 {
            let (pool, order) = (slots.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let slot = pool.acquire().await.unwrap();
                order.send(n).unwrap();
                drop(slot);
            }));
            // Each in line before the next comes.
            while slots.waiting.load(Ordering::Acquire) <= n {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        for task in waiting {
            task.await.unwrap();
        }
        let mut seen = Vec::new();
        while let Ok(n) = served.try_recv() {
            seen.push(n);
        }
        assert_eq!(seen, [0, 1, 2, 3]);
        assert_eq!(slots.waiting.load(Ordering::Acquire), 0);
        assert_eq!(slots.free.lock().unwrap().len(), 1, "the buffer came back");
    }

    #[tokio::test]
    async fn a_full_line_is_refused_at_once_and_one_in_line_when_the_wait_runs_out() {
        let slots = Arc::new(HashingSlots::new(1, Duration::from_millis(200), 1));
        let _held = slots.acquire().await.unwrap();
        let pool = slots.clone();
        let in_line = tokio::spawn(async move { pool.acquire().await.is_none() });
        while slots.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        let started = std::time::Instant::now();
        assert!(slots.acquire().await.is_none(), "the line is full");
        assert!(started.elapsed() < Duration::from_millis(100));
        assert!(in_line.await.unwrap(), "no slot came free within the wait");
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert_eq!(slots.waiting.load(Ordering::Acquire), 0);
    }
}
