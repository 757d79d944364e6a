//! The completion mail (工事完了通知メール): composed from the stored
//! application, delivered from the outbox with retry and back-off.

mod compose;
mod deliver;
mod relay;
mod sender;

use std::time::Duration;

pub use compose::compose;
pub use deliver::Mailer;
pub use relay::without_password;
pub use sender::{EXAMPLE_SENDER, parse_sender};

use crate::state::{AppState, now};
use crate::store::{ApplicationRecord, Delivery, OutboxRecord};

/// The longest wait between two looks at the outbox.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// The longest wait between two attempts at one mail.
const MAX_BACKOFF_SECS: i64 = 3600;

/// The wait after the `failures`th failed attempt: `base_secs` (5 s by
/// default, `--mail-retry-base`) after the first, doubling, at most an hour.
pub fn backoff_secs(base_secs: i64, failures: u32) -> i64 {
    let doublings = failures.saturating_sub(1).min(20);
    base_secs
        .max(1)
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF_SECS)
}

/// `--mail-retry-base` in whole seconds, rounded up, at least one.
fn retry_base_secs(base: Duration) -> i64 {
    let secs = base.as_secs() + u64::from(base.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(MAX_BACKOFF_SECS).max(1)
}

/// Delivers up to [`PASS`] of the mails due now; says when the next pass
/// runs.
async fn pass(
    state: &AppState,
    mailer: &Mailer,
    sender: &lettre::message::Mailbox,
    contact: &[String],
    base: i64,
) -> Result<Next, crate::store::StoreError> {
    let (mailer, sender, contact) = (mailer.clone(), sender.clone(), contact.to_vec());
    let deliver = move |record: ApplicationRecord, mail: OutboxRecord| {
        let (mailer, sender, contact) = (mailer.clone(), sender.clone(), contact.clone());
        let delivery = async move {
            let id = record.id;
            let delivered = match compose(&record, &sender, &contact) {
                Ok(message) => tokio::task::spawn_blocking(move || mailer.deliver(id, &message))
                    .await
                    .unwrap_or_else(|e| Err(format!("the delivery task failed: {e}"))),
                Err(e) => Err(e),
            };
            match delivered {
                Ok(()) => {
                    tracing::info!(%id, "completion mail sent");
                    Delivery::Sent(now())
                }
                Err(error) => {
                    let attempts = mail.attempts + 1;
                    tracing::warn!(%id, attempts, %error, "completion mail not sent; will retry");
                    Delivery::Failed(OutboxRecord {
                        attempts,
                        next_attempt_at: now().plus_secs(backoff_secs(base, attempts)),
                        last_error: Some(error),
                    })
                }
            }
        };
        Box::pin(delivery) as futures_util::future::BoxFuture<'static, Delivery>
    };
    let tried = state.store.deliver_due_mail(now(), PASS, &deliver).await?;
    if tried >= PASS {
        // More may be due: the next pass at once (after a look at `stop`).
        return Ok(Next::AtOnce);
    }
    Ok(Next::Due(state.store.next_mail_due().await?))
}

/// When the next pass runs.
enum Next {
    /// A full pass was delivered: more may be due.
    AtOnce,
    /// When the next mail is due, if any waits.
    Due(Option<shared::domain::Timestamp>),
}

/// Mails a pass delivers at most: a stop waits for one pass, not for a
/// whole backlog.
const PASS: usize = 8;

/// Runs until `stop` turns true: deliver what is due, a pass of at most
/// [`PASS`] mails at a time, then sleep until the next mail is due or the
/// worker completes more work. A pass that has begun is finished, and the
/// outbox synced, before it stops.
pub async fn run(state: AppState, mailer: Mailer, mut stop: tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow() {
        let mailer = mailer.clone();
        let contact = state.config.contact.clone();
        let sender = state.config.sender();
        let base = retry_base_secs(state.config.mail_retry_base);
        let next = pass(&state, &mailer, &sender, &contact, base).await;
        let sleep = match next {
            // A full pass: the backlog goes on without a pause.
            Ok(Next::AtOnce) => continue,
            Ok(Next::Due(Some(due))) => {
                Duration::from_secs(u64::try_from(due.unix() - now().unix()).unwrap_or(0))
                    .min(MAX_SLEEP)
            }
            Ok(Next::Due(None)) => MAX_SLEEP,
            Err(e) => {
                tracing::error!(error = %e, "mailer failed; retrying");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(sleep.max(Duration::from_millis(200))) => {}
            () = state.mail_queued.notified() => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{backoff_secs, retry_base_secs};

    #[test]
    fn backoff_waits_five_seconds_after_the_first_failure_then_doubles_up_to_an_hour() {
        assert_eq!(backoff_secs(5, 1), 5);
        assert_eq!(backoff_secs(5, 2), 10);
        assert_eq!(backoff_secs(5, 4), 40);
        assert_eq!(backoff_secs(5, 30), 3600);
        assert_eq!(backoff_secs(5, u32::MAX), 3600);
    }

    #[test]
    fn a_configured_base_is_rounded_up_to_whole_seconds_and_never_zero() {
        assert_eq!(retry_base_secs(Duration::from_secs(5)), 5);
        assert_eq!(retry_base_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_base_secs(Duration::ZERO), 1);
        assert_eq!(backoff_secs(1, 1), 1);
        assert_eq!(backoff_secs(1, 3), 4);
    }
}
