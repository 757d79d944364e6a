//! The operator's import (SPEC §5), through the real import path, seen
//! from the portal: a bad file changes nothing; a file imported twice
//! changes nothing the second time; a file is streamed in two passes and
//! written in chunks, and an import that did not finish stops `serve`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kaisen::import::{CHUNK, ImportError, Imported};
use kaisen::startup::Server;
use kaisen::store::{ImportReport, Store};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::domain::{AccessKey, CustomerId, ProviderCode, Setting};
use tempfile::TempDir;

use crate::helpers::{
    BAD_CREDENTIALS, KEY_A, LINE_A, TestDatabase, fixture, open_store, spawn_app, spawn_app_on,
    test_config,
};

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
    assert!(app.store.line(&id).await.expect("readable").is_none());
    let code = ProviderCode::parse("X0001").expect("a code");
    assert!(app.store.provider(&code).await.expect("readable").is_none());
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
            prefixes: 0,
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
    let db = TestDatabase::new().await;
    let app = spawn_app_on(&db, |_| {}).await;

    let first = app.import(fixture()).await.expect("imported");
    let second = app.import(fixture()).await.expect("imported again");

    assert_eq!(
        first,
        ImportReport {
            providers: 45,
            lines: 2,
            settings: 4,
            prefixes: 0,
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
        .await
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
    let db = TestDatabase::new().await;

    let printed = kaisen::operator::run_import(&file, &db.database())
        .await
        .expect("imported");

    let (counts, speed) = printed.split_once('\n').expect("two lines");
    assert!(
        counts.ends_with(
            "45 providers, 2 lines, 4 settings, 0 prefixes written; notices replaced; consent replaced"
        ),
        "{printed}"
    );
    assert!(
        speed.starts_with("2 lines in ") && speed.ends_with(" lines/s"),
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
    let db = TestDatabase::new().await;

    let outcome = kaisen::operator::run_import(&file, &db.database()).await;

    let message = outcome.expect_err("refused");
    assert!(
        message.starts_with(
            "import refused, nothing written: lines[1].notifications[0].setting: unknown variant"
        ),
        "{message}"
    );
    assert!(message.contains("unknown variant `sometimes`"), "{message}");
}

/// Writes an import file whose top-level keys come in the order given.
fn write_in_order(dir: &Path, parts: &[(&str, &Value)]) -> PathBuf {
    let body: Vec<String> = parts
        .iter()
        .map(|(key, value)| format!("{}: {value}", json!(key)))
        .collect();
    let path = dir.join("import.json");
    std::fs::write(&path, format!("{{{}}}", body.join(",\n"))).expect("written");
    path
}

/// Streams the file at `path` into `store`, `chunk` lines at a time.
async fn import_path(store: &Store, path: &Path, chunk: usize) -> Result<Imported, ImportError> {
    kaisen::import::import_path_in_chunks(store, path, chunk).await
}

/// The message of a file at `path` refused by a chunked import.
async fn file_refusal(store: &Store, path: &Path) -> String {
    refusal(import_path(store, path, CHUNK).await.map(|i| i.report))
}

#[tokio::test]
async fn providers_listed_after_the_lines_that_name_them_are_known_to_them() {
    let app = spawn_app().await;
    let dir = TempDir::new().expect("a folder");
    let file = new_lines();
    let path = write_in_order(
        dir.path(),
        &[("lines", &file["lines"]), ("providers", &file["providers"])],
    );

    let imported = import_path(&app.store, &path, CHUNK)
        .await
        .expect("imported");

    assert_eq!(
        imported.report,
        ImportReport {
            providers: 1,
            lines: 2,
            settings: 2,
            prefixes: 0,
            notices: false,
            consent: false,
        }
    );
    assert_eq!((imported.lines, imported.chunks), (2, 1));
    let client = app.log_in("CAF0000000101", "New-Key-101").await;
    assert_eq!(client.notified_codes().await, ["W0001", "X0001"]);
}

#[tokio::test]
async fn an_unknown_provider_seen_only_at_the_end_is_named_by_the_first_line_naming_it() {
    let app = spawn_app().await;
    let dir = TempDir::new().expect("a folder");
    let mut file = new_lines();
    let notify = |code: &str| json!([{"provider": code, "setting": "notify", "set_on": "2026-01-05", "method": "初期設定"}]);
    // lines[0] names X0001 before `providers` lists it; Q0404 (lines[1]) and
    // Q0403 (lines[2]) are listed nowhere.
    file["lines"][1]["notifications"] = notify("Q0404");
    let third = json!({"customer_id": "CAF0000000103", "access_key": "New-Key-103", "notifications": notify("Q0403")});
    file["lines"].as_array_mut().expect("a list").push(third);
    let path = write_in_order(
        dir.path(),
        &[("lines", &file["lines"]), ("providers", &file["providers"])],
    );

    let message = file_refusal(&app.store, &path).await;

    assert_eq!(
        message,
        "lines[1] (CAF0000000102).notifications[0].provider: unknown provider Q0404"
    );
    assert_nothing_of_new_lines_stored(&app).await;
    assert_eq!(app.store.unfinished_import().await.expect("readable"), None);
}

#[tokio::test]
async fn a_customer_id_given_twice_in_a_streamed_file_names_the_line_that_repeats_it() {
    let app = spawn_app().await;
    let dir = TempDir::new().expect("a folder");
    let mut file = new_lines();
    let again = json!({"customer_id": "caf0000000101", "access_key": "New-Key-103"});
    file["lines"].as_array_mut().expect("a list").push(again);
    let path = write_in_order(
        dir.path(),
        &[("providers", &file["providers"]), ("lines", &file["lines"])],
    );

    let message = file_refusal(&app.store, &path).await;

    assert_eq!(
        message,
        "lines[2] (CAF0000000101).customer_id: line CAF0000000101 appears twice"
    );
    assert_nothing_of_new_lines_stored(&app).await;
}

#[tokio::test]
async fn thousands_of_lines_are_written_in_chunks_and_every_one_can_be_read() {
    let app = spawn_app().await;
    let dir = TempDir::new().expect("a folder");
    let key = AccessKey::parse("Bulk-Key-0001").expect("a key");
    let phc = tokio::task::spawn_blocking(move || kaisen::password::hash(&key))
        .await
        .expect("no panic")
        .expect("hashed");
    let id = |n: u64| format!("CAF{:010}", 5_000_000 + n);
    let setting = |n: u64| {
        if n.is_multiple_of(2) {
            "notify"
        } else {
            "do_not_notify"
        }
    };
    let lines: Vec<Value> = (0..2_500)
        .map(|n| {
            json!({
                "customer_id": id(n),
                "access_key_hash": phc,
                "services": [{"name": "フレッツ光クロス", "status": "利用中"}],
                "notifications": [
                    {"provider": "W0001", "setting": setting(n), "set_on": "2026-01-05", "method": "初期設定"},
                ],
            })
        })
        .collect();
    let path = write_in_order(dir.path(), &[("lines", &Value::Array(lines))]);

    let imported = import_path(&app.store, &path, 1_000)
        .await
        .expect("imported");

    assert_eq!((imported.lines, imported.chunks), (2_500, 3));
    assert_eq!(
        imported.report,
        ImportReport {
            providers: 0,
            lines: 2_500,
            settings: 2_500,
            prefixes: 0,
            notices: false,
            consent: false,
        }
    );
    let store = app.store.clone();
    let (ids, phc_read) = (id, phc.clone());
    {
        let w0001 = ProviderCode::parse("W0001").expect("a code");
        for n in 0..2_500 {
            let line_id = CustomerId::parse(&ids(n)).expect("an ID");
            let line = store
                .line(&line_id)
                .await
                .expect("readable")
                .expect("stored");
            assert_eq!(line.access_key_hash, phc_read, "line {line_id}");
            let settings = store.line_settings(&line_id).await.expect("readable");
            let stored = settings
                .settings
                .iter()
                .find(|(code, _)| *code == w0001)
                .map(|(_, s)| s)
                .expect("stored");
            let expected = if n.is_multiple_of(2) {
                Setting::Notify
            } else {
                Setting::DoNotNotify
            };
            assert_eq!(stored.setting, expected, "line {line_id}");
        }
    }
    let client = app.log_in(&id(1_234), "Bulk-Key-0001").await;
    assert_eq!(client.notified_codes().await, ["W0001"]);

    // A second import compares every record with the stored one, and
    // writes nothing.
    let again = import_path(&app.store, &path, 1_000)
        .await
        .expect("imported again");
    assert_eq!(again.report, ImportReport::default());
}

/// Calls `attempt` until the database is no longer held by a store just
/// dropped (sled lets go of its folder a moment later).
async fn while_in_use<T, E: ToString>(
    mut attempt: impl AsyncFnMut() -> Result<T, E>,
) -> Result<T, E> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match attempt().await {
            Err(e) if e.to_string().contains("in use") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            outcome => return outcome,
        }
    }
}

