//! Export and restore: every durable tree as versioned, checksummed JSON
//! Lines, so that an operator can keep a backup outside sled and load it
//! into an empty database (issue 3 point 6).
//!
//! # Format (version 1)
//!
//! ```text
//! {"format":"kaisen-export","version":1}
//! {"tree":"applications","key":"<hex>","value":<the stored JSON, verbatim>}
//! {"tree":"idempotency","key":"<hex>","hex":"<hex of the stored bytes>"}
//! …
//! {"count":N,"sha256":"<hex>"}
//! ```
//!
//! - Line 1 is the header. Then one line per record, ordered by tree name
//!   and, within a tree, by key bytes (sled's order): the same database
//!   always gives the same bytes.
//! - `key` is the hex of the key bytes. A value stored as JSON (lines,
//!   providers, settings, applications, outbox, and `meta` except its
//!   `seq/…` counters) is written verbatim under `value`, so that a restore
//!   stores the very same bytes; a binary value (the big-endian IDs of
//!   line_applications, pending, idempotency; the work queue's step byte;
//!   the u32 day counters `meta seq/YYYYMMDD`) is written as hex under
//!   `hex`. Which of the two a record uses is fixed by its tree and key.
//! - The last line holds the number of record lines and the SHA-256 of
//!   every byte before it (the header and the records, each with its `\n`).
//! - Sessions are not exported: a restored portal asks everyone to log in.
//!
//! Export streams the trees line by line. Restore reads the file twice:
//! the first pass checks everything (header, every line, order, each
//! value's shape, count, checksum) and writes nothing; the second pass
//! writes the records in batches of [`BATCH`] per tree, then syncs. Restore
//! only loads into an empty database, so a batch never overwrites anything;
//! should the file change between the two passes, the trees are emptied
//! again and the restore fails. A crash during the second pass can leave a
//! partly restored database: delete the folder and restore again.

use std::io::{BufRead, Seek, SeekFrom, Write};

use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::{
    ApplicationRecord, ConsentRecord, LineRecord, OutboxRecord, ProviderRecord, SettingRecord,
    Store, StoreError,
};

/// The header's `format`.
pub const EXPORT_FORMAT: &str = "kaisen-export";
/// The format version written, and the only one read.
pub const EXPORT_VERSION: u32 = 1;
/// Records written per sled batch on restore.
const BATCH: usize = 10_000;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Record lines (header and closing line not counted).
    pub records: u64,
    /// The SHA-256 in the closing line, hex.
    pub sha256: String,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the database failed, or a stored record is corrupt.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the file failed.
    #[error("write: {0}")]
    Write(#[from] std::io::Error),
}

/// Why a restore failed. Every variant but [`RestoreError::Store`] (and a
/// failure after the file was checked) means nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The database already holds data.
    #[error(
        "the database is not empty (tree {0} has records); restore only loads into an empty database"
    )]
    NotEmpty(&'static str),
    /// A line of the file is wrong: the line number (from 1) and why.
    #[error("line {line}: {detail}")]
    Line {
        /// The line number, counting the header as line 1.
        line: u64,
        /// What is wrong with it.
        detail: String,
    },
    /// The file ends before its closing line.
    #[error(
        "the file ends after line {lines} without its closing count and checksum line (truncated?)"
    )]
    Truncated {
        /// How many lines it has.
        lines: u64,
    },
    /// The file changed while it was being restored; the trees were emptied.
    #[error("the file changed while it was being restored; the database was emptied again: {0}")]
    Changed(String),
    /// Reading the file failed.
    #[error("read: {0}")]
    Read(#[from] std::io::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a restore loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSummary {
    /// Records written.
    pub records: u64,
    /// The file's SHA-256, hex.
    pub sha256: String,
}

/// How a tree's value is written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueForm {
    /// Verbatim JSON under `value`.
    Json,
    /// Hex under `hex`.
    Bytes,
}

