//! The outbox: each due mail delivered by one claimant at a time; a
//! failure waits for its retry; a sent mail is recorded and gone.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use kaisen::store::{ApplicationRecord, Delivery, OutboxRecord, Store};
use shared::domain::{ApplicationId, Setting, Timestamp};

use crate::conformance;
use crate::engines::{LINE_A, LINE_B, T0, application};

/// Delivers through `outcome`, noting each application tried.
fn courier(
    tried: Arc<Mutex<Vec<ApplicationId>>>,
    outcome: Delivery,
) -> impl Fn(ApplicationRecord, OutboxRecord) -> BoxFuture<'static, Delivery> + Send + Sync {
    move |record, _| {
        tried.lock().expect("not poisoned").push(record.id);
        let outcome = outcome.clone();
        Box::pin(async move {
            // Slow enough for a racing claimant to find the mail held.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            outcome
        })
    }
}

async fn completed_with_mail(store: &Store, line: &str, provider: usize) -> ApplicationId {
    let new = application(store, line, Setting::Notify, &[provider], T0).await;
    let id = store.submit(&new).await.expect("stored").record.id;
    store
        .run_due_work(Timestamp::from_unix(T0 + 60))
        .await
        .expect("ran");
    id
}

conformance!(
    a_failed_mail_waits_for_its_retry_and_a_sent_one_is_recorded_and_gone,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let id = completed_with_mail(&store, LINE_A, 10).await;
        let done = Timestamp::from_unix(T0 + 60);
        assert_eq!(store.next_mail_due().await.expect("read"), Some(done));

        let tried = Arc::new(Mutex::new(Vec::new()));
        let retry = OutboxRecord {
            attempts: 1,
            next_attempt_at: done.plus_secs(5),
            last_error: Some("relay down".into()),
        };
        let failing = courier(tried.clone(), Delivery::Failed(retry.clone()));
        assert_eq!(
            store
                .deliver_due_mail(done, usize::MAX, &failing)
                .await
                .expect("tried"),
            1
        );
        assert_eq!(store.outbox().await.expect("read"), [(id, retry.clone())]);
        assert_eq!(
            store
                .deliver_due_mail(done.plus_secs(4), usize::MAX, &failing)
                .await
                .expect("tried"),
            0
        );

        let sent_at = done.plus_secs(6);
        let sending = courier(tried.clone(), Delivery::Sent(sent_at));
        assert_eq!(
            store
                .deliver_due_mail(sent_at, usize::MAX, &sending)
                .await
                .expect("tried"),
            1
        );
        assert!(store.outbox().await.expect("read").is_empty());
        assert_eq!(store.next_mail_due().await.expect("read"), None);
        let record = store.application(id).await.expect("read").expect("there");
        assert_eq!(record.mail_sent_at, Some(sent_at));
        assert_eq!(
            store
                .deliver_due_mail(sent_at.plus_secs(3600), usize::MAX, &sending)
                .await
                .expect("tried"),
            0
        );
        assert_eq!(*tried.lock().expect("not poisoned"), [id, id]);
        let queues = store.queues(sent_at).await.expect("read");
        assert_eq!((queues.work, queues.mail), (0, 0));
    }
);

conformance!(
    two_mailers_racing_deliver_each_mail_once,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let mut ids = Vec::new();
        for (line, provider) in [(LINE_A, 10), (LINE_A, 11), (LINE_B, 10), (LINE_B, 12)] {
            ids.push(completed_with_mail(&store, line, provider).await);
        }
        let tried = Arc::new(Mutex::new(Vec::new()));
        let at = Timestamp::from_unix(T0 + 61);
        let stores = [store.clone(), db.open().await];
        let mailers: Vec<_> = stores
            .iter()
            .map(|s| {
                let (s, tried) = (s.clone(), tried.clone());
                tokio::spawn(async move {
                    let deliver = courier(tried, Delivery::Sent(at));
                    s.deliver_due_mail(at, usize::MAX, &deliver)
                        .await
                        .expect("delivered")
                })
            })
            .collect();
        let mut total = 0;
        for mailer in mailers {
            total += mailer.await.expect("no panic");
        }
        let mut tried = tried.lock().expect("not poisoned").clone();
        tried.sort();
        ids.sort();
        assert_eq!(tried, ids, "each mail once");
        assert_eq!(total, ids.len());
        assert!(store.outbox().await.expect("read").is_empty());
    }
);
