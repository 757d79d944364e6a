//! Import: what differs is written and counted; a second import of the
//! same file writes nothing; the providers' catalogue follows in every
//! view.

use crate::conformance;
use crate::engines::{LINE_A, PROVIDERS, fixture, import_file, line};

conformance!(
    an_import_writes_what_differs_and_every_view_sees_the_new_catalogue,
    |db: crate::engines::TestDb| async move {
        let store = db.open().await;
        assert!(store.has_no_lines().await.expect("read"));
        let report = kaisen::import::import(&store, import_file(fixture()))
            .await
            .expect("imported");
        assert_eq!(
            (
                report.providers,
                report.lines,
                report.settings,
                report.notices,
                report.consent
            ),
            (PROVIDERS, 2, 4, true, true)
        );
        assert!(!store.has_no_lines().await.expect("read"));
        let again = kaisen::import::import(&store, import_file(fixture()))
            .await
            .expect("imported");
        assert_eq!(
            (
                again.providers,
                again.lines,
                again.settings,
                again.notices,
                again.consent
            ),
            (0, 0, 0, false, false)
        );

        // Another view keeps the catalogue; a rename through the first is seen.
        let other = db.open().await;
        let before = other.offered_page(&line(LINE_A), 1).await.expect("read");
        assert_eq!(before.total as usize, PROVIDERS - 2);
        assert_eq!(before.items[0].provider.name, "通信03株式会社");
        let renamed = serde_json::json!({"providers": [{"code": "W0003", "service_name": "IP電話", "name": "新通信株式会社"}]});
        let report = kaisen::import::import(&store, import_file(renamed))
            .await
            .expect("imported");
        assert_eq!(report.providers, 1);
        let after = other.offered_page(&line(LINE_A), 1).await.expect("read");
        assert_eq!(after.items[0].provider.name, "新通信株式会社");
        // Pages: 28 offered, 20 a page; a page past the last gives the last.
        let last = other.offered_page(&line(LINE_A), 9).await.expect("read");
        assert_eq!((last.page, last.pages, last.items.len()), (2, 2, 8));
    }
);

conformance!(
    an_unfinished_import_is_marked_until_an_import_ends,
    |db: crate::engines::TestDb| async move {
        let store = db.open().await;
        store.begin_import("/srv/lines.json").await.expect("begun");
        drop(store);
        db.close().await;
        let refused = db.open_for(kaisen::store::Purpose::Serve).await;
        let message = refused.err().expect("refused").to_string();
        assert!(
            message.starts_with("the import of /srv/lines.json into "),
            "{message}"
        );
        let store = db
            .open_for(kaisen::store::Purpose::Import)
            .await
            .expect("an import may open it");
        assert_eq!(
            store.unfinished_import().await.expect("read").as_deref(),
            Some("/srv/lines.json")
        );
        kaisen::import::import(&store, import_file(fixture()))
            .await
            .expect("imported");
        assert_eq!(store.unfinished_import().await.expect("read"), None);
    }
);
