//! The operator's `export` and `restore` (issue 3 point 6), through the
//! real operator functions on real database folders: a round trip is
//! byte-identical, the restored database serves, and a refused restore
//! (database not empty, file tampered with or truncated) writes nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::domain::ApplicationId;
use tempfile::TempDir;

use crate::helpers::{
    Client, KEY_A, KEY_B, LINE_A, LINE_B, NOTICES, WORK_TIMEOUT, fixture, open_store, rows,
    spawn_app_on,
};

/// Runs an operator function off the async workers. A server or operator
/// command that has just let go of a folder may hold sled's lock a moment
/// longer (its last handles are dropped on other threads), so "in use" is
/// retried for a few seconds, as an operator would simply run it again.
async fn operator(
    f: impl Fn() -> Result<String, String> + Send + 'static,
) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match f() {
                Err(e) if e.contains("in use") && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                outcome => return outcome,
            }
        }
    })
    .await
    .expect("the operator command does not panic")
}

/// `kaisen export <file> --db <db>`.
async fn export(db: &Path, file: &Path) -> Result<String, String> {
    let (db, file) = (db.to_path_buf(), file.to_path_buf());
    operator(move || kaisen::operator::run_export(&file, &db)).await
}

/// `kaisen restore <file> --db <db>`.
async fn restore(db: &Path, file: &Path) -> Result<String, String> {
    let (db, file) = (db.to_path_buf(), file.to_path_buf());
    operator(move || kaisen::operator::run_restore(&file, &db)).await
}

/// `kaisen import <file> --db <db>` with the fixture.
async fn import_fixture(db: &Path, scratch: &Path) {
    let file = scratch.join("fixture.json");
    std::fs::write(&file, fixture().to_string()).expect("written");
    let db = db.to_path_buf();
    operator(move || kaisen::operator::run_import(&file, &db))
        .await
        .expect("the fixture imports");
}

/// Which tree holds data in `db`, if any (waiting for the folder's lock).
async fn first_non_empty_tree(db: &Path) -> Option<&'static str> {
    let db = db.to_path_buf();
    tokio::task::spawn_blocking(move || open_store(&db).first_non_empty_tree())
        .await
        .expect("no panic")
}

/// A port on which nothing listens: a relay that is down.
fn closed_smtp_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    drop(listener);
    format!("smtp://127.0.0.1:{port}")
}

