//! Events for providers (SPEC §8): written with the completions, to
//! registered providers only (a revocation only to one that had received
//! the customer ID), numbered per provider, pulled by cursor, delivered
//! each line's in order, retried, and each claimed by one deliverer.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use kaisen::store::{EventDelivery, EventKind, EventRecord, Store};
use shared::api::DisclosureReason;
use shared::domain::ProviderCode;
use shared::domain::{ApplicationId, Setting, Timestamp};

use crate::conformance;
use crate::engines::{LINE_A, LINE_B, T0, api, application, code, disclosure, import_file, line};

/// Registers provider `n` for the provider API (client `w{n:04}`).
pub async fn register(store: &Store, n: usize) {
    let file = import_file(serde_json::json!({
        "providers": [{"code": format!("W{n:04}"), "service_name": "IP電話",
                       "name": format!("通信{n:02}株式会社"), "api": api(&format!("w{n:04}"))}],
    }));
    kaisen::import::import(store, file).await.expect("imported");
}

/// Submits and completes (at `at + 60`) an application of `line_id`.
pub async fn completed(
    store: &Store,
    line_id: &str,
    setting: Setting,
    providers: &[usize],
    at: i64,
) -> ApplicationId {
    let new = application(store, line_id, setting, providers, at).await;
    let id = store.submit(&new).await.expect("stored").record.id;
    store
        .run_due_work(Timestamp::from_unix(at + 60))
        .await
        .expect("ran");
    id
}

/// Delivers by answering `outcome(event)`, noting each event tried.
fn courier(
    tried: Arc<Mutex<Vec<(ProviderCode, u64)>>>,
    delivered: impl Fn(&EventRecord) -> bool + Send + Sync + 'static,
    at: i64,
) -> impl Fn(EventRecord, EventDelivery) -> BoxFuture<'static, EventDelivery> + Send + Sync {
    move |event, delivery| {
        tried
            .lock()
            .expect("not poisoned")
            .push((event.provider.clone(), event.sequence));
        let outcome = if delivered(&event) {
            EventDelivery {
                delivered_at: Some(Timestamp::from_unix(at)),
                ..delivery
            }
        } else {
            EventDelivery {
                attempts: delivery.attempts + 1,
                next_attempt_at: Timestamp::from_unix(at + 5),
                last_error: Some("HTTP 503".into()),
                delivered_at: None,
            }
        };
        Box::pin(async move {
            // Slow enough for a racing deliverer to find the event held.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            outcome
        })
    }
}

fn kinds(events: &[EventRecord]) -> Vec<(u64, EventKind, &str)> {
    events
        .iter()
        .map(|e| (e.sequence, e.kind, e.customer_id.as_str()))
        .collect()
}

conformance!(
    completions_write_events_for_registered_providers_numbered_and_pulled_per_provider,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        register(&store, 2).await;
        // W0001 had received line A's ID; nobody had received line B's.
        store
            .record_disclosure(&disclosure(LINE_A, 1, T0 - 500, None))
            .await
            .expect("recorded");

        let revoked = completed(&store, LINE_A, Setting::DoNotNotify, &[1, 2], T0).await;
        completed(&store, LINE_B, Setting::DoNotNotify, &[1], T0).await;
        let granted = completed(&store, LINE_A, Setting::Notify, &[1, 2, 3], T0 + 100).await;

        let w0001 = store.provider_events(&code(1), 0, 100).await.expect("read");
        assert_eq!(
            kinds(&w0001),
            [
                (1, EventKind::Revoked, LINE_A),
                (2, EventKind::Granted, LINE_A)
            ],
            "a revocation only where the ID had been given; none for W0003, unregistered"
        );
        assert_eq!(
            (
                w0001[0].application_id,
                w0001[0].at,
                &w0001[0].disclosure_id
            ),
            (revoked, Timestamp::from_unix(T0 + 60), &None)
        );
        let w0002 = store.provider_events(&code(2), 0, 100).await.expect("read");
        assert_eq!(
            kinds(&w0002),
            [(1, EventKind::Granted, LINE_A)],
            "each provider its own, numbered from 1"
        );
        assert_ne!(w0001[1].id, w0002[0].id);

        // The cursor and the limit.
        let after_first = store.provider_events(&code(1), 1, 100).await.expect("read");
        assert_eq!(after_first, w0001[1..]);
        assert_eq!(
            store.provider_events(&code(1), 0, 1).await.expect("read"),
            w0001[..1]
        );
        assert!(
            store
                .provider_events(&code(1), 2, 100)
                .await
                .expect("read")
                .is_empty()
        );
        assert!(
            store
                .provider_events(&code(3), 0, 100)
                .await
                .expect("read")
                .is_empty()
        );

        // A grant is a disclosure, logged as one, and moves 最終通知日時 on.
        let page = store
            .line_disclosures(&line(LINE_A), 0, 20)
            .await
            .expect("read");
        let grants: Vec<_> = page
            .items
            .iter()
            .filter(|d| d.reason == DisclosureReason::Granted)
            .collect();
        assert_eq!(grants.len(), 2, "{grants:?}");
        for grant in &grants {
            assert_eq!(grant.application_id, Some(granted));
            assert_eq!(grant.at, Timestamp::from_unix(T0 + 160));
            let event = [&w0001[1], &w0002[0]]
                .into_iter()
                .find(|e| e.provider == grant.provider)
                .expect("an event per grant");
            assert_eq!(event.disclosure_id.as_deref(), Some(grant.id.as_str()));
        }
        let settings = store.line_settings(&line(LINE_A)).await.expect("read");
        assert_eq!(
            settings.last_disclosed_to(&code(2)),
            Some(Timestamp::from_unix(T0 + 160))
        );

        // All three wait for delivery; the first is due since its completion.
        let waiting = store.undelivered_events().await.expect("read");
        assert_eq!(waiting.len(), 3);
        assert!(
            waiting
                .iter()
                .all(|(_, d)| d.attempts == 0 && d.delivered_at.is_none())
        );
        assert_eq!(
            store.next_event_due().await.expect("read"),
            Some(Timestamp::from_unix(T0 + 60))
        );
        let queues = store
            .queues(Timestamp::from_unix(T0 + 260))
            .await
            .expect("read");
        assert_eq!((queues.events, queues.oldest_event_age_secs), (3, 200));
    }
);

