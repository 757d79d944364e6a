//! The operator's `export` and `restore` (issue 3 point 6), through the
//! real operator functions on real database folders: a round trip is
//! byte-identical, the restored database serves, and a refused restore
//! (database not empty, file tampered with or truncated) writes nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::helpers::{
    Client, KEY_A, KEY_B, LINE_A, LINE_B, NOTICES, TestDatabase, WORK_TIMEOUT, fixture, open_store,
    rows, spawn_app_on,
};

/// Runs an operator command. A server or operator command that has just
/// let go of a folder may hold sled's lock a moment longer (its last
/// handles are dropped on other threads), so "in use" is retried for a few
/// seconds, as an operator would simply run it again.
async fn operator(f: impl AsyncFn() -> Result<String, String>) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match f().await {
            Err(e) if e.contains("in use") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            outcome => return outcome,
        }
    }
}

/// `kaisen export <file> --db <db>` (or `--database <url>`).
async fn export(db: &TestDatabase, file: &Path) -> Result<String, String> {
    let database = db.database();
    operator(async || kaisen::operator::run_export(file, &database).await).await
}

/// `kaisen restore <file> --db <db>` (or `--database <url>`).
async fn restore(db: &TestDatabase, file: &Path) -> Result<String, String> {
    let database = db.database();
    operator(async || kaisen::operator::run_restore(file, &database).await).await
}

/// `kaisen import <file> --db <db>` with the fixture.
async fn import_fixture(db: &TestDatabase, scratch: &Path) {
    let file = scratch.join("fixture.json");
    std::fs::write(&file, fixture().to_string()).expect("written");
    let database = db.database();
    operator(async || kaisen::operator::run_import(&file, &database).await)
        .await
        .expect("the fixture imports");
}

/// What `db` holds, if anything (waiting for the folder's lock).
async fn holds_data(db: &TestDatabase) -> Option<&'static str> {
    open_store(db)
        .await
        .holds_data()
        .await
        .expect("the database reads")
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
async fn populated_database(db: &TestDatabase) -> Populated {
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
        let outbox = first.store.outbox().await.expect("the outbox reads");
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

/// The lines of an export, as JSON.
fn parsed_lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect()
}

/// A record's kind: its one key.
fn kind(record: &Value) -> &str {
    let object = record.as_object().expect("a record is an object");
    assert_eq!(object.len(), 1, "{record}");
    object.keys().next().expect("one key")
}

/// The records of one kind, unwrapped.
fn of_kind<'a>(records: &'a [Value], kind_: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| kind(r) == kind_)
        .map(|r| &r[kind_])
        .collect()
}

/// What a test needs: `db` (the source), `restored`, and a folder for
/// files.
struct Folders {
    _root: TempDir,
    db: TestDatabase,
    restored: TestDatabase,
    root: PathBuf,
}

async fn folders() -> Folders {
    let root = TempDir::new().expect("a folder");
    Folders {
        db: TestDatabase::new().await,
        restored: TestDatabase::new().await,
        root: root.path().to_path_buf(),
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
    let f = folders().await;
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
        json!({"format": "kaisen-export", "version": 2}),
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

    // Every kind of record is there, in the format's order; sessions,
    // pending changes and queued work are not (they follow from the rest).
    let mut kinds: Vec<&str> = records.iter().map(kind).collect();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "consent",
            "notices",
            "provider",
            "line",
            "setting",
            "sequence",
            "application",
            "outbox"
        ]
    );
    // Within a kind, records go by key.
    let keys = |kind_: &str, key: &dyn Fn(&Value) -> String| {
        let keys: Vec<String> = of_kind(records, kind_).into_iter().map(key).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(keys, sorted, "{kind_} records out of order");
    };
    keys("provider", &|r| r["code"].to_string());
    keys("line", &|r| r["customer_id"].to_string());
    keys("setting", &|r| {
        format!("{}{}", r["customer_id"], r["provider"])
    });
    keys("application", &|r| r["id"].to_string());

    // The applications, whole.
    let applications = of_kind(records, "application");
    let ids: Vec<&str> = applications
        .iter()
        .map(|r| r["id"].as_str().expect("an ID"))
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
        let id = record["id"].as_str().expect("an ID");
        let state = &record["state"];
        if id == p.pending_a || id == p.pending_b {
            assert_eq!(state, "in_progress", "{record}");
        } else {
            assert_eq!(state, "completed", "{record}");
        }
        assert!(
            record["idempotency_key"]
                .as_str()
                .is_some_and(|k| !k.is_empty())
        );
    }
    // The two wished mails wait in the outbox, after a refused attempt.
    let outbox = of_kind(records, "outbox");
    assert_eq!(
        outbox
            .iter()
            .map(|r| r["application_id"].clone())
            .collect::<Vec<_>>(),
        [json!(p.mailed), json!(p.mailed_b)]
    );
    assert!(
        outbox.iter().all(|r| r["attempts"].as_u64() > Some(0)),
        "{outbox:?}"
    );
    // The consent, the notices and the day's last sequence number in use:
    // 5 on sled; with PostgreSQL, two portals drew blocks, so the highest
    // of the IDs.
    assert_eq!(of_kind(records, "consent")[0]["version"], "2026-04");
    assert_eq!(*of_kind(records, "notices")[0], json!(NOTICES));
    let sequences = of_kind(records, "sequence");
    assert_eq!(sequences.len(), 1, "{sequences:?}");
    let highest = ids
        .iter()
        .map(|id| id[8..15].parse::<u64>().expect("digits"))
        .max();
    assert_eq!(sequences[0]["last"].as_u64(), highest);
    if f.db.folder().is_some() {
        assert_eq!(highest, Some(5));
    }
    // The day of the IDs (YYYYMMDD) as YYYY-MM-DD.
    let id = ids[0];
    let day = format!("{}-{}-{}", &id[..4], &id[4..6], &id[6..8]);
    assert_eq!(sequences[0]["day"], day);
    assert_eq!(of_kind(records, "line").len(), 2);
    assert_eq!(
        of_kind(records, "provider").len(),
        crate::helpers::PROVIDERS
    );
    assert!(!String::from_utf8_lossy(&bytes).contains(KEY_A));
}