#[tokio::test]
async fn an_unfinished_import_stops_serve_until_an_import_runs_to_its_end() {
    let dir = TempDir::new().expect("a folder");
    let db = TestDatabase::new().await;
    let name = "/srv/kaisen/lines.json";
    {
        let store = open_store(&db).await;
        // As if the import crashed while writing its lines.
        store.begin_import(name).await.expect("begun");
        assert_eq!(
            store
                .unfinished_import()
                .await
                .expect("readable")
                .as_deref(),
            Some(name)
        );
    }

    let refused = while_in_use(async || Server::build(test_config(&db, dir.path())).await).await;

    let message = refused.err().expect("serve refuses to start").to_string();
    assert_eq!(
        message,
        format!(
            "the import of {name} into {db} did not finish, so the database holds only part of it; \
             run `kaisen import {name} {flag}` again (any import that runs to its end clears this)",
            db = db.location,
            flag = db.location.flag(),
        )
    );

    let file = dir.path().join("import.json");
    std::fs::write(&file, fixture().to_string()).expect("written");
    let database = db.database();
    let imported =
        while_in_use(async || kaisen::operator::run_import(&file, &database).await).await;
    imported.expect("imported");
    let app = spawn_app_on(&db, |_| {}).await;
    assert_eq!(app.store.unfinished_import().await.expect("readable"), None);
    app.log_in(LINE_A, KEY_A).await;
}
