//! The operator console's records: accounts with optimistic updates,
//! sessions, the append-only log, and the console's interventions (unlock,
//! retry now), the same through every view of the database.

use kaisen::store::operators::{
    ActionFilter, ActionKind, NewAction, OperatorRecord, OperatorRole, OperatorSession,
    after_operator_failure,
};
use kaisen::store::{EventDelivery, EventRecord};
use shared::domain::{Setting, Timestamp};

use crate::conformance;
use crate::engines::{LINE_A, LINE_B, T0, TestDb, application, code, line};

/// A new account as `kaisen operator add` makes it.
pub fn account(name: &str, role: OperatorRole) -> OperatorRecord {
    OperatorRecord {
        name: name.into(),
        role,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
        password_temporary: true,
        totp_secret: None,
        totp_last_step: None,
        disabled: false,
        failures: 0,
        locked_until: None,
        created_at: Timestamp::from_unix(T0),
        revision: 0,
    }
}

/// An action of `operator` at `T0 + at`.
pub fn action(operator: &str, customer: Option<&str>, at: i64, kind: ActionKind) -> NewAction {
    NewAction {
        at: Timestamp::from_unix(T0 + at),
        operator: operator.into(),
        customer_id: customer.map(line),
        address: Some("192.0.2.7".parse().expect("an address")),
        kind,
    }
}

conformance!(
    an_account_is_made_once_and_an_update_loses_to_any_write_since,
    |db: TestDb| async move {
        let store = db.open().await;
        let other = db.open().await;
        assert!(
            store
                .add_operator(&account("sato", OperatorRole::Admin))
                .await
                .expect("stored")
        );
        assert!(
            !other
                .add_operator(&account("sato", OperatorRole::Viewer))
                .await
                .expect("read"),
            "the name is taken, in every process"
        );
        assert!(
            store
                .add_operator(&account("abe", OperatorRole::Viewer))
                .await
                .expect("stored")
        );
        let read = other.operator("sato").await.expect("read").expect("there");
        assert_eq!(read.role, OperatorRole::Admin);
        // Two processes update the revision they read: the second loses.
        let failed = after_operator_failure(&read, Timestamp::from_unix(T0 + 1));
        let stored = store
            .update_operator(&failed)
            .await
            .expect("stored")
            .expect("won");
        assert_eq!((stored.revision, stored.failures), (1, 1));
        let stale = OperatorRecord {
            disabled: true,
            ..read.clone()
        };
        assert_eq!(
            other.update_operator(&stale).await.expect("read"),
            None,
            "lost"
        );
        let now = other.operator("sato").await.expect("read").expect("there");
        assert_eq!(now, stored, "the losing write changed nothing");
        assert_eq!(
            store
                .operators()
                .await
                .expect("read")
                .iter()
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>(),
            ["abe", "sato"]
        );
        assert_eq!(store.operator("nobody").await.expect("read"), None);
        assert_eq!(
            store
                .update_operator(&account("nobody", OperatorRole::Admin))
                .await
                .expect("read"),
            None
        );
        // The fifth failure in a row locks for 15 minutes; after it runs
        // out the count starts again.
        let mut record = now;
        for n in 2..=5 {
            record = store
                .update_operator(&after_operator_failure(
                    &record,
                    Timestamp::from_unix(T0 + n),
                ))
                .await
                .expect("stored")
                .expect("won");
        }
        assert_eq!(
            record.locked_until,
            Some(Timestamp::from_unix(T0 + 5 + 900))
        );
        assert!(record.is_locked(Timestamp::from_unix(T0 + 904)));
        assert!(!record.is_locked(Timestamp::from_unix(T0 + 905)));
        let after = after_operator_failure(&record, Timestamp::from_unix(T0 + 905));
        assert_eq!((after.failures, after.locked_until.is_some()), (1, true));
    }
);

conformance!(
    operator_sessions_are_shared_and_run_out,
    |db: TestDb| async move {
        let store = db.open().await;
        let other = db.open().await;
        let session = |at: i64| OperatorSession {
            operator: "sato".into(),
            csrf: "c".repeat(32),
            created_at: Timestamp::from_unix(T0),
            last_seen: Timestamp::from_unix(T0 + at),
            enrolling: None,
        };
        store
            .put_operator_session("s1", &session(0))
            .await
            .expect("stored");
        store
            .put_operator_session("s2", &session(0))
            .await
            .expect("stored");
        other
            .put_operator_session("s2", &session(1700))
            .await
            .expect("touched");
        assert_eq!(
            store.operator_session("s2").await.expect("read"),
            Some(session(1700))
        );
        // At T0 + 1800: s1 idle for 30 minutes, s2 not.
        let swept = other
            .sweep_operator_sessions(Timestamp::from_unix(T0 + 1800), 1800, 8 * 3600)
            .await
            .expect("swept");
        assert_eq!(swept, 1);
        assert_eq!(store.operator_session("s1").await.expect("read"), None);
        store.end_operator_session("s2").await.expect("ended");
        assert_eq!(other.operator_session("s2").await.expect("read"), None);
        store
            .end_operator_session("s2")
            .await
            .expect("ending twice is fine");
    }
);

