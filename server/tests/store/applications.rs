//! Submitting applications: stored whole, once per key, one change at a
//! time per provider, every refusal of §4 — also under races.

use kaisen::store::{ApplicationRecord, SubmitError};
use shared::domain::{ApplicationState, Setting};

use crate::conformance;
use crate::engines::{LINE_A, LINE_B, T0, application, code, line};

conformance!(
    an_application_is_stored_whole_and_found_by_id_and_line,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let new = application(&store, LINE_A, Setting::Notify, &[10, 11], T0).await;

        let submitted = store.submit(&new).await.expect("stored");

        assert!(!submitted.replayed);
        let record = &submitted.record;
        assert_eq!(record.id.to_string().len(), 16);
        assert!(
            record.id.to_string().starts_with("20261201"),
            "{}",
            record.id
        );
        assert_eq!(record.state, ApplicationState::Received);
        assert_eq!(record.expected_done_at.unix(), T0 + 60);
        assert_eq!(record.consent_version, "2026-04");
        let names: Vec<_> = record
            .changes
            .iter()
            .map(|c| c.provider_name.as_str())
            .collect();
        assert_eq!(names, ["通信10株式会社", "通信11株式会社"]);
        // Another view of the database (another process) reads it back.
        let other = db.open().await;
        assert_eq!(
            other.application(record.id).await.expect("read"),
            Some(record.clone())
        );
        assert_eq!(
            other.line_applications(&line(LINE_A)).await.expect("read"),
            std::slice::from_ref(record)
        );
        assert!(
            other
                .line_applications(&line(LINE_B))
                .await
                .expect("read")
                .is_empty()
        );
        let settings = other.line_settings(&line(LINE_A)).await.expect("read");
        assert_eq!(
            settings.pending,
            [(code(10), record.id), (code(11), record.id)]
        );
        assert!(other.changing(&line(LINE_A)).await.expect("read"));
    }
);

conformance!(
    ids_are_unique_in_order_and_lines_list_newest_first,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let mut ids = Vec::new();
        for n in 10..15 {
            let new = application(&store, LINE_A, Setting::Notify, &[n], T0).await;
            ids.push(store.submit(&new).await.expect("stored").record.id);
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted, "in order, none twice");
        let listed: Vec<_> = store
            .line_applications(&line(LINE_A))
            .await
            .expect("read")
            .iter()
            .map(|a| a.id)
            .collect();
        ids.reverse();
        assert_eq!(listed, ids);
    }
);

conformance!(
    a_used_key_gives_the_same_application_and_stores_nothing,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let new = application(&store, LINE_A, Setting::Notify, &[10], T0).await;
        let first = store.submit(&new).await.expect("stored");

        // The same key later, even with other content, is the same application.
        let mut again = new.clone();
        again.providers = vec![code(12)];
        again.received_at = again.received_at.plus_secs(5);
        let replayed = store.submit(&again).await.expect("answered");

        assert!(replayed.replayed);
        assert_eq!(replayed.record, first.record);
        assert_eq!(
            store
                .line_applications(&line(LINE_A))
                .await
                .expect("read")
                .len(),
            1
        );
        // Another line may use the same key for its own application.
        let mut other_line = application(&store, LINE_B, Setting::Notify, &[10], T0).await;
        other_line.idempotency_key = new.idempotency_key.clone();
        assert!(!store.submit(&other_line).await.expect("stored").replayed);
    }
);