#[tokio::test]
async fn a_restored_database_serves_the_original_keys_and_receipts() {
    let f = folders().await;
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
        .await
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
    let f = folders().await;
    let file = f.root.join("small.jsonl");
    std::fs::write(&file, small_export(&f).await).expect("written");
    import_fixture(&f.restored, &f.root).await;
    let before = f.root.join("before.jsonl");
    export(&f.restored, &before).await.expect("exported");

    let refused = restore(&f.restored, &file).await.expect_err("refused");

    assert_eq!(
        refused,
        format!(
            "restore refused, nothing written: {}: the database is not empty (it holds lines); restore only loads into an empty database",
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
    let f = folders().await;
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
    assert_eq!(holds_data(&f.restored).await, None);
}

#[tokio::test]
async fn a_truncated_export_is_refused_naming_the_line_and_nothing_is_written() {
    let f = folders().await;
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
        assert_eq!(holds_data(&f.restored).await, None);
    }
    // A record line dropped whole (the notices, which nothing refers to):
    // the count says so, on the closing line.
    assert!(bytes[line_starts[2]..].starts_with(b"{\"notices\":"));
    let mut dropped = bytes[..line_starts[2]].to_vec();
    dropped.extend_from_slice(&bytes[line_starts[3]..]);
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
    assert_eq!(holds_data(&f.restored).await, None);
}

#[tokio::test]
async fn an_export_of_another_format_or_version_or_a_broken_line_is_refused_naming_the_line() {
    let f = folders().await;
    let bytes = small_export(&f).await;
    let text = String::from_utf8(bytes).expect("UTF-8");
    let header = r#"{"format":"kaisen-export","version":2}"#;
    assert!(text.starts_with(header), "{text:.80}");

    for (variant, expected) in [
        (
            text.replacen(header, r#"{"format":"kaisen-export","version":1}"#, 1),
            "line 1: version 1 is not supported (this kaisen reads version 2; to move a version 1 export",
        ),
        (
            text.replacen(header, r#"{"format":"other","version":2}"#, 1),
            r#"line 1: format is "other", expected "kaisen-export""#,
        ),
        (
            text.replacen(r#"{"line":"#, r#"{"linez":"#, 1),
            "unknown variant `linez`",
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
        assert_eq!(holds_data(&f.restored).await, None);
    }
}

#[tokio::test]
async fn export_never_overwrites_a_file_and_refuses_a_database_a_server_holds() {
    let f = folders().await;
    let bytes = small_export(&f).await;
    let existing = f.root.join("small.jsonl");

    let refused = export(&f.db, &existing).await.expect_err("refused");
    assert!(refused.contains("already exists"), "{refused}");
    assert_eq!(std::fs::read(&existing).expect("readable"), bytes);

    // A running server holds a sled folder: export says so at once. With
    // PostgreSQL it exports while the portal serves.
    let app = spawn_app_on(&f.db, |_| {}).await;
    let file = f.root.join("live.jsonl");
    let exported = kaisen::operator::run_export(&file, &f.db.database()).await;
    if f.db.folder().is_some() {
        let refused = exported.expect_err("refused");
        assert!(
            refused.contains("in use by another kaisen process"),
            "{refused}"
        );
        assert!(!f.root.join("live.jsonl").exists());
    } else {
        exported.expect("exported while serving");
        let written = std::fs::read(&file).expect("written");
        assert!(written.starts_with(br#"{"format":"kaisen-export","version":2}"#));
    }
    assert!(!f.root.join("live.jsonl.partial").exists());
    app.stop();
}