/// The applications of [`populated_database`], as their receipts were
/// just before the export.
struct Populated {
    /// Line A, completed, mail wished (still in the outbox: relay down).
    mailed: String,
    /// Line A, completed, no mail wished.
    unmailed: String,
    /// Line B, completed, mail wished (in the outbox).
    mailed_b: String,
    /// Line A, still being worked (due in an hour).
    pending_a: String,
    /// Line B, still being worked.
    pending_b: String,
    /// Every receipt above, by ID, as line A or B saw it.
    receipts: Vec<(String, &'static str, Value)>,
    /// Line A's history (S8).
    history_a: Value,
    /// Line A's notification settings (S2).
    notifications_a: Value,
    /// A client of line A whose session was live at export time.
    old_session: Client,
}

/// Polls a receipt until its state is `state`.
async fn wait_for_state(client: &Client, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + WORK_TIMEOUT;
    loop {
        let reply = client.get(&format!("/api/applications/{id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.body);
        if reply.body["state"] == state {
            return reply.body;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never {state}: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A database with something in every durable tree: the fixture (lines,
/// providers, settings, consent, notices), completed applications with and
/// without a mail (whose mails wait in the outbox, the relay being down),
/// applications still being worked (pending changes, queued work), their
/// idempotency keys and the day's sequence, and live sessions. Every server
/// on it is stopped when this returns.
async fn populated_database(db: &Path) -> Populated {
    let relay = closed_smtp_url();
    let first = spawn_app_on(db, |c| c.smtp_url = Some(relay.clone().into())).await;
    first.import(fixture()).await.expect("the fixture imports");
    let a = first.line_a().await;
    let b = first.line_b().await;
    let mailed = a.submit_ok("notify", &["W0010"]).await;
    let mut no_mail = a.draft("do_not_notify", &["W0001"]).await;
    no_mail["applicant"]["wants_mail"] = json!(false);
    let reply = a.submit_draft(&no_mail).await;
    assert_eq!(reply.status, StatusCode::CREATED, "body: {}", reply.body);
    let unmailed = reply.body["id"].as_str().expect("an ID").to_owned();
    let mailed_b = b.submit_ok("notify", &["W0020"]).await;
    a.wait_until_completed(&mailed).await;
    a.wait_until_completed(&unmailed).await;
    b.wait_until_completed(&mailed_b).await;
    // The relay refused: both mails wait, with a failed attempt recorded.
    let deadline = Instant::now() + WORK_TIMEOUT;
    loop {
        let outbox = first.store.outbox().expect("the outbox reads");
        if outbox.len() == 2 && outbox.iter().all(|(_, mail)| mail.attempts > 0) {
            break;
        }
        assert!(Instant::now() < deadline, "outbox: {outbox:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.stop();

    let second = spawn_app_on(db, move |c| {
        c.smtp_url = Some(relay.into());
        c.work_delay = Duration::from_secs(3600);
    })
    .await;
    let a = second.line_a().await;
    let b = second.line_b().await;
    let pending_a = a.submit_ok("notify", &["W0011", "W0012"]).await;
    let pending_b = b.submit_ok("do_not_notify", &["W0001"]).await;
    let mut receipts = Vec::new();
    for (id, line, client) in [(&pending_a, "A", &a), (&pending_b, "B", &b)] {
        // Once started, nothing changes for an hour.
        let receipt = wait_for_state(client, id, "in_progress").await;
        receipts.push((id.clone(), line, receipt));
    }
    for (id, line, client) in [
        (&mailed, "A", &a),
        (&unmailed, "A", &a),
        (&mailed_b, "B", &b),
    ] {
        let receipt = client.get(&format!("/api/applications/{id}")).await;
        assert_eq!(receipt.body["state"], "completed");
        receipts.push((id.clone(), line, receipt.body));
    }
    let history_a = a.get("/api/applications").await.body;
    let notifications_a = a.get("/api/notifications").await.body;
    second.stop();
    Populated {
        mailed,
        unmailed,
        mailed_b,
        pending_a,
        pending_b,
        receipts,
        history_a,
        notifications_a,
        old_session: a,
    }
}

/// The hex of an application's storage key (its number, big-endian).
fn key_hex(id: &str) -> String {
    let id = ApplicationId::parse(id).expect("an ID");
    hex::encode(id.to_u64().to_be_bytes())
}

/// The lines of an export, as JSON.
fn parsed_lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect()
}

/// The records of one tree.
fn in_tree<'a>(records: &'a [Value], tree: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["tree"] == tree).collect()
}

/// A folder for a test: `db` (the source), `restored`, and files.
struct Folders {
    _root: TempDir,
    db: PathBuf,
    restored: PathBuf,
    root: PathBuf,
}

fn folders() -> Folders {
    let root = TempDir::new().expect("a folder");
    let path = root.path().to_path_buf();
    Folders {
        db: path.join("db"),
        restored: path.join("restored"),
        root: path,
        _root: root,
    }
}

/// A small database (the fixture and one application) exported to a file.
async fn small_export(f: &Folders) -> Vec<u8> {
    let app = spawn_app_on(&f.db, |_| {}).await;
    app.import(fixture()).await.expect("the fixture imports");
    app.line_a().await.submit_ok("notify", &["W0010"]).await;
    app.stop();
    let file = f.root.join("small.jsonl");
    export(&f.db, &file).await.expect("exported");
    std::fs::read(&file).expect("readable")
}

#[tokio::test]
async fn export_then_restore_then_export_is_byte_identical() {
    let f = folders();
    let p = populated_database(&f.db).await;
    let first = f.root.join("first.jsonl");
    let second = f.root.join("second.jsonl");

    let printed = export(&f.db, &first).await.expect("exported");
    let restored = restore(&f.restored, &first).await.expect("restored");
    export(&f.restored, &second).await.expect("exported again");

    let bytes = std::fs::read(&first).expect("readable");
    assert_eq!(
        bytes,
        std::fs::read(&second).expect("readable"),
        "the round trip changed the export"
    );

    // The file: a header, one line per record, a count and a checksum.
    let lines = parsed_lines(&bytes);
    assert_eq!(
        lines[0],
        json!({"format": "kaisen-export", "version": 1}),
        "the header"
    );
    let records = &lines[1..lines.len() - 1];
    let trailer = &lines[lines.len() - 1];
    assert_eq!(trailer["count"], records.len());
    let before_trailer = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .expect("several lines")
        + 1;
    let sha256 = hex::encode(Sha256::digest(&bytes[..before_trailer]));
    assert_eq!(trailer["sha256"], sha256.as_str());
    assert!(
        printed.starts_with(&format!("exported {} records from ", records.len()))
            && printed.ends_with(&format!("(sha256 {sha256})")),
        "{printed}"
    );
    assert!(
        restored.starts_with(&format!("restored {} records from ", records.len())),
        "{restored}"
    );

    // Every durable tree is there; sessions are not.
    let trees: BTreeSet<&str> = records
        .iter()
        .map(|r| r["tree"].as_str().expect("a tree"))
        .collect();
    assert_eq!(
        trees.into_iter().collect::<Vec<_>>(),
        [
            "applications",
            "idempotency",
            "line_applications",
            "lines",
            "meta",
            "outbox",
            "pending",
            "providers",
            "settings",
            "work",
        ]
    );
    // Records go by tree, then key.
    let order: Vec<(String, String)> = records
        .iter()
        .map(|r| (r["tree"].to_string(), r["key"].to_string()))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(order, sorted);
    let in_tree = |tree: &str| in_tree(records, tree);

    // The applications, whole, as JSON.
    let applications = in_tree("applications");
    let ids: Vec<&str> = applications
        .iter()
        .map(|r| r["value"]["id"].as_str().expect("an ID"))
        .collect();
    let mut expected = vec![
        p.mailed.as_str(),
        p.unmailed.as_str(),
        p.mailed_b.as_str(),
        p.pending_a.as_str(),
        p.pending_b.as_str(),
    ];
    expected.sort();
    assert_eq!(ids, expected);
    for record in &applications {
        let id = record["value"]["id"].as_str().expect("an ID");
        assert_eq!(record["key"], key_hex(id).as_str());
        let state = &record["value"]["state"];
        if id == p.pending_a || id == p.pending_b {
            assert_eq!(state, "in_progress", "{record}");
        } else {
            assert_eq!(state, "completed", "{record}");
        }
    }
    // The two wished mails wait in the outbox, after a refused attempt.
    let outbox = in_tree("outbox");
    assert_eq!(
        outbox.iter().map(|r| r["key"].clone()).collect::<Vec<_>>(),
        [json!(key_hex(&p.mailed)), json!(key_hex(&p.mailed_b))]
    );
    assert!(
        outbox
            .iter()
            .all(|r| r["value"]["attempts"].as_u64() > Some(0)),
        "{outbox:?}"
    );
    // Pending changes point at their application; binary values are hex.
    let pending = in_tree("pending");
    assert_eq!(pending.len(), 3, "W0011 and W0012 of A, W0001 of B");
    let w0011_of_a = hex::encode(format!("{LINE_A}\0W0011"));
    assert!(
        pending
            .iter()
            .any(|r| r["key"] == w0011_of_a.as_str() && r["hex"] == key_hex(&p.pending_a).as_str()),
        "{pending:?}"
    );
    // Each application's completion step waits in the work queue.
    assert_eq!(in_tree("work").len(), 2);
    assert!(in_tree("work").iter().all(|r| r["hex"] == "01"));
    assert_eq!(in_tree("idempotency").len(), 5);
    assert_eq!(in_tree("line_applications").len(), 5);
    assert!(in_tree("line_applications").iter().all(|r| r["hex"] == ""));
    // meta: the consent, the notices and the day's sequence (5, as a u32).
    let meta = in_tree("meta");
    let meta_keys: Vec<String> = meta
        .iter()
        .map(|r| {
            String::from_utf8(hex::decode(r["key"].as_str().expect("hex")).expect("hex"))
                .expect("UTF-8")
        })
        .collect();
    assert_eq!(meta_keys[..2], ["consent", "notices"]);
    assert_eq!(meta[1]["value"], json!(NOTICES));
    assert_eq!(meta[0]["value"]["version"], "2026-04");
    assert!(meta_keys[2].starts_with("seq/"), "{meta_keys:?}");
    assert_eq!(meta[2]["hex"], "00000005");
    assert_eq!(in_tree("lines").len(), 2);
    assert_eq!(in_tree("providers").len(), crate::helpers::PROVIDERS);
    assert!(!String::from_utf8_lossy(&bytes).contains(KEY_A));
}

#[tokio::test]
async fn a_restored_database_serves_the_original_keys_and_receipts() {
    let f = folders();
    let p = populated_database(&f.db).await;
    let file = f.root.join("export.jsonl");
    export(&f.db, &file).await.expect("exported");
    restore(&f.restored, &file).await.expect("restored");

    let app = spawn_app_on(&f.restored, |c| c.work_delay = Duration::from_secs(3600)).await;

    // Sessions were not exported: the old one is not let in.
    let old = p
        .old_session
        .http
        .get(app.url("/api/line"))
        .send()
        .await
        .expect("sent");
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    // The original keys log in; every receipt is as it was.
    let a = app.log_in(LINE_A, KEY_A).await;
    let b = app.log_in(LINE_B, KEY_B).await;
    for (id, line, receipt) in &p.receipts {
        let client = if *line == "A" { &a } else { &b };
        let reply = client.get(&format!("/api/applications/{id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{id}: {}", reply.body);
        assert_eq!(&reply.body, receipt, "{id}");
    }
    assert_eq!(a.get("/api/applications").await.body, p.history_a);
    assert_eq!(a.get("/api/notifications").await.body, p.notifications_a);
    assert_eq!(
        a.get("/api/line").await.body["notification_status"],
        "変更中"
    );
    // What was pending still is: the same provider cannot be applied for.
    assert_eq!(
        a.submit("notify", &["W0011"]).await.status,
        StatusCode::CONFLICT
    );
    // The day's sequence was restored: the next ID follows on, none reused.
    let next = a.submit_ok("notify", &["W0013"]).await;
    let last = p
        .receipts
        .iter()
        .map(|(id, _, _)| id.clone())
        .max()
        .expect("IDs");
    assert!(next > last, "{next} after {last}");
    if next[..8] == last[..8] {
        let seq = |id: &str| id[8..15].parse::<u32>().expect("digits");
        assert_eq!(seq(&next), seq(&last) + 1, "{next} after {last}");
    }
    // The unmailed application left nothing in the outbox; the two mails
    // still wait, their attempts kept.
    let outbox: Vec<String> = app
        .store
        .outbox()
        .expect("the outbox reads")
        .into_iter()
        .map(|(id, _)| id.to_string())
        .collect();
    assert_eq!(outbox, [p.mailed.clone(), p.mailed_b.clone()]);
    assert!(!outbox.contains(&p.unmailed));
    assert_eq!(rows(&b.get("/api/applications").await.body).len(), 2);
}

#[tokio::test]
async fn restore_into_a_database_that_holds_data_is_refused_and_changes_nothing() {
    let f = folders();
    let file = f.root.join("small.jsonl");
    std::fs::write(&file, small_export(&f).await).expect("written");
    import_fixture(&f.restored, &f.root).await;
    let before = f.root.join("before.jsonl");
    export(&f.restored, &before).await.expect("exported");

    let refused = restore(&f.restored, &file).await.expect_err("refused");

    assert_eq!(
        refused,
        format!(
            "restore refused, nothing written: {}: the database is not empty (tree lines has records); restore only loads into an empty database",
            file.display()
        )
    );
    let after = f.root.join("after.jsonl");
    export(&f.restored, &after).await.expect("exported");
    assert_eq!(
        std::fs::read(&before).expect("readable"),
        std::fs::read(&after).expect("readable")
    );
}

#[tokio::test]
async fn a_tampered_line_fails_the_checksum_and_nothing_is_written() {
    let f = folders();
    let mut bytes = small_export(&f).await;
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    // One byte of the applicant's address, inside a stored JSON string: the
    // line still parses and decodes; only the checksum can tell.
    let at = bytes
        .windows(5)
        .position(|w| w == b"taro@")
        .expect("the applicant's address is exported");
    bytes[at] = b'u';
    let file = f.root.join("tampered.jsonl");
    std::fs::write(&file, &bytes).expect("written");

    let refused = restore(&f.restored, &file).await.expect_err("refused");

    assert!(
        refused.starts_with(&format!(
            "restore refused, nothing written: {}: line {lines}: checksum mismatch",
            file.display()
        )),
        "{refused}"
    );
    assert_eq!(first_non_empty_tree(&f.restored).await, None);
}

#[tokio::test]
async fn a_truncated_export_is_refused_naming_the_line_and_nothing_is_written() {
    let f = folders();
    let bytes = small_export(&f).await;
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect();

    // Cut in the middle of a record line (the 10th), and just before the
    // closing line.
    let mid_line = line_starts[9] + 20;
    let without_trailer = line_starts[lines - 1];
    for (cut, expected) in [
        (
            mid_line,
            "the file ends after line 10 without its closing count and checksum line (truncated?)"
                .to_owned(),
        ),
        (
            without_trailer,
            format!(
                "the file ends after line {} without its closing count and checksum line (truncated?)",
                lines - 1
            ),
        ),
    ] {
        let file = f.root.join(format!("cut-{cut}.jsonl"));
        std::fs::write(&file, &bytes[..cut]).expect("written");

        let refused = restore(&f.restored, &file).await.expect_err("refused");

        assert_eq!(
            refused,
            format!(
                "restore refused, nothing written: {}: {expected}",
                file.display()
            )
        );
        assert_eq!(first_non_empty_tree(&f.restored).await, None);
    }
    // A record line dropped whole: the count says so, on the closing line.
    let mut dropped = bytes[..line_starts[4]].to_vec();
    dropped.extend_from_slice(&bytes[line_starts[5]..]);
    let file = f.root.join("dropped.jsonl");
    std::fs::write(&file, &dropped).expect("written");
    let refused = restore(&f.restored, &file).await.expect_err("refused");
    assert!(
        refused.contains(&format!(
            "line {}: the file says {} records, it holds {}",
            lines - 1,
            lines - 2,
            lines - 3
        )),
        "{refused}"
    );
    assert_eq!(first_non_empty_tree(&f.restored).await, None);
}

#[tokio::test]
async fn an_export_of_another_format_or_version_or_a_broken_line_is_refused_naming_the_line() {
    let f = folders();
    let bytes = small_export(&f).await;
    let text = String::from_utf8(bytes).expect("UTF-8");
    let header = r#"{"format":"kaisen-export","version":1}"#;
    assert!(text.starts_with(header), "{text:.80}");

    for (variant, expected) in [
        (
            text.replacen(header, r#"{"format":"kaisen-export","version":2}"#, 1),
            "line 1: version 2 is not supported (this kaisen reads version 1)",
        ),
        (
            text.replacen(header, r#"{"format":"other","version":1}"#, 1),
            r#"line 1: format is "other", expected "kaisen-export""#,
        ),
        (
            text.replacen(r#""tree":"lines""#, r#""tree":"linez""#, 1),
            r#"unknown tree "linez""#,
        ),
        (String::new(), "line 1: the file is empty"),
    ] {
        let file = f.root.join("variant.jsonl");
        std::fs::write(&file, &variant).expect("written");
        let refused = restore(&f.restored, &file).await.expect_err("refused");
        assert!(
            refused.starts_with("restore refused, nothing written: ") && refused.contains(expected),
            "{refused}"
        );
        assert_eq!(first_non_empty_tree(&f.restored).await, None);
    }
}

#[tokio::test]
async fn export_never_overwrites_a_file_and_refuses_a_database_a_server_holds() {
    let f = folders();
    let bytes = small_export(&f).await;
    let existing = f.root.join("small.jsonl");

    let refused = export(&f.db, &existing).await.expect_err("refused");
    assert!(refused.contains("already exists"), "{refused}");
    assert_eq!(std::fs::read(&existing).expect("readable"), bytes);

    // A running server holds the database: export says so at once.
    let app = spawn_app_on(&f.db, |_| {}).await;
    let (db, file) = (f.db.clone(), f.root.join("live.jsonl"));
    let refused = tokio::task::spawn_blocking(move || kaisen::operator::run_export(&file, &db))
        .await
        .expect("no panic")
        .expect_err("refused");
    assert!(
        refused.contains("in use by another kaisen process"),
        "{refused}"
    );
    assert!(!f.root.join("live.jsonl").exists());
    assert!(!f.root.join("live.jsonl.partial").exists());
    app.stop();
}
