//! The worker's queue: each step at its time, once, whichever worker runs
//! it; completion applies the changes and queues the mail in one go.

use std::collections::BTreeMap;

use kaisen::store::WorkStep;
use shared::domain::{ApplicationState, Setting, SettingMethod, Timestamp};

use crate::conformance;
use crate::engines::{LINE_A, T0, application, code, line};

conformance!(
    each_step_runs_at_its_time_and_completion_applies_the_changes,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let new = application(&store, LINE_A, Setting::Notify, &[10], T0).await;
        let id = store.submit(&new).await.expect("stored").record.id;
        assert_eq!(
            store.next_work_due().await.expect("read"),
            Some(Timestamp::from_unix(T0))
        );

        assert!(
            store
                .run_due_work(Timestamp::from_unix(T0 - 1))
                .await
                .expect("ran")
                .is_empty()
        );
        let started = store
            .run_due_work(Timestamp::from_unix(T0))
            .await
            .expect("ran");
        assert_eq!(started.len(), 1);
        assert_eq!((started[0].0.id, started[0].1), (id, WorkStep::Start));
        assert_eq!(started[0].0.state, ApplicationState::InProgress);
        assert_eq!(
            store.next_work_due().await.expect("read"),
            Some(Timestamp::from_unix(T0 + 60))
        );
        assert!(
            store
                .run_due_work(Timestamp::from_unix(T0 + 59))
                .await
                .expect("ran")
                .is_empty()
        );

        let done_at = Timestamp::from_unix(T0 + 90);
        let completed = store.run_due_work(done_at).await.expect("ran");
        assert_eq!(completed.len(), 1);
        let record = &completed[0].0;
        assert_eq!(
            (record.state, record.completed_at),
            (ApplicationState::Completed, Some(done_at))
        );
        assert_eq!(store.next_work_due().await.expect("read"), None);
        // The setting took effect that day, by the web; the provider is free.
        let settings = store.line_settings(&line(LINE_A)).await.expect("read");
        let w0010 = settings
            .settings
            .iter()
            .find(|(c, _)| *c == code(10))
            .expect("set")
            .1
            .clone();
        assert_eq!(w0010.setting, Setting::Notify);
        assert_eq!(w0010.set_on, done_at.jst_date());
        assert_eq!(w0010.method, SettingMethod::web());
        assert!(settings.pending.is_empty());
        let rows = store.notifications(&line(LINE_A)).await.expect("read");
        let codes: Vec<_> = rows.iter().map(|n| n.code.as_str().to_owned()).collect();
        assert_eq!(codes, ["W0001", "W0002", "W0010"]);
        // The wished mail waits, due at once.
        let outbox = store.outbox().await.expect("read");
        assert_eq!(outbox.len(), 1);
        assert_eq!(
            (
                outbox[0].0,
                outbox[0].1.attempts,
                outbox[0].1.next_attempt_at
            ),
            (id, 0, done_at)
        );
        // Running again changes nothing.
        assert!(
            store
                .run_due_work(Timestamp::from_unix(T0 + 3600))
                .await
                .expect("ran")
                .is_empty()
        );
        assert_eq!(
            store.application(id).await.expect("read").expect("there"),
            record.clone()
        );
    }
);

conformance!(
    a_completion_without_a_wished_mail_queues_none,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let mut new = application(&store, LINE_A, Setting::DoNotNotify, &[1], T0).await;
        new.applicant = crate::engines::applicant(false);
        store.submit(&new).await.expect("stored");
        let done = store
            .run_due_work(Timestamp::from_unix(T0 + 60))
            .await
            .expect("ran");
        assert_eq!(done.len(), 2, "both steps were due");
        assert!(store.outbox().await.expect("read").is_empty());
        let rows = store.notifications(&line(LINE_A)).await.expect("read");
        assert_eq!(rows.len(), 1, "W0001 stopped, W0002 left: {rows:?}");
    }
);

conformance!(
    two_workers_racing_run_each_step_once,
    |db: crate::engines::TestDb| async move {
        let fixture = db.with_fixture().await;
        let mut ids = Vec::new();
        for n in 4..=PROVIDERS_USED {
            let new = application(&fixture, LINE_A, Setting::Notify, &[n], T0).await;
            ids.push(fixture.submit(&new).await.expect("stored").record.id);
        }
        let stores = [fixture.clone(), db.open().await];
        let workers: Vec<_> = (0..4)
            .map(|i| {
                let store = stores[i % 2].clone();
                tokio::spawn(async move {
                    let mut ran = Vec::new();
                    for _ in 0..3 {
                        ran.extend(
                            store
                                .run_due_work(Timestamp::from_unix(T0 + 60))
                                .await
                                .expect("ran"),
                        );
                    }
                    ran
                })
            })
            .collect();
        let mut steps: BTreeMap<_, Vec<WorkStep>> = BTreeMap::new();
        for worker in workers {
            for (record, step) in worker.await.expect("no panic") {
                steps.entry(record.id).or_default().push(step);
            }
        }
        for id in &ids {
            let mut ran = steps.remove(id).unwrap_or_default();
            ran.sort();
            assert_eq!(ran, [WorkStep::Start, WorkStep::Complete], "{id}");
            let record = fixture
                .application(*id)
                .await
                .expect("read")
                .expect("there");
            assert_eq!(record.state, ApplicationState::Completed);
        }
        assert!(steps.is_empty());
        let audit = fixture.audit().await.expect("read");
        assert!(audit.work.is_empty() && audit.pending.is_empty());
        assert_eq!(audit.outbox.len(), ids.len(), "one mail each");
    }
);

/// The last provider the racing workers' applications use.
const PROVIDERS_USED: usize = 28;
