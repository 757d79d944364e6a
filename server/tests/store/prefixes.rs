//! IPv6 prefix assignments (SPEC §5 `prefixes`): imported once, closed by
//! a later `until`, found by any address inside at a given time, and
//! refused when two lines would hold one address at one instant.

use std::net::Ipv6Addr;

use serde_json::json;
use shared::domain::Timestamp;

use crate::conformance;
use crate::engines::{LINE_A, LINE_B, import_file, line};

/// 2026-11-01T00:00:00+09:00.
const NOV_1: i64 = 1_793_458_800;
const DAY: i64 = 86_400;

fn addr(text: &str) -> Ipv6Addr {
    text.parse().expect("an IPv6 address")
}

async fn holder(store: &kaisen::store::Store, address: &str, at: i64) -> Option<String> {
    store
        .prefix_at(addr(address), Timestamp::from_unix(at))
        .await
        .expect("read")
        .map(|p| p.customer_id.to_string())
}

conformance!(
    an_address_finds_the_line_whose_prefix_held_it_at_that_time,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        // Line A since Nov 1, open; line B's /56 from Nov 1 until Nov 20.
        let a = Some(LINE_A.to_owned());
        assert_eq!(holder(&store, "2001:db8:1234:5600::1", NOV_1).await, a);
        assert_eq!(
            holder(&store, "2001:db8:1234:56ff:ffff::9", NOV_1 + 300 * DAY).await,
            a
        );
        assert_eq!(
            holder(&store, "2001:db8:1234:5600::1", NOV_1 - 1).await,
            None,
            "before"
        );
        assert_eq!(
            holder(&store, "2001:db8:1234:5500::1", NOV_1).await,
            None,
            "outside"
        );
        let b = Some(LINE_B.to_owned());
        assert_eq!(
            holder(&store, "2001:db8:1234:5700::1", NOV_1 + DAY).await,
            b
        );
        assert_eq!(
            holder(&store, "2001:db8:1234:5700::1", NOV_1 + 19 * DAY).await,
            None,
            "until is exclusive"
        );

        // The prefix moves to line A on Nov 20, and a /48 is given to B.
        let moved = json!({"prefixes": [
            {"customer_id": LINE_A, "prefix": "2001:db8:1234:5700::/56", "from": "2026-11-20T00:00:00+09:00", "until": null},
            {"customer_id": LINE_B, "prefix": "2001:db8:99::/48", "from": "2026-11-02T00:00:00+09:00", "until": null},
        ]});
        let report = kaisen::import::import(&store, import_file(moved.clone()))
            .await
            .expect("imported");
        assert_eq!(report.prefixes, 2);
        let again = kaisen::import::import(&store, import_file(moved))
            .await
            .expect("imported");
        assert_eq!(
            again.prefixes, 0,
            "the same assignments again change nothing"
        );
        assert_eq!(
            holder(&store, "2001:db8:1234:5700::1", NOV_1 + 18 * DAY).await,
            b
        );
        assert_eq!(
            holder(&store, "2001:db8:1234:5700::1", NOV_1 + 19 * DAY).await,
            a
        );
        assert_eq!(holder(&store, "2001:db8:99:ab00::1", NOV_1 + DAY).await, b);

        // A later `until` closes B's /48.
        let closed = json!({"prefixes": [
            {"customer_id": LINE_B, "prefix": "2001:db8:99::/48", "from": "2026-11-02T00:00:00+09:00", "until": "2026-11-03T00:00:00+09:00"},
        ]});
        let report = kaisen::import::import(&store, import_file(closed))
            .await
            .expect("imported");
        assert_eq!(report.prefixes, 1);
        assert_eq!(holder(&store, "2001:db8:99::1", NOV_1 + DAY + 10).await, b);
        assert_eq!(
            holder(&store, "2001:db8:99::1", NOV_1 + 2 * DAY).await,
            None
        );

        let of_b: Vec<String> = store
            .line_prefixes(&line(LINE_B))
            .await
            .expect("read")
            .iter()
            .map(|p| p.prefix.to_string())
            .collect();
        assert_eq!(of_b, ["2001:db8:99::/48", "2001:db8:1234:5700::/56"]);
        assert_eq!(store.prefixes().await.expect("read").len(), 4);
    }
);