conformance!(
    the_log_keeps_every_action_in_order_and_filters_by_operator_and_line,
    |db: TestDb| async move {
        let store = db.open().await;
        let other = db.open().await;
        let mut ids = Vec::new();
        for (n, (who, customer)) in [
            ("sato", Some(LINE_A)),
            ("abe", Some(LINE_A)),
            ("sato", None),
            ("sato", Some(LINE_B)),
            ("abe", Some(LINE_B)),
        ]
        .into_iter()
        .enumerate()
        {
            let view = if n % 2 == 0 { &store } else { &other };
            let kind = if customer.is_some() {
                ActionKind::LineViewed
            } else {
                ActionKind::OutboxViewed
            };
            let recorded = view
                .record_action(&action(who, customer, n as i64, kind))
                .await
                .expect("stored");
            assert_eq!(recorded.action.operator, who);
            ids.push(recorded.id);
        }
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "IDs in the order recorded: {ids:?}"
        );
        let all = store
            .actions(&ActionFilter {
                limit: 10,
                ..ActionFilter::default()
            })
            .await
            .expect("read");
        assert_eq!(
            all.iter().map(|a| a.id).collect::<Vec<_>>(),
            ids.iter().rev().copied().collect::<Vec<_>>(),
            "newest first"
        );
        assert_eq!(
            all[0].action,
            action("abe", Some(LINE_B), 4, ActionKind::LineViewed),
            "kept whole"
        );
        let sato = other
            .actions(&ActionFilter {
                operator: Some("sato".into()),
                limit: 10,
                ..ActionFilter::default()
            })
            .await
            .expect("read");
        assert_eq!(
            sato.iter().map(|a| a.id).collect::<Vec<_>>(),
            [ids[3], ids[2], ids[0]]
        );
        let line_a = store
            .actions(&ActionFilter {
                customer_id: Some(line(LINE_A)),
                limit: 10,
                ..ActionFilter::default()
            })
            .await
            .expect("read");
        assert_eq!(
            line_a.iter().map(|a| a.id).collect::<Vec<_>>(),
            [ids[1], ids[0]]
        );
        let both = store
            .actions(&ActionFilter {
                operator: Some("abe".into()),
                customer_id: Some(line(LINE_B)),
                limit: 10,
                before: None,
            })
            .await
            .expect("read");
        assert_eq!(both.iter().map(|a| a.id).collect::<Vec<_>>(), [ids[4]]);
        // Pages: two at a time, each before the last one seen.
        let page = store
            .actions(&ActionFilter {
                limit: 2,
                ..ActionFilter::default()
            })
            .await
            .expect("read");
        let next = store
            .actions(&ActionFilter {
                limit: 2,
                before: page.last().map(|a| a.id),
                ..ActionFilter::default()
            })
            .await
            .expect("read");
        assert_eq!(
            next.iter().map(|a| a.id).collect::<Vec<_>>(),
            [ids[2], ids[1]]
        );
    }
);