/// The durable trees in export order (by name), with the position of each
/// in [`Store::durable_trees`].
const TREES: [&str; 10] = [
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
];

/// How the value of `key` in `tree` is written.
fn form_of(tree: &str, key: &[u8]) -> ValueForm {
    match tree {
        "applications" | "lines" | "outbox" | "providers" | "settings" => ValueForm::Json,
        "meta" if !key.starts_with(b"seq/") => ValueForm::Json,
        _ => ValueForm::Bytes,
    }
}

/// Checks that a record has the shape its tree documents (see the fields
/// of [`Store`]); the same check runs on export and on restore.
fn check_record(tree: &str, key: &[u8], value: &[u8]) -> Result<(), String> {
    fn json<T: serde::de::DeserializeOwned>(value: &[u8]) -> Result<(), String> {
        serde_json::from_slice::<T>(value)
            .map(|_| ())
            .map_err(|e| format!("value does not decode: {e}"))
    }
    fn len(what: &str, bytes: &[u8], expected: usize) -> Result<(), String> {
        if bytes.len() == expected {
            Ok(())
        } else {
            Err(format!(
                "{what} has {} bytes, expected {expected}",
                bytes.len()
            ))
        }
    }
    match tree {
        "applications" => {
            len("key", key, 8)?;
            json::<ApplicationRecord>(value)
        }
        "outbox" => {
            len("key", key, 8)?;
            json::<OutboxRecord>(value)
        }
        "lines" => json::<LineRecord>(value),
        "providers" => json::<ProviderRecord>(value),
        "settings" => json::<SettingRecord>(value),
        "line_applications" => len("value", value, 0),
        "pending" | "idempotency" => len("value", value, 8),
        "work" => {
            len("key", key, 16)?;
            match value {
                [0 | 1] => Ok(()),
                _ => Err("value is not a work step (00 or 01)".into()),
            }
        }
        "meta" => match key {
            b"consent" => json::<ConsentRecord>(value),
            b"notices" => json::<Vec<String>>(value),
            k if k.starts_with(b"seq/") => len("value", value, 4),
            _ => json::<serde::de::IgnoredAny>(value),
        },
        other => Err(format!("unknown tree {other}")),
    }
}

/// Buffers one line at a time and feeds it to the checksum.
struct LineWriter<W: Write> {
    out: W,
    hasher: Sha256,
    line: Vec<u8>,
}

impl<W: Write> LineWriter<W> {
    fn write_line(&mut self) -> std::io::Result<()> {
        self.line.push(b'\n');
        self.hasher.update(&self.line);
        self.out.write_all(&self.line)?;
        self.line.clear();
        Ok(())
    }
}

/// The header line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
}

/// The closing line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    count: u64,
    sha256: String,
}

/// A record line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordLine<'a> {
    tree: String,
    key: String,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
    #[serde(default)]
    hex: Option<String>,
}

impl Store {
    /// The durable trees, in the order of [`TREES`].
    fn durable_trees(&self) -> [&sled::Tree; 10] {
        [
            &self.applications,
            &self.idempotency,
            &self.line_applications,
            &self.lines,
            &self.meta,
            &self.outbox,
            &self.pending,
            &self.providers,
            &self.settings,
            &self.work,
        ]
    }