conformance!(
    an_assignment_giving_an_address_to_two_lines_at_once_is_refused_naming_both,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let before = store.prefixes().await.expect("read");
        let refused = |file: serde_json::Value| {
            let store = store.clone();
            async move {
                kaisen::import::import(&store, import_file(file))
                    .await
                    .expect_err("refused")
                    .to_string()
            }
        };
        // Inside line A's open /56, from after its start: against the store.
        let inside = refused(json!({"prefixes": [
            {"customer_id": LINE_B, "prefix": "2001:db8:1234:5680::/58", "from": "2026-12-01T00:00:00+09:00", "until": null},
        ]}))
        .await;
        assert!(
            inside.starts_with(&format!("prefixes[0] ({LINE_B}).prefix: ")),
            "{inside}"
        );
        assert!(
            inside.contains(LINE_A) && inside.contains("(stored)"),
            "{inside}"
        );
        // Two lines in one file, the second refused and both named.
        let twice = refused(json!({"prefixes": [
            {"customer_id": LINE_A, "prefix": "2001:db8:7::/48", "from": "2026-11-01T00:00:00+09:00", "until": "2026-11-10T00:00:00+09:00"},
            {"customer_id": LINE_B, "prefix": "2001:db8:7::/48", "from": "2026-11-09T00:00:00+09:00", "until": null},
        ]}))
        .await;
        assert!(
            twice.starts_with(&format!("prefixes[1] ({LINE_B}).prefix: ")),
            "{twice}"
        );
        assert!(
            twice.contains(LINE_A) && twice.contains("(prefixes[0])"),
            "{twice}"
        );
        // The same assignment given to another line.
        let taken = refused(json!({"prefixes": [
            {"customer_id": LINE_B, "prefix": "2001:db8:1234:5600::/56", "from": "2026-11-01T00:00:00+09:00", "until": null},
        ]}))
        .await;
        assert!(taken.contains(LINE_A) && taken.contains(LINE_B), "{taken}");
        // Fields at fault.
        for (entry, field, says) in [
            (
                json!({"customer_id": LINE_A, "prefix": "2001:db8:1::1/56", "from": "2026-11-01T00:00:00+09:00", "until": null}),
                "prefix",
                "host bits",
            ),
            (
                json!({"customer_id": LINE_A, "prefix": "2001:db8::/96", "from": "2026-11-01T00:00:00+09:00", "until": null}),
                "prefix",
                "/32 to /64",
            ),
            (
                json!({"customer_id": LINE_A, "prefix": "10.0.0.0/8", "from": "2026-11-01T00:00:00+09:00", "until": null}),
                "prefix",
                "not an IPv6 prefix",
            ),
            (
                json!({"customer_id": LINE_A, "prefix": "2001:db8:5::/48", "from": "2026-11-01", "until": null}),
                "from",
                "RFC 3339",
            ),
            (
                json!({"customer_id": LINE_A, "prefix": "2001:db8:5::/48", "from": "2026-11-01T00:00:00+09:00", "until": "2026-11-01T00:00:00+09:00"}),
                "until",
                "after from",
            ),
        ] {
            let message = refused(json!({"prefixes": [entry]})).await;
            assert!(
                message.starts_with(&format!("prefixes[0] ({LINE_A}).{field}: "))
                    && message.contains(says),
                "{message}"
            );
        }
        let unknown = refused(json!({"prefixes": [
            {"customer_id": "CAF0000000999", "prefix": "2001:db8:5::/48", "from": "2026-11-01T00:00:00+09:00", "until": null},
        ]}))
        .await;
        assert_eq!(
            unknown,
            "prefixes[0].customer_id: unknown line CAF0000000999"
        );
        assert_eq!(
            store.prefixes().await.expect("read"),
            before,
            "nothing written"
        );

        // A line given in the same file may hold a prefix.
        let with_line = json!({
            "lines": [{"customer_id": "CAF0000000777", "access_key_hash": crate::engines::HASH}],
            "prefixes": [{"customer_id": "CAF0000000777", "prefix": "2001:db8:77::/48", "from": "2026-11-01T00:00:00+09:00", "until": null}],
        });
        let report = kaisen::import::import(&store, import_file(with_line))
            .await
            .expect("imported");
        assert_eq!((report.lines, report.prefixes), (1, 1));
    }
);

conformance!(
    a_lookup_finds_the_line_only_while_it_is_set_to_notify_for_the_provider,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let ask = |address: &str, at: i64, provider: usize| {
            let store = store.clone();
            let address: Ipv6Addr = address.parse().expect("an address");
            async move {
                store
                    .notifying_prefix_at(
                        address,
                        Timestamp::from_unix(at),
                        &crate::engines::code(provider),
                    )
                    .await
                    .expect("read")
                    .map(|p| p.customer_id.as_str().to_owned())
            }
        };
        let a = Some(LINE_A.to_owned());
        // Line A: 「通知する」 for W0001, 「通知しない」 for W0003, nothing for W0005.
        assert_eq!(ask("2001:db8:1234:5600::1", NOV_1, 1).await, a);
        assert_eq!(ask("2001:db8:1234:5600::1", NOV_1, 3).await, None);
        assert_eq!(ask("2001:db8:1234:5600::1", NOV_1, 5).await, None);
        assert_eq!(ask("2001:db8:1234:5600::1", NOV_1 - 1, 1).await, None);
        assert_eq!(ask("2001:db8:ffff::1", NOV_1, 1).await, None);
        // Line B held its /56 until Nov 20.
        assert_eq!(
            ask("2001:db8:1234:5700::1", NOV_1 + DAY, 1).await,
            Some(LINE_B.to_owned())
        );
        assert_eq!(
            ask("2001:db8:1234:5700::1", NOV_1 + 30 * DAY, 1).await,
            None
        );
    }
);
