//! The operator's import (SPEC §5), through the real import path, seen
//! from the portal: a bad file changes nothing; a file imported twice
//! changes nothing the second time.

use kaisen::import::ImportError;
use kaisen::store::ImportReport;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::domain::{AccessKey, CustomerId, ProviderCode};

use crate::helpers::{BAD_CREDENTIALS, KEY_A, LINE_A, fixture, spawn_app, spawn_app_on};

/// A small file of new lines and providers, beside the fixture.
fn new_lines() -> Value {
    json!({
        "providers": [
            {"code": "X0001", "service_name": "映像配信", "name": "新規通信株式会社"},
        ],
        "lines": [
            {
                "customer_id": "CAF0000000101",
                "access_key": "New-Key-101",
                "services": [{"name": "フレッツ光クロス", "status": "登録中"}],
                "notifications": [
                    {"provider": "X0001", "setting": "notify", "set_on": "2026-01-05", "method": "初期設定"},
                    {"provider": "W0001", "setting": "notify", "set_on": "2026-01-05", "method": "初期設定"},
                ],
            },
            {"customer_id": "CAF0000000102", "access_key": "New-Key-102"},
        ],
    })
}

fn refusal(outcome: Result<ImportReport, ImportError>) -> String {
    match outcome {
        Err(e @ ImportError::Invalid { .. }) => e.to_string(),
        other => panic!("expected the file to be refused, got {other:?}"),
    }
}

/// Asserts that nothing of [`new_lines`] was stored, and the fixture is as it was.
async fn assert_nothing_of_new_lines_stored(app: &crate::helpers::TestApp) {
    app.client()
        .log_in("CAF0000000101", "New-Key-101")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "bad_credentials", BAD_CREDENTIALS);
    let id = CustomerId::parse("CAF0000000101").expect("an ID");
    assert!(app.store.line(&id).expect("readable").is_none());
    let code = ProviderCode::parse("X0001").expect("a code");
    assert!(app.store.provider(&code).expect("readable").is_none());
    let a = app.line_a().await;
    assert_eq!(a.notified_codes().await, ["W0001", "W0002"]);
    assert_eq!(a.get("/api/providers").await.body["total"], 43);
}

#[tokio::test]
async fn a_file_is_imported_and_its_lines_can_log_in() {
    let app = spawn_app().await;

    let report = app.import(new_lines()).await.expect("imported");

    assert_eq!(
        report,
        ImportReport {
            providers: 1,
            lines: 2,
            settings: 2,
            notices: false,
            consent: false,
        }
    );
    let client = app.log_in("CAF0000000101", "New-Key-101").await;
    let line = client.get("/api/line").await;
    assert_eq!(
        line.body["services"],
        json!([{"name": "フレッツ光クロス", "status": "登録中"}])
    );
    assert_eq!(client.notified_codes().await, ["W0001", "X0001"]);
    // 45 providers and X0001, two of them notified.
    assert_eq!(client.get("/api/providers").await.body["total"], 44);
}

#[tokio::test]
async fn a_bad_customer_id_on_the_second_line_names_it_and_changes_nothing() {
    let app = spawn_app().await;
    let mut file = new_lines();
    file["lines"][1]["customer_id"] = json!("CAF01");

    let message = refusal(app.import(file).await);

    assert!(message.starts_with("lines[1].customer_id: "), "{message}");
    assert!(message.contains("フレッツナンバー"), "{message}");
    assert_nothing_of_new_lines_stored(&app).await;
}

#[tokio::test]
async fn a_notification_for_an_unknown_provider_names_it_and_changes_nothing() {
    let app = spawn_app().await;
    let mut file = new_lines();
    file["lines"][0]["notifications"][1]["provider"] = json!("Q0404");

    let message = refusal(app.import(file).await);

    assert_eq!(
        message,
        "lines[0] (CAF0000000101).notifications[1].provider: unknown provider Q0404"
    );
    assert_nothing_of_new_lines_stored(&app).await;
}

#[tokio::test]
async fn a_bad_date_or_empty_name_names_the_entry_and_field() {
    let app = spawn_app().await;

    let mut file = new_lines();
    file["lines"][0]["notifications"][0]["set_on"] = json!("2026-02-30");
    let message = refusal(app.import(file).await);
    assert!(
        message.starts_with("lines[0] (CAF0000000101).notifications[0].set_on: "),
        "{message}"
    );

    let mut file = new_lines();
    file["providers"][0]["name"] = json!("  ");
    let message = refusal(app.import(file).await);
    assert_eq!(message, "providers[0].name: must not be empty");

    assert_nothing_of_new_lines_stored(&app).await;
}

#[tokio::test]
async fn duplicate_customer_ids_are_refused_even_when_typed_differently() {
    let app = spawn_app().await;
    let mut file = new_lines();
    file["lines"][1]["customer_id"] = json!("ｃａｆ0000000101");

    let message = refusal(app.import(file).await);

    assert_eq!(
        message,
        "lines[1] (CAF0000000101).customer_id: line CAF0000000101 appears twice"
    );
    assert_nothing_of_new_lines_stored(&app).await;
}

