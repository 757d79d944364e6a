//! The worker: applies each application's changes after the work delay,
//! and resumes whatever is queued after a restart (the queue is in the
//! store; with several processes, each step is claimed by one).

use std::time::Duration;

use crate::state::{AppState, now};
use crate::store::WorkStep;

/// The longest the worker sleeps without looking at the queue.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// Runs the steps due now; says when the next is due and whether a
/// completion mail was queued.
async fn pass(
    state: &AppState,
) -> Result<(Option<shared::domain::Timestamp>, bool), crate::store::StoreError> {
    let mut mail = false;
    let mut completed = false;
    for (record, step) in state.store.run_due_work(now()).await? {
        match step {
            WorkStep::Start => tracing::info!(id = %record.id, "work started"),
            WorkStep::Complete => {
                tracing::info!(id = %record.id, "work completed");
                metrics::counter!("kaisen_applications_completed_total").increment(1);
                mail |= record.applicant.wants_mail;
                completed = true;
            }
        }
    }
    if completed {
        // A completion may have written events for providers.
        state.events_queued.notify_one();
    }
    Ok((state.store.next_work_due().await?, mail))
}

/// Runs until `stop` turns true: do what is due, then sleep until the next
/// step is due or new work is queued. A pass that has begun is finished
/// before it stops (each step is one transaction, synced at the end).
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow() {
        let next = pass(&state).await;
        if let Ok((_, true)) = next {
            state.mail_queued.notify_one();
        }
        let sleep = match next.map(|(due, _)| due) {
            Ok(Some(due)) => {
                Duration::from_secs(u64::try_from(due.unix() - now().unix()).unwrap_or(0))
                    .min(MAX_SLEEP)
            }
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                tracing::error!(error = %e, "worker failed; retrying");
                Duration::from_secs(1)
            }
        };
        // A step due now (sleep 0) was queued while we ran: loop at once,
        // but never spin faster than every 100 ms.
        tokio::select! {
            () = tokio::time::sleep(sleep.max(Duration::from_millis(100))) => {}
            () = state.work_queued.notified() => {}
            _ = stop.changed() => {}
        }
    }
}
