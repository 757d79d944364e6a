//! Export and restore: one format for both engines, so a round trip
//! through either, or from one to the other, gives the same bytes.

use std::io::Cursor;

use kaisen::store::{EventDelivery, EventRecord};
use shared::domain::{Setting, Timestamp};

use crate::conformance;
use crate::engines::{LINE_A, LINE_B, T0, TestDb, application, code, disclosure, line};

/// A database with something of every kind: the fixture, a completed
/// application with its mail waiting, one being worked, one received, and
/// events for providers, one delivered and one that failed.
async fn populated(db: &TestDb) -> kaisen::store::Store {
    let store = db.with_fixture().await;
    crate::events::register(&store, 10).await;
    // W0001 is told that line B revoked the ID it had received.
    store
        .record_disclosure(&disclosure(LINE_B, 1, T0 - 300, None))
        .await
        .expect("recorded");
    crate::events::completed(&store, LINE_B, Setting::DoNotNotify, &[1], T0 - 200).await;
    let done = application(&store, LINE_A, Setting::Notify, &[10], T0).await;
    let done = store.submit(&done).await.expect("stored").record.id;
    store
        .run_due_work(Timestamp::from_unix(T0 + 60))
        .await
        .expect("ran");
    let working = application(&store, LINE_B, Setting::Notify, &[11, 12], T0 + 61).await;
    store.submit(&working).await.expect("stored");
    store
        .run_due_work(Timestamp::from_unix(T0 + 61))
        .await
        .expect("ran");
    let received = application(&store, LINE_A, Setting::DoNotNotify, &[1], T0 + 70).await;
    store.submit(&received).await.expect("stored");
    // The grant of W0010 (registered) is delivered; W0001's revocation
    // failed once.
    let deliver = |event: EventRecord, delivery: EventDelivery| {
        let outcome = if event.provider.as_str() == "W0010" {
            EventDelivery {
                delivered_at: Some(Timestamp::from_unix(T0 + 65)),
                ..delivery
            }
        } else {
            EventDelivery {
                attempts: 1,
                next_attempt_at: Timestamp::from_unix(T0 + 70),
                last_error: Some("the webhook endpoint answered HTTP 503".into()),
                delivered_at: None,
            }
        };
        Box::pin(async move { outcome }) as futures_util::future::BoxFuture<'static, EventDelivery>
    };
    assert_eq!(
        store
            .deliver_due_events(Timestamp::from_unix(T0 + 65), 10, &deliver)
            .await
            .expect("delivered"),
        2
    );
    // An enrolled admin and a new viewer, and what they did.
    let admin = kaisen::store::operators::OperatorRecord {
        password_temporary: false,
        totp_secret: Some("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP".into()),
        totp_last_step: Some(59_866_667),
        ..crate::operators::account("sato", kaisen::store::operators::OperatorRole::Admin)
    };
    store.add_operator(&admin).await.expect("stored");
    store
        .add_operator(&crate::operators::account(
            "abe",
            kaisen::store::operators::OperatorRole::Viewer,
        ))
        .await
        .expect("stored");
    for (n, customer, kind) in [
        (1, None, kaisen::store::operators::ActionKind::LoggedIn),
        (
            2,
            Some(LINE_A),
            kaisen::store::operators::ActionKind::LineViewed,
        ),
        (
            3,
            Some(LINE_B),
            kaisen::store::operators::ActionKind::LineUnlocked {
                reason: "お客さまから電話で依頼".into(),
            },
        ),
    ] {
        store
            .record_action(&crate::operators::action("sato", customer, n, kind))
            .await
            .expect("recorded");
    }
    for record in [
        disclosure(LINE_A, 1, T0 + 5, None),
        disclosure(LINE_A, 10, T0 + 60, Some(done)),
        disclosure(LINE_B, 1, T0 + 7, None),
    ] {
        store.record_disclosure(&record).await.expect("recorded");
    }
    store
}

async fn export_of(store: &kaisen::store::Store) -> Vec<u8> {
    let mut out = Vec::new();
    store.export(&mut out).await.expect("exported");
    out
}