conformance!(
    every_refusal_names_its_cause_and_writes_nothing,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let mut stale = application(&store, LINE_A, Setting::Notify, &[10], T0).await;
        stale.consent_hash = "0".repeat(64);
        assert!(matches!(
            store.submit(&stale).await,
            Err(SubmitError::ConsentChanged)
        ));

        let unknown = {
            let mut new = application(&store, LINE_A, Setting::Notify, &[10], T0).await;
            new.providers
                .push(shared::domain::ProviderCode::parse("W9999").expect("a code"));
            new
        };
        match store.submit(&unknown).await {
            Err(SubmitError::UnknownProvider(code)) => assert_eq!(code.as_str(), "W9999"),
            other => panic!("{other:?}"),
        }

        let set = application(&store, LINE_A, Setting::Notify, &[10, 1], T0).await;
        match store.submit(&set).await {
            Err(SubmitError::AlreadySet(name)) => assert_eq!(name, "通信01株式会社"),
            other => panic!("{other:?}"),
        }
        // 「通知しない」 recorded or not recorded is the same.
        let stop = application(&store, LINE_A, Setting::DoNotNotify, &[3], T0).await;
        assert!(matches!(
            store.submit(&stop).await,
            Err(SubmitError::AlreadySet(_))
        ));

        assert!(
            store
                .line_applications(&line(LINE_A))
                .await
                .expect("read")
                .is_empty()
        );
        assert!(
            store
                .line_settings(&line(LINE_A))
                .await
                .expect("read")
                .pending
                .is_empty()
        );
        assert_eq!(store.audit().await.expect("read").work.len(), 0);
    }
);

conformance!(
    a_provider_with_a_change_being_worked_is_refused_until_it_completes,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let first = application(&store, LINE_A, Setting::Notify, &[10], T0).await;
        let first = store.submit(&first).await.expect("stored").record;
        let second = application(&store, LINE_A, Setting::Notify, &[11, 10], T0 + 1).await;
        match store.submit(&second).await {
            Err(SubmitError::ProviderBusy(name)) => assert_eq!(name, "通信10株式会社"),
            other => panic!("{other:?}"),
        }
        // Another line's same provider is free.
        let other = application(&store, LINE_B, Setting::Notify, &[10], T0).await;
        store.submit(&other).await.expect("stored");

        let done = store
            .run_due_work(first.expected_done_at)
            .await
            .expect("worked");
        assert!(
            done.iter()
                .any(|(r, _)| r.id == first.id && r.state == ApplicationState::Completed)
        );
        let stop = application(&store, LINE_A, Setting::DoNotNotify, &[10], T0 + 61).await;
        store
            .submit(&stop)
            .await
            .expect("free again once completed");
    }
);

conformance!(
    racing_submissions_get_one_application_per_key_and_one_receipt_per_provider,
    |db: crate::engines::TestDb| async move {
        let fixture = db.with_fixture().await;
        // Two views of the database: with PostgreSQL, two processes' pools.
        let stores = [fixture.clone(), db.open().await];
        // 16 submissions of one key at once, across both.
        let key_race = application(&fixture, LINE_A, Setting::Notify, &[10], T0).await;
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (store, new) = (stores[i % 2].clone(), key_race.clone());
                tokio::spawn(async move { store.submit(&new).await })
            })
            .collect();
        let mut ids = std::collections::BTreeSet::new();
        let mut fresh = 0;
        for task in tasks {
            let submitted = task.await.expect("no panic").expect("answered");
            fresh += usize::from(!submitted.replayed);
            ids.insert(submitted.record.id);
        }
        assert_eq!((ids.len(), fresh), (1, 1), "one application for one key");
        // One more application: the IDs stay unique.
        let next = application(&fixture, LINE_A, Setting::Notify, &[11], T0).await;
        let next = stores[0].submit(&next).await.expect("stored").record.id;
        assert!(!ids.contains(&next));

        // 16 keys racing for one provider: one receipt, fifteen refusals.
        let mut tasks = Vec::new();
        for i in 0..16 {
            let store = stores[i % 2].clone();
            let new = application(&fixture, LINE_A, Setting::Notify, &[20], T0).await;
            tasks.push(tokio::spawn(async move { store.submit(&new).await }));
        }
        let (mut stored, mut busy) = (Vec::<ApplicationRecord>::new(), 0);
        for task in tasks {
            match task.await.expect("no panic") {
                Ok(s) => stored.push(s.record),
                Err(SubmitError::ProviderBusy(name)) => {
                    assert_eq!(name, "通信20株式会社");
                    busy += 1;
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!((stored.len(), busy), (1, 15));
        let audit = fixture.audit().await.expect("read");
        assert_eq!(audit.applications.len(), 3);
        let pending_20: Vec<_> = audit
            .pending
            .iter()
            .filter(|(_, c, _)| *c == code(20))
            .collect();
        assert_eq!(pending_20.len(), 1);
        assert_eq!(pending_20[0].2, stored[0].id);
    }
);