conformance!(
    each_lines_events_are_delivered_in_order_and_a_failure_waits_for_its_retry,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        for id in [LINE_A, LINE_B] {
            store
                .record_disclosure(&disclosure(id, 1, T0 - 500, None))
                .await
                .expect("recorded");
        }
        // W0001: 1 revokes A, 2 revokes B, 3 grants A again.
        completed(&store, LINE_A, Setting::DoNotNotify, &[1], T0).await;
        completed(&store, LINE_B, Setting::DoNotNotify, &[1], T0).await;
        completed(&store, LINE_A, Setting::Notify, &[1], T0 + 100).await;
        let now = T0 + 200;
        let tried = Arc::new(Mutex::new(Vec::new()));

        let failing = courier(tried.clone(), |_| false, now);
        let n = store
            .deliver_due_events(Timestamp::from_unix(now), 10, &failing)
            .await
            .expect("delivered");
        assert_eq!(n, 2);
        let mut first = std::mem::take(&mut *tried.lock().expect("not poisoned"));
        first.sort();
        assert_eq!(first, [(code(1), 1), (code(1), 2)], "3 waits behind 1");
        let waiting = store.undelivered_events().await.expect("read");
        assert_eq!(waiting.len(), 3);
        assert_eq!(
            (waiting[0].1.attempts, waiting[0].1.last_error.as_deref()),
            (1, Some("HTTP 503"))
        );
        assert_eq!(
            store.next_event_due().await.expect("read"),
            Some(Timestamp::from_unix(now + 5)),
            "not 3's time: it is not first in line"
        );
        // Nothing is due before the retry.
        let delivering = courier(tried.clone(), |_| true, now + 5);
        let n = store
            .deliver_due_events(Timestamp::from_unix(now + 4), 10, &delivering)
            .await
            .expect("delivered");
        assert_eq!(n, 0);

        let n = store
            .deliver_due_events(Timestamp::from_unix(now + 5), 10, &delivering)
            .await
            .expect("delivered");
        assert_eq!(n, 2);
        let n = store
            .deliver_due_events(Timestamp::from_unix(now + 5), 10, &delivering)
            .await
            .expect("delivered");
        assert_eq!(n, 1, "3, once 1 is delivered");
        let tried = tried.lock().expect("not poisoned").clone();
        assert_eq!(tried.last(), Some(&(code(1), 3)));
        assert!(store.undelivered_events().await.expect("read").is_empty());
        assert_eq!(store.next_event_due().await.expect("read"), None);
        // Delivered events are kept for the pull.
        assert_eq!(
            store
                .provider_events(&code(1), 0, 100)
                .await
                .expect("read")
                .len(),
            3
        );
    }
);

conformance!(
    two_deliverers_racing_deliver_each_event_once,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        register(&store, 2).await;
        register(&store, 3).await;
        completed(&store, LINE_A, Setting::Notify, &[3], T0).await;
        completed(&store, LINE_B, Setting::Notify, &[2, 3], T0).await;
        let tried = Arc::new(Mutex::new(Vec::new()));
        let at = T0 + 61;
        let stores = [store.clone(), db.open().await];
        let deliverers: Vec<_> = stores
            .iter()
            .map(|s| {
                let (s, tried) = (s.clone(), tried.clone());
                tokio::spawn(async move {
                    let deliver = courier(tried, |_| true, at);
                    s.deliver_due_events(Timestamp::from_unix(at), 100, &deliver)
                        .await
                        .expect("delivered")
                })
            })
            .collect();
        let mut total = 0;
        for deliverer in deliverers {
            total += deliverer.await.expect("no panic");
        }
        let mut tried = tried.lock().expect("not poisoned").clone();
        tried.sort();
        assert_eq!(
            tried,
            [(code(2), 1), (code(3), 1), (code(3), 2)],
            "each once"
        );
        assert_eq!(total, 3);
        assert!(store.undelivered_events().await.expect("read").is_empty());
    }
);
