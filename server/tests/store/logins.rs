//! Sessions and failed logins: a lock started through one view of the
//! database holds in every other.

use std::net::IpAddr;

use kaisen::store::{AddressLimit, NewSession, SessionLimits, SessionRecord};
use shared::domain::Timestamp;

use crate::conformance;
use crate::engines::{LINE_A, LINE_B, T0, line};

fn session(id: &str, line_id: &str, at: i64, replacing: Option<&str>) -> NewSession {
    NewSession {
        id: id.into(),
        record: SessionRecord {
            customer_id: line(line_id),
            created_at: Timestamp::from_unix(at),
            last_seen: Timestamp::from_unix(at),
        },
        replacing: replacing.map(Into::into),
    }
}

conformance!(
    a_login_replaces_the_held_session_and_sessions_run_out,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let other = db.open().await;
        assert_eq!(
            store
                .login(&line(LINE_A), &session("s1", LINE_A, T0, None))
                .await
                .expect("stored"),
            None
        );
        let replaced = other
            .login(&line(LINE_B), &session("s2", LINE_B, T0 + 1, Some("s1")))
            .await
            .expect("stored");
        assert_eq!(replaced.map(|s| s.customer_id), Some(line(LINE_A)));
        assert_eq!(store.session("s1").await.expect("read"), None);
        assert_eq!(
            store
                .session("s2")
                .await
                .expect("read")
                .map(|s| s.customer_id),
            Some(line(LINE_B))
        );

        store
            .touch_session("s2", Timestamp::from_unix(T0 + 100))
            .await
            .expect("touched");
        assert_eq!(
            other
                .session("s2")
                .await
                .expect("read")
                .expect("there")
                .last_seen
                .unix(),
            T0 + 100
        );
        store
            .login(&line(LINE_A), &session("s3", LINE_A, T0, None))
            .await
            .expect("stored");
        let limits = SessionLimits {
            idle_secs: 1200,
            total_secs: 28_800,
        };
        // At T0 + 1250: s3 idle too long; s2 seen at T0 + 100, not.
        assert_eq!(
            store
                .sweep_sessions(Timestamp::from_unix(T0 + 1250), limits)
                .await
                .expect("swept"),
            1
        );
        assert_eq!(store.session("s3").await.expect("read"), None);
        assert_eq!(
            other
                .end_session("s2")
                .await
                .expect("ended")
                .map(|s| s.customer_id),
            Some(line(LINE_B))
        );
        assert_eq!(store.end_session("s2").await.expect("answered"), None);
        store
            .touch_session("gone", Timestamp::from_unix(T0))
            .await
            .expect("answered");
        assert_eq!(
            store.session("gone").await.expect("read"),
            None,
            "a touch makes no session"
        );
    }
);

conformance!(
    the_tenth_failure_locks_the_id_for_every_view_and_a_login_clears_the_count,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let other = db.open().await;
        let id = line(LINE_A);
        for i in 0..9 {
            let view = if i % 2 == 0 { &store } else { &other };
            let locked = view
                .record_login_failure(&id, Timestamp::from_unix(T0 + i), 10, 900)
                .await
                .expect("counted");
            assert_eq!(locked, None);
        }
        let locked = other
            .record_login_failure(&id, Timestamp::from_unix(T0 + 9), 10, 900)
            .await
            .expect("counted");
        assert_eq!(locked, Some(Timestamp::from_unix(T0 + 909)));
        assert_eq!(
            store
                .login_locked_until(&id, Timestamp::from_unix(T0 + 10))
                .await
                .expect("read"),
            locked
        );
        assert_eq!(
            store
                .login_locked_until(&id, Timestamp::from_unix(T0 + 909))
                .await
                .expect("read"),
            None
        );
        // Unknown IDs are counted too, and swept once stale.
        let unknown = line("CAF9999999999");
        store
            .record_login_failure(&unknown, Timestamp::from_unix(T0), 10, 900)
            .await
            .expect("counted");
        assert_eq!(
            store
                .sweep_login_failures(Timestamp::from_unix(T0 + 901), 900)
                .await
                .expect("swept"),
            1
        );
        assert_eq!(store.login_failures(&unknown).await.expect("read"), None);
        assert!(
            store.login_failures(&id).await.expect("read").is_some(),
            "its lock had not run out"
        );

        let b = line(LINE_B);
        store
            .record_login_failure(&b, Timestamp::from_unix(T0), 10, 900)
            .await
            .expect("counted");
        other
            .login(&b, &session("s", LINE_B, T0, None))
            .await
            .expect("stored");
        assert_eq!(store.login_failures(&b).await.expect("read"), None);
    }
);

conformance!(
    racing_failures_are_all_counted,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let stores = [store.clone(), db.open().await];
        let tasks: Vec<_> = (0..9)
            .map(|i| {
                let s = stores[i % 2].clone();
                tokio::spawn(async move {
                    s.record_login_failure(&line(LINE_A), Timestamp::from_unix(T0), 10, 900)
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("no panic").expect("counted");
        }
        let count = store
            .login_failures(&line(LINE_A))
            .await
            .expect("read")
            .expect("there")
            .count;
        assert_eq!(count, 9);
    }
);

conformance!(
    an_address_waits_once_it_has_failed_too_often_in_the_window,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let addr: IpAddr = "192.0.2.7".parse().expect("an address");
        let limit = AddressLimit {
            max: 3,
            window_secs: 600,
        };
        for i in 0..3 {
            assert_eq!(
                store
                    .address_wait(addr, Timestamp::from_unix(T0 + i), limit)
                    .await
                    .expect("read"),
                None
            );
            store
                .record_address_failure(addr, Timestamp::from_unix(T0 + i), limit)
                .await
                .expect("counted");
        }
        assert_eq!(
            store
                .address_wait(addr, Timestamp::from_unix(T0 + 10), limit)
                .await
                .expect("read"),
            Some(590)
        );
        let elsewhere: IpAddr = "2001:db8::1".parse().expect("an address");
        assert_eq!(
            store
                .address_wait(elsewhere, Timestamp::from_unix(T0 + 10), limit)
                .await
                .expect("read"),
            None
        );
        assert_eq!(
            store
                .address_wait(addr, Timestamp::from_unix(T0 + 600), limit)
                .await
                .expect("read"),
            None
        );
    }
);