conformance!(
    an_unlock_forgets_the_failures_and_a_retry_makes_a_delivery_due_now,
    |db: TestDb| async move {
        let store = db.with_fixture().await;
        let other = db.open().await;
        let now = Timestamp::from_unix(T0);
        for _ in 0..10 {
            store
                .record_login_failure(&line(LINE_A), now, 10, 900)
                .await
                .expect("counted");
        }
        assert!(
            other
                .login_locked_until(&line(LINE_A), now)
                .await
                .expect("read")
                .is_some()
        );
        assert!(other.unlock_line(&line(LINE_A)).await.expect("unlocked"));
        assert_eq!(
            store
                .login_locked_until(&line(LINE_A), now)
                .await
                .expect("read"),
            None
        );
        assert_eq!(
            store.login_failures(&line(LINE_A)).await.expect("read"),
            None
        );
        assert!(
            !store.unlock_line(&line(LINE_B)).await.expect("read"),
            "nothing to unlock"
        );

        // A completed application's mail that failed waits an hour; a
        // retry makes it due now.
        let submitted = application(&store, LINE_A, Setting::DoNotNotify, &[1], T0).await;
        let id = store.submit(&submitted).await.expect("stored").record.id;
        store
            .run_due_work(Timestamp::from_unix(T0 + 60))
            .await
            .expect("ran");
        let fail = |_, mut mail: kaisen::store::OutboxRecord| {
            mail.attempts += 1;
            mail.next_attempt_at = Timestamp::from_unix(T0 + 3600);
            mail.last_error = Some("relay down".into());
            Box::pin(async move { kaisen::store::Delivery::Failed(mail) })
                as futures_util::future::BoxFuture<'static, kaisen::store::Delivery>
        };
        store
            .deliver_due_mail(Timestamp::from_unix(T0 + 60), 10, &fail)
            .await
            .expect("tried");
        assert_eq!(
            store.next_mail_due().await.expect("read"),
            Some(Timestamp::from_unix(T0 + 3600))
        );
        assert!(
            other
                .retry_mail_now(id, Timestamp::from_unix(T0 + 70))
                .await
                .expect("retried")
        );
        let waiting = store.outbox().await.expect("read");
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].1.next_attempt_at, Timestamp::from_unix(T0 + 70));
        assert_eq!(
            (waiting[0].1.attempts, waiting[0].1.last_error.as_deref()),
            (1, Some("relay down")),
            "kept"
        );
        let unknown = shared::domain::ApplicationId::new(
            shared::domain::Date::parse("2026-01-01").expect("a date"),
            1,
        );
        assert!(
            !store
                .retry_mail_now(unknown, Timestamp::from_unix(T0))
                .await
                .expect("read")
        );

        // An event that failed waits; a retry makes it due now, and a
        // delivered event cannot be retried.
        crate::events::register(&store, 2).await;
        crate::events::completed(&store, LINE_B, Setting::Notify, &[2], T0 + 100).await;
        let fail = |_: EventRecord, delivery: EventDelivery| {
            let outcome = EventDelivery {
                attempts: delivery.attempts + 1,
                next_attempt_at: Timestamp::from_unix(T0 + 7200),
                last_error: Some("HTTP 503".into()),
                delivered_at: None,
            };
            Box::pin(async move { outcome })
                as futures_util::future::BoxFuture<'static, EventDelivery>
        };
        assert_eq!(
            store
                .deliver_due_events(Timestamp::from_unix(T0 + 200), 10, &fail)
                .await
                .expect("tried"),
            1
        );
        let (event, _) = store.undelivered_events().await.expect("read").remove(0);
        assert!(
            other
                .retry_event_now(&code(2), event.sequence, Timestamp::from_unix(T0 + 300))
                .await
                .expect("retried")
        );
        assert_eq!(
            store.next_event_due().await.expect("read"),
            Some(Timestamp::from_unix(T0 + 300))
        );
        let deliver = |_: EventRecord, delivery: EventDelivery| {
            let outcome = EventDelivery {
                delivered_at: Some(Timestamp::from_unix(T0 + 301)),
                ..delivery
            };
            Box::pin(async move { outcome })
                as futures_util::future::BoxFuture<'static, EventDelivery>
        };
        assert_eq!(
            store
                .deliver_due_events(Timestamp::from_unix(T0 + 301), 10, &deliver)
                .await
                .expect("tried"),
            1
        );
        assert!(
            !store
                .retry_event_now(&code(2), event.sequence, Timestamp::from_unix(T0 + 302))
                .await
                .expect("read")
        );
        assert!(
            !store
                .retry_event_now(&code(2), 99, Timestamp::from_unix(T0 + 302))
                .await
                .expect("read")
        );
    }
);

/// On PostgreSQL the log refuses any change or removal, whoever asks:
/// not only the console (which has no such route), but SQL too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_cannot_be_changed_or_removed_on_postgres() {
    let db = TestDb::postgres().await;
    let store = db.open().await;
    store
        .record_action(&action("sato", Some(LINE_A), 0, ActionKind::LineViewed))
        .await
        .expect("recorded");
    let kaisen::store::Location::Postgres(url) = &db.location else {
        unreachable!("a PostgreSQL database")
    };
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connected");
    tokio::spawn(connection);
    for sql in [
        "UPDATE operator_actions SET operator = 'someone else'",
        "DELETE FROM operator_actions",
    ] {
        let refused = client.execute(sql, &[]).await.expect_err(sql);
        assert!(
            refused.to_string().contains("append-only")
                || format!("{refused:?}").contains("append-only"),
            "{sql}: {refused:?}"
        );
    }
    let log = store
        .actions(&ActionFilter {
            limit: 10,
            ..ActionFilter::default()
        })
        .await
        .expect("read");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action.operator, "sato");
}
