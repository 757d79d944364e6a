//! The disclosure log (SPEC §8): every disclosure kept, a line's paged
//! newest first, and each provider's 最終通知日時 moved on only forwards.

use shared::domain::Timestamp;

use crate::conformance;
use crate::engines::{LINE_A, LINE_B, T0, code, disclosure, line};

conformance!(
    disclosures_are_kept_paged_newest_first_and_give_the_last_time_per_provider,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        for n in 0..25 {
            let provider = if n % 2 == 0 { 1 } else { 2 };
            store
                .record_disclosure(&disclosure(LINE_A, provider, T0 + n, None))
                .await
                .expect("recorded");
        }
        // An older one recorded late does not move the last time back.
        store
            .record_disclosure(&disclosure(LINE_A, 1, T0 - 100, None))
            .await
            .expect("recorded");
        store
            .record_disclosure(&disclosure(LINE_B, 1, T0 + 50, None))
            .await
            .expect("recorded");

        let first = store
            .line_disclosures(&line(LINE_A), 0, 20)
            .await
            .expect("read");
        assert_eq!(first.total, 26);
        let times: Vec<i64> = first.items.iter().map(|d| d.at.unix() - T0).collect();
        assert_eq!(times, (5..25).rev().collect::<Vec<_>>(), "newest first");
        let rest = store
            .line_disclosures(&line(LINE_A), 20, 20)
            .await
            .expect("read");
        let times: Vec<i64> = rest.items.iter().map(|d| d.at.unix() - T0).collect();
        assert_eq!(times, [4, 3, 2, 1, 0, -100]);
        assert_eq!(
            rest.items[5],
            disclosure(LINE_A, 1, T0 - 100, None),
            "kept whole"
        );

        let settings = store.line_settings(&line(LINE_A)).await.expect("read");
        assert_eq!(
            settings.last_disclosed,
            [
                (code(1), Timestamp::from_unix(T0 + 24)),
                (code(2), Timestamp::from_unix(T0 + 23)),
            ]
        );
        let of_b = store
            .line_disclosures(&line(LINE_B), 0, 20)
            .await
            .expect("read");
        assert_eq!(of_b.total, 1, "each line sees its own");
        assert_eq!(of_b.items[0].customer_id, line(LINE_B));
        let notified = store.notifications(&line(LINE_B)).await.expect("read");
        assert_eq!(
            notified[0].last_disclosed_at,
            Some(Timestamp::from_unix(T0 + 50))
        );
    }
);
