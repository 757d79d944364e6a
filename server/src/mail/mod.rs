//! The completion mail (工事完了通知メール): composed from the stored
//! application, delivered from the outbox with retry and back-off.

mod compose;
mod deliver;

use std::time::Duration;

pub use compose::compose;
pub use deliver::Mailer;

use crate::state::{AppState, now};
use crate::store::OutboxRecord;

/// The longest wait between two looks at the outbox.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// The wait before retry number `attempts`: 5 s doubling, at most an hour.
pub fn backoff_secs(attempts: u32) -> i64 {
    (5_i64 << attempts.min(10)).min(3600)
}

/// Runs forever: deliver what is due, then sleep until the next mail is due
/// or the worker completes more work.
pub async fn run(state: AppState, mailer: Mailer) {
    loop {
        let mailer = mailer.clone();
        let contact = state.config.contact.clone();
        let next = state
            .blocking(move |store| {
                for (record, mail) in store.due_mail(now())? {
                    let message = compose(&record, &contact);
                    match message.and_then(|m| mailer.deliver(record.id, &m)) {
                        Ok(()) => {
                            store.mail_sent(record.id, now())?;
                            tracing::info!(id = %record.id, "completion mail sent");
                        }
                        Err(error) => {
                            let attempts = mail.attempts + 1;
                            tracing::warn!(id = %record.id, attempts, %error, "completion mail not sent; will retry");
                            let retry = OutboxRecord {
                                attempts,
                                next_attempt_at: now().plus_secs(backoff_secs(attempts)),
                                last_error: Some(error),
                            };
                            store.mail_failed(record.id, &retry)?;
                        }
                    }
                }
                store.sync()?;
                store.next_mail_due()
            })
            .await;
        let sleep = match next {
            Ok(Some(due)) => {
                Duration::from_secs(u64::try_from(due.unix() - now().unix()).unwrap_or(0))
                    .min(MAX_SLEEP)
            }
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                tracing::error!(error = %e, "mailer failed; retrying");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(sleep.max(Duration::from_millis(200))) => {}
            () = state.mail_queued.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_secs;

    #[test]
    fn backoff_doubles_from_five_seconds_up_to_an_hour() {
        assert_eq!(backoff_secs(0), 5);
        assert_eq!(backoff_secs(1), 10);
        assert_eq!(backoff_secs(3), 40);
        assert_eq!(backoff_secs(30), 3600);
    }
}