#[tokio::test]
async fn importing_the_same_file_twice_changes_nothing_the_second_time() {
    let dir = tempfile::TempDir::new().expect("a folder");
    let app = spawn_app_on(dir.path(), |_| {}).await;

    let first = app.import(fixture()).await.expect("imported");
    let second = app.import(fixture()).await.expect("imported again");

    assert_eq!(
        first,
        ImportReport {
            providers: 45,
            lines: 2,
            settings: 4,
            notices: true,
            consent: true,
        }
    );
    assert_eq!(second, ImportReport::default());
    let client = app.log_in(LINE_A, KEY_A).await;
    assert_eq!(client.notified_codes().await, ["W0001", "W0002"]);
}

#[tokio::test]
async fn reimporting_does_not_undo_what_subscribers_changed_unless_the_file_says_so() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let id = client.submit_ok("notify", &["W0010"]).await;
    client.wait_until_completed(&id).await;

    let report = app.import(fixture()).await.expect("imported again");

    // The file says nothing about W0010: the subscriber's change stands.
    assert_eq!(report, ImportReport::default());
    assert_eq!(client.notified_codes().await, ["W0001", "W0002", "W0010"]);
}

#[tokio::test]
async fn a_changed_access_key_replaces_the_old_one() {
    let app = spawn_app().await;
    let mut file = fixture();
    file["lines"][0]["access_key"] = json!("Alpha-Key-NEW");

    let report = app.import(file).await.expect("imported");

    assert_eq!(report.lines, 1);
    app.client().log_in(LINE_A, KEY_A).await.assert_error(
        StatusCode::UNAUTHORIZED,
        "bad_credentials",
        BAD_CREDENTIALS,
    );
    app.log_in(LINE_A, "Alpha-Key-NEW").await;
}

#[tokio::test]
async fn an_access_key_hash_in_phc_form_is_taken_as_it_is() {
    let app = spawn_app().await;
    let key = AccessKey::parse("Migrated-Key-7").expect("a key");
    let phc = tokio::task::spawn_blocking(move || kaisen::password::hash(&key))
        .await
        .expect("no panic")
        .expect("hashed");

    let report = app
        .import(json!({"lines": [{"customer_id": "CAF0000000107", "access_key_hash": phc}]}))
        .await
        .expect("imported");

    assert_eq!(report.lines, 1);
    let stored = app
        .store
        .line(&CustomerId::parse("CAF0000000107").expect("an ID"))
        .expect("readable")
        .expect("stored");
    assert_eq!(stored.access_key_hash, phc);
    let client = app.log_in("CAF0000000107", "Migrated-Key-7").await;
    assert_eq!(
        client.get("/api/line").await.body["customer_id"],
        "CAF0000000107"
    );
    app.client()
        .log_in("CAF0000000107", "Migrated-Key-8")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "bad_credentials", BAD_CREDENTIALS);
}

#[tokio::test]
async fn an_access_key_hash_that_is_not_argon2_is_refused() {
    let app = spawn_app().await;

    for bad in [
        "not-a-hash",
        "$2b$12$abcdefghijklmnopqrstuuOKyJ1dnSDbaK.xW8yQz0eEjXlFZJdnu",
    ] {
        let message = refusal(
            app.import(
                json!({"lines": [{"customer_id": "CAF0000000108", "access_key_hash": bad}]}),
            )
            .await,
        );
        assert_eq!(
            message,
            "lines[0] (CAF0000000108).access_key_hash: is not an Argon2 PHC string"
        );
    }
}

#[tokio::test]
async fn a_line_needs_exactly_one_of_key_and_hash() {
    let app = spawn_app().await;

    let message = refusal(
        app.import(json!({"lines": [{"customer_id": "CAF0000000109"}]}))
            .await,
    );

    assert_eq!(
        message,
        "lines[0] (CAF0000000109): needs exactly one of access_key and access_key_hash"
    );
}

#[tokio::test]
async fn the_operator_import_command_loads_a_file_the_portal_then_serves() {
    let dir = tempfile::TempDir::new().expect("a folder");
    let file = dir.path().join("import.json");
    std::fs::write(&file, fixture().to_string()).expect("written");
    let db = dir.path().join("db");

    let printed = {
        let (file, db) = (file.clone(), db.clone());
        tokio::task::spawn_blocking(move || kaisen::operator::run_import(&file, &db))
            .await
            .expect("no panic")
            .expect("imported")
    };

    assert!(
        printed.ends_with(
            "45 providers, 2 lines, 4 settings written; notices replaced; consent replaced"
        ),
        "{printed}"
    );
    let app = spawn_app_on(&db, |_| {}).await;
    let client = app.log_in(LINE_A, KEY_A).await;
    assert_eq!(client.notified_codes().await, ["W0001", "W0002"]);
}

#[tokio::test]
async fn the_operator_import_command_refuses_a_bad_file_saying_nothing_was_written() {
    let dir = tempfile::TempDir::new().expect("a folder");
    let file = dir.path().join("import.json");
    let mut bad = fixture();
    bad["lines"][1]["notifications"][0]["setting"] = json!("sometimes");
    std::fs::write(&file, bad.to_string()).expect("written");
    let db = dir.path().join("db");

    let outcome = tokio::task::spawn_blocking(move || kaisen::operator::run_import(&file, &db))
        .await
        .expect("no panic");

    let message = outcome.expect_err("refused");
    assert!(
        message.starts_with(
            "import refused, nothing written: lines[1].notifications[0].setting: unknown variant"
        ),
        "{message}"
    );
    assert!(message.contains("unknown variant `sometimes`"), "{message}");
}