    /// The first tree (sessions included) that holds a record, if any.
    pub fn first_non_empty_tree(&self) -> Option<&'static str> {
        TREES
            .iter()
            .zip(self.durable_trees())
            .find(|(_, tree)| !tree.is_empty())
            .map(|(name, _)| *name)
            .or_else(|| (!self.sessions.is_empty()).then_some("sessions"))
    }

    /// Writes every durable tree to `out` in the export format (module
    /// documentation), one line at a time. Run it on a database no server
    /// is writing to (the operator's `export` opens the folder, which a
    /// running `serve` holds locked), so that the trees agree.
    pub fn export(&self, out: impl Write) -> Result<ExportSummary, ExportError> {
        let mut w = LineWriter {
            out,
            hasher: Sha256::new(),
            line: Vec::with_capacity(1024),
        };
        write!(
            w.line,
            r#"{{"format":"{EXPORT_FORMAT}","version":{EXPORT_VERSION}}}"#
        )?;
        w.write_line()?;
        let mut records = 0_u64;
        for (name, tree) in TREES.iter().zip(self.durable_trees()) {
            for entry in tree.iter() {
                let (key, value) = entry.map_err(StoreError::from)?;
                check_record(name, &key, &value).map_err(|detail| corrupt(name, &key, &detail))?;
                write!(
                    w.line,
                    r#"{{"tree":"{name}","key":"{}","#,
                    hex::encode(&key)
                )?;
                match form_of(name, &key) {
                    ValueForm::Json => {
                        // Stored by serde_json in compact form: one line.
                        if value.contains(&b'\n') || value.contains(&b'\r') {
                            return Err(corrupt(name, &key, "value spans lines").into());
                        }
                        w.line.extend_from_slice(br#""value":"#);
                        w.line.extend_from_slice(&value);
                        w.line.push(b'}');
                    }
                    ValueForm::Bytes => write!(w.line, r#""hex":"{}"}}"#, hex::encode(&value))?,
                }
                w.write_line()?;
                records += 1;
            }
        }
        let sha256 = hex::encode(w.hasher.clone().finalize());
        write!(w.line, r#"{{"count":{records},"sha256":"{sha256}"}}"#)?;
        w.line.push(b'\n');
        w.out.write_all(&w.line)?;
        w.out.flush()?;
        Ok(ExportSummary { records, sha256 })
    }

    /// Loads an export into this database, which must be empty. The whole
    /// file is checked before anything is written; then the records are
    /// written in batches and synced to disk (module documentation).
    pub fn restore<R: BufRead + Seek>(&self, mut input: R) -> Result<RestoreSummary, RestoreError> {
        if let Some(tree) = self.first_non_empty_tree() {
            return Err(RestoreError::NotEmpty(tree));
        }
        let checked = scan(&mut input, |_, _, _| Ok(()))?;

        input.seek(SeekFrom::Start(0))?;
        let trees = self.durable_trees();
        let mut batch: Option<(usize, sled::Batch, usize)> = None;
        let written = scan(&mut input, |tree, key, value| {
            if let Some((index, pending, n)) = batch.take() {
                if index == tree && n < BATCH {
                    let mut pending = pending;
                    pending.insert(key, value);
                    batch = Some((index, pending, n + 1));
                    return Ok(());
                }
                trees[index].apply_batch(pending)?;
            }
            let mut fresh = sled::Batch::default();
            fresh.insert(key, value);
            batch = Some((tree, fresh, 1));
            Ok(())
        });
        let written = written.and_then(|summary| {
            if let Some((index, pending, _)) = batch.take() {
                trees[index]
                    .apply_batch(pending)
                    .map_err(StoreError::from)?;
            }
            Ok(summary)
        });
        self.forget_catalogue();
        match written {
            Ok(summary) if summary == checked => {
                self.sync()?;
                Ok(summary)
            }
            Ok(_) => {
                self.empty_again()?;
                Err(RestoreError::Changed(
                    "its checksum differs from the first reading".into(),
                ))
            }
            Err(e @ (RestoreError::Store(_) | RestoreError::Read(_))) => {
                self.empty_again()?;
                Err(e)
            }
            Err(e) => {
                self.empty_again()?;
                Err(RestoreError::Changed(e.to_string()))
            }
        }
    }

    /// Removes what a failed restore wrote (the database was empty).
    fn empty_again(&self) -> Result<(), StoreError> {
        for tree in self.durable_trees() {
            tree.clear()?;
        }
        self.forget_catalogue();
        self.sync()
    }
}

fn corrupt(tree: &'static str, key: &[u8], detail: &str) -> StoreError {
    StoreError::Corrupt {
        tree,
        detail: format!("key {}: {detail}", hex::encode(key)),
    }
}

/// Reads a whole export, checking every line, and hands each record
/// (tree index in [`TREES`], key, value) to `sink` as it goes.
fn scan(
    input: &mut impl BufRead,
    mut sink: impl FnMut(usize, Vec<u8>, Vec<u8>) -> Result<(), StoreError>,
) -> Result<RestoreSummary, RestoreError> {
    let mut hasher = Sha256::new();
    let mut buf = Vec::with_capacity(1024);
    let mut number = 0_u64;
    let mut records = 0_u64;
    let mut last: Option<(usize, Vec<u8>)> = None;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            return Err(if number == 0 {
                RestoreError::Line {
                    line: 1,
                    detail: "the file is empty".into(),
                }
            } else {
                RestoreError::Truncated { lines: number }
            });
        }
        number += 1;
        let at = |detail: String| RestoreError::Line {
            line: number,
            detail,
        };
        let complete = buf.last() == Some(&b'\n');
        let text = std::str::from_utf8(&buf)
            .map_err(|_| at("not UTF-8".into()))?
            .trim_end_matches('\n');

        if number == 1 {
            let header: Header = serde_json::from_str(text)
                .map_err(|e| at(format!("not a kaisen export header: {e}")))?;
            if header.format != EXPORT_FORMAT {
                return Err(at(format!(
                    "format is {:?}, expected {EXPORT_FORMAT:?}",
                    header.format
                )));
            }
            if header.version != EXPORT_VERSION {
                return Err(at(format!(
                    "version {} is not supported (this kaisen reads version {EXPORT_VERSION})",
                    header.version
                )));
            }
        } else if let Ok(trailer) = serde_json::from_str::<Trailer>(text) {
            let sha256 = hex::encode(hasher.clone().finalize());
            if trailer.count != records {
                return Err(at(format!(
                    "the file says {} records, it holds {records}",
                    trailer.count
                )));
            }
            if trailer.sha256 != sha256 {
                return Err(at(format!(
                    "checksum mismatch: the file says {}, its lines hash to {sha256}",
                    trailer.sha256
                )));
            }
            let mut rest = Vec::new();
            input.read_to_end(&mut rest)?;
            if !rest.is_empty() {
                return Err(RestoreError::Line {
                    line: number + 1,
                    detail: "text after the closing line".into(),
                });
            }
            return Ok(RestoreSummary { records, sha256 });
        } else {
            if !complete {
                return Err(RestoreError::Truncated { lines: number });
            }
            let record: RecordLine =
                serde_json::from_str(text).map_err(|e| at(format!("not a record: {e}")))?;
            let tree = TREES
                .iter()
                .position(|t| *t == record.tree)
                .ok_or_else(|| at(format!("unknown tree {:?}", record.tree)))?;
            let name = TREES[tree];
            let key = hex::decode(&record.key).map_err(|e| at(format!("key is not hex: {e}")))?;
            let value = match (form_of(name, &key), record.value, record.hex) {
                (ValueForm::Json, Some(raw), None) => raw.get().as_bytes().to_vec(),
                (ValueForm::Bytes, None, Some(hex)) => {
                    hex::decode(&hex).map_err(|e| at(format!("hex is not hex: {e}")))?
                }
                (ValueForm::Json, _, _) => {
                    return Err(at(format!("a record of {name} needs \"value\" (JSON)")));
                }
                (ValueForm::Bytes, _, _) => {
                    return Err(at(format!("a record of {name} needs \"hex\"")));
                }
            };
            check_record(name, &key, &value).map_err(|e| at(format!("{name}: {e}")))?;
            let position = (tree, key);
            if last.as_ref().is_some_and(|previous| *previous >= position) {
                return Err(at(
                    "out of order or repeated (records go by tree name, then key)".into(),
                ));
            }
            records += 1;
            let (tree, key) = position;
            sink(tree, key.clone(), value)?;
            last = Some((tree, key));
        }
        hasher.update(&buf);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::time::{Duration, Instant};

    use super::*;

    const HEADER: &str = r#"{"format":"kaisen-export","version":1}"#;

    fn empty_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::TempDir::new().expect("a folder");
        let store = Store::open(dir.path()).expect("the store opens");
        (dir, store)
    }

    /// `records` between the header and a correct closing line.
    fn export_of(records: &[&str]) -> Vec<u8> {
        let mut body = format!("{HEADER}\n");
        for record in records {
            body.push_str(record);
            body.push('\n');
        }
        let sha256 = hex::encode(Sha256::digest(body.as_bytes()));
        body.push_str(&format!(
            r#"{{"count":{},"sha256":"{sha256}"}}"#,
            records.len()
        ));
        body.push('\n');
        body.into_bytes()
    }

    fn provider(code: &str) -> String {
        format!(
            r#"{{"tree":"providers","key":"{}","value":{{"service_name":"IP電話","name":"{code}社"}}}}"#,
            hex::encode(code)
        )
    }

    #[test]
    fn every_tree_the_store_opens_is_exported_but_sessions_and_login_failures() {
        let dir = tempfile::TempDir::new().expect("a folder");
        drop(Store::open(dir.path()).expect("the store opens"));
        // The group-commit thread lets go of the folder a moment later.
        let deadline = Instant::now() + Duration::from_secs(10);
        let db = loop {
            match sled::open(dir.path()) {
                Ok(db) => break db,
                Err(e) if Instant::now() > deadline => panic!("{e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let mut names: Vec<String> = db
            .tree_names()
            .iter()
            .map(|n| String::from_utf8(n.to_vec()).expect("UTF-8"))
            .filter(|n| n != "__sled__default" && n != "sessions" && n != "login_failures")
            .collect();
        names.sort();
        assert_eq!(names, TREES);
    }

    #[test]
    fn a_small_export_restores_and_exports_to_the_same_bytes() {
        let file = export_of(&[&provider("W0001"), &provider("W0002")]);
        let (_dir, store) = empty_store();

        let summary = store.restore(Cursor::new(&file)).expect("restored");

        assert_eq!(summary.records, 2);
        let mut again = Vec::new();
        store.export(&mut again).expect("exported");
        assert_eq!(String::from_utf8(again), String::from_utf8(file));
    }

    #[test]
    fn records_out_of_order_are_refused_even_with_a_correct_checksum() {
        let file = export_of(&[&provider("W0002"), &provider("W0001")]);
        let (_dir, store) = empty_store();

        let error = store.restore(Cursor::new(file)).expect_err("refused");

        assert_eq!(
            error.to_string(),
            "line 3: out of order or repeated (records go by tree name, then key)"
        );
        assert_eq!(store.first_non_empty_tree(), None);
    }

    #[test]
    fn a_value_that_does_not_fit_its_tree_is_refused_naming_the_line() {
        let cases = [
            (
                format!(
                    r#"{{"tree":"pending","key":"{}","hex":"01"}}"#,
                    hex::encode("x")
                ),
                "line 2: pending: value has 1 bytes, expected 8",
            ),
            (
                r#"{"tree":"work","key":"00","value":1}"#.to_owned(),
                r#"line 2: a record of work needs "hex""#,
            ),
            (
                r#"{"tree":"providers","key":"5730303031","value":{"name":"x"}}"#.to_owned(),
                "line 2: providers: value does not decode: missing field `service_name`",
            ),
            (
                r#"{"tree":"providers","key":"zz","value":{}}"#.to_owned(),
                "line 2: key is not hex",
            ),
        ];
        for (record, expected) in cases {
            let (_dir, store) = empty_store();
            let error = store
                .restore(Cursor::new(export_of(&[&record])))
                .expect_err("refused");
            assert!(error.to_string().starts_with(expected), "{error}");
            assert_eq!(store.first_non_empty_tree(), None);
        }
    }
}
