//! What the provider API keeps (SPEC §8): API registrations imported with
//! their client IDs unique, assertion IDs used once across every view of
//! the database, and one token key for all.

use serde_json::json;
use shared::domain::Timestamp;

use crate::conformance;
use crate::engines::{T0, api, code};

conformance!(
    a_registration_is_imported_with_a_unique_client_id_and_kept,
    |db: crate::engines::TestDb| async move {
        let store = db.with_fixture().await;
        let w1 = store
            .provider(&code(1))
            .await
            .expect("read")
            .expect("W0001");
        assert_eq!(w1.api.as_ref().map(|a| a.client_id.as_str()), Some("w0001"));
        let refused = |file: serde_json::Value| {
            let store = store.clone();
            async move {
                kaisen::import::import(&store, crate::engines::import_file(file))
                    .await
                    .expect_err("refused")
                    .to_string()
            }
        };
        let taken = refused(json!({"providers": [
            {"code": "W0002", "service_name": "IP電話", "name": "通信02株式会社", "api": api("w0001")},
        ]}))
        .await;
        assert_eq!(
            taken,
            "providers[0].api.client_id: w0001 is the client ID of stored provider W0001"
        );
        let twice = refused(json!({"providers": [
            {"code": "W0002", "service_name": "IP電話", "name": "通信02株式会社", "api": api("x")},
            {"code": "W0003", "service_name": "IP電話", "name": "通信03株式会社", "api": api("x")},
        ]}))
        .await;
        assert_eq!(
            twice,
            "providers[1].api.client_id: x is also providers[0]'s client ID"
        );
        let mut bad = api("w0009");
        bad["webhook_url"] = json!("http://events.example.jp/kaisen");
        let plain = refused(json!({"providers": [
            {"code": "W0009", "service_name": "IP電話", "name": "通信09株式会社", "api": bad},
        ]}))
        .await;
        assert!(
            plain.starts_with("providers[0].api.webhook_url: "),
            "{plain}"
        );
        // Moving the ID to another provider in one file is fine.
        let moved = json!({"providers": [
            {"code": "W0001", "service_name": "IP電話", "name": "通信01株式会社"},
            {"code": "W0002", "service_name": "IP電話", "name": "通信02株式会社", "api": api("w0001")},
        ]});
        kaisen::import::import(&store, crate::engines::import_file(moved))
            .await
            .expect("imported");
        let catalogue = store.catalogue().await.expect("read");
        assert!(catalogue[0].1.api.is_none());
        assert_eq!(
            catalogue[1].1.api.as_ref().map(|a| a.client_id.as_str()),
            Some("w0001")
        );
    }
);

conformance!(
    an_assertion_id_is_used_once_by_any_view_until_it_expires_and_the_token_key_is_one,
    |db: crate::engines::TestDb| async move {
        let store = db.open().await;
        let at = Timestamp::from_unix(T0 + 300);
        assert!(
            store
                .first_use_of_assertion("w0001", "j1", at)
                .await
                .expect("write")
        );
        let other = db.open().await;
        assert!(
            !other
                .first_use_of_assertion("w0001", "j1", at)
                .await
                .expect("write")
        );
        assert!(
            other
                .first_use_of_assertion("w0002", "j1", at)
                .await
                .expect("write")
        );
        assert_eq!(
            store
                .sweep_assertion_ids(Timestamp::from_unix(T0))
                .await
                .expect("swept"),
            0
        );
        assert_eq!(store.sweep_assertion_ids(at).await.expect("swept"), 2);
        assert!(
            store
                .first_use_of_assertion("w0001", "j1", at)
                .await
                .expect("write")
        );

        let key = store.token_key().await.expect("made");
        assert_eq!(other.token_key().await.expect("read"), key);
        assert_ne!(key, [0; 32]);
    }
);