conformance!(
    export_restore_export_is_byte_identical_and_the_restore_serves,
    |db: TestDb| async move {
        let source = populated(&db).await;
        let file = export_of(&source).await;
        let audit = source.audit().await.expect("read");

        // Into a fresh database of each engine.
        for target in [TestDb::sled().await, TestDb::postgres().await] {
            let restored = target.open().await;
            let summary = restored
                .restore(&mut Cursor::new(&file))
                .await
                .expect("restored");
            assert!(summary.records > 40, "{summary:?}");
            assert_eq!(export_of(&restored).await, file, "{:?}", target.location);
            let again = restored.audit().await.expect("read");
            assert_eq!(again.pending, audit.pending, "pending changes rebuilt");
            assert_eq!(again.work, audit.work, "queued work rebuilt");
            assert_eq!(again.idempotency, audit.idempotency);
            assert_eq!(again.outbox, audit.outbox);
            assert_eq!(
                restored.operators().await.expect("read"),
                source.operators().await.expect("read"),
                "accounts with their hashes and TOTP secrets"
            );
            let every = kaisen::store::operators::ActionFilter {
                limit: 100,
                ..Default::default()
            };
            let log = source.actions(&every).await.expect("read");
            assert_eq!(restored.actions(&every).await.expect("read"), log);
            // The log goes on after the restored IDs.
            let next = restored
                .record_action(&crate::operators::action(
                    "abe",
                    None,
                    9,
                    kaisen::store::operators::ActionKind::LoggedIn,
                ))
                .await
                .expect("recorded");
            assert!(log.iter().all(|a| a.id < next.id), "{next:?} after {log:?}");
            assert_eq!(
                restored.undelivered_events().await.expect("read"),
                source.undelivered_events().await.expect("read"),
                "the failed event waits, with its attempts"
            );
            for n in [1, 10] {
                assert_eq!(
                    restored
                        .provider_events(&code(n), 0, 100)
                        .await
                        .expect("read"),
                    source
                        .provider_events(&code(n), 0, 100)
                        .await
                        .expect("read"),
                );
            }
            for id in [LINE_A, LINE_B] {
                assert_eq!(
                    restored
                        .line_settings(&line(id))
                        .await
                        .expect("read")
                        .last_disclosed,
                    source
                        .line_settings(&line(id))
                        .await
                        .expect("read")
                        .last_disclosed,
                    "最終通知日時 rebuilt"
                );
            }
            // It serves: the pending provider is refused, the next ID follows.
            let busy = application(&restored, LINE_B, Setting::Notify, &[11], T0 + 80).await;
            assert!(restored.submit(&busy).await.is_err());
            let next = application(&restored, LINE_B, Setting::Notify, &[13], T0 + 80).await;
            let id = restored.submit(&next).await.expect("stored").record.id;
            assert!(audit.applications.iter().all(|a| a.id < id), "{id} is new");
            // A provider's events go on from its last sequence (line A's
            // revocation, received before the export, completes too).
            crate::events::completed(&restored, LINE_B, Setting::Notify, &[1], T0 + 90).await;
            let after = restored
                .provider_events(&code(1), 1, 100)
                .await
                .expect("read");
            assert_eq!(
                after.iter().map(|e| e.sequence).collect::<Vec<_>>(),
                [2, 3],
                "{after:?}"
            );
            // Restoring again is refused: it is not empty.
            let refused = restored
                .restore(&mut Cursor::new(&file))
                .await
                .expect_err("refused");
            assert!(refused.to_string().contains("not empty"), "{refused}");
            assert!(
                !restored
                    .notifications(&line(LINE_A))
                    .await
                    .expect("read")
                    .is_empty()
            );
        }
    }
);

conformance!(
    a_file_that_fails_its_checks_writes_nothing,
    |db: TestDb| async move {
        let source = populated(&db).await;
        let file = String::from_utf8(export_of(&source).await).expect("UTF-8");
        let target = TestDb::sled().await;
        let restored = target.open().await;
        // A setting for a line the file never gives.
        let orphan = file.replacen(
            "\"setting\":{\"customer_id\":\"CAF0000000001\"",
            "\"setting\":{\"customer_id\":\"CAF0000000009\"",
            1,
        );
        let refused = restored
            .restore(&mut Cursor::new(orphan.as_bytes()))
            .await
            .expect_err("refused");
        assert!(
            refused
                .to_string()
                .contains("line CAF0000000009 is not given before it"),
            "{refused}"
        );
        assert_eq!(restored.holds_data().await.expect("read"), None);
    }
);
