//! Export and restore: the database as versioned, checksummed JSON Lines
//! of records, the same for every engine, so that a backup can be kept
//! outside the database and a deployment moved from sled to PostgreSQL
//! (`export` from one, `restore` into the other).
//!
//! # Format (version 2)
//!
//! ```text
//! {"format":"kaisen-export","version":2}
//! {"consent":{"version":"2026-04","text":"…","hash":"…"}}
//! {"notices":["…"]}
//! {"provider":{"code":"W0001","service_name":"…","name":"…"}}
//! {"line":{"customer_id":"CAF…","access_key_hash":"$argon2id$…","services":[…]}}
//! {"setting":{"customer_id":"CAF…","provider":"W0001","setting":"notify","set_on":"…","method":"…"}}
//! {"prefix":{"prefix":"2001:db8:1234:5600::/56","from":…,"until":null,"customer_id":"CAF…"}}
//! {"sequence":{"day":"2026-12-01","last":42}}
//! {"application":{"id":"…", … every field of the application …}}
//! {"outbox":{"application_id":"…","attempts":0,"next_attempt_at":…,"last_error":null}}
//! {"disclosure":{"id":"…","at":…,"customer_id":"CAF…","provider":"W0001","reason":"lookup",…}}
//! {"event":{"id":"…","provider":"W0001","sequence":1,"type":"notification.granted",…,"attempts":0,"delivered_at":…}}
//! {"operator":{"name":"sato","role":"admin","password_hash":"$argon2id$…",…}}
//! {"operator_action":{"id":1,"at":…,"operator":"sato","customer_id":"CAF…","action":"line_viewed",…}}
//! {"count":N,"sha256":"<hex>"}
//! ```
//!
//! - Line 1 is the header; the last line holds the number of record lines
//!   and the SHA-256 of every byte before it (each line with its `\n`).
//! - Records go by kind in the order above, then by key: the consent and
//!   the notices once each (if any), providers by code, lines by customer
//!   ID, settings by line then provider, prefix assignments by prefix
//!   (network, length) then start, day sequences by day, applications
//!   by ID, outbox entries by application ID, disclosures by line, time and
//!   ID, events (with how their delivery stands) by provider and sequence,
//!   operator accounts by name, the operator log by ID.
//!   The same data always gives
//!   the same bytes, whichever engine holds it.
//! - What follows from the records is not written: an application's
//!   pending changes, its queued work and its idempotency key's index are
//!   rebuilt from it on restore (`store::rules`).
//! - Sessions and failed-login counters are not exported: they are
//!   short-lived security state; a restored portal asks everyone to log in.
//!
//! Restore reads the file twice: the first pass checks everything (header,
//! each record's shape, order, that settings, applications and mails name
//! lines, providers and applications given before them, the count and the
//! checksum) and writes nothing; the second pass writes the records in
//! batches of [`BATCH`]. Restore loads only into an empty database; should
//! the file change between the passes, or a write fail, what was written
//! is removed again.

use std::collections::HashSet;
use std::io::{BufRead, Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::domain::{ApplicationId, CustomerId, Date, ProviderCode};

use super::operators::{OperatorAction, OperatorRecord};
use super::{
    ApplicationRecord, ConsentRecord, DisclosureRecord, EventDelivery, EventRecord, LineRecord,
    OutboxRecord, PrefixRecord, ProviderRecord, SettingRecord, Store, StoreError,
};

/// The header's `format`.
pub const EXPORT_FORMAT: &str = "kaisen-export";
/// The format version written, and the only one read.
pub const EXPORT_VERSION: u32 = 2;
/// Records written per engine call on restore.
const BATCH: usize = 10_000;

/// One record of an export: one line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportRecord {
    /// The consent document in force.
    Consent(ConsentRecord),
    /// The operator's notices.
    Notices(Vec<String>),
    /// A provider.
    Provider(ProviderExport),
    /// A line.
    Line(LineExport),
    /// A line's setting for a provider.
    Setting(SettingExport),
    /// Which line held an IPv6 prefix when.
    Prefix(PrefixRecord),
    /// The last sequence number drawn for a day's application IDs.
    Sequence(SequenceExport),
    /// An application.
    Application(ApplicationRecord),
    /// A completion mail waiting.
    Outbox(OutboxExport),
    /// A time a line's customer ID was given to a provider.
    Disclosure(DisclosureRecord),
    /// An event for a provider, and how its delivery stands.
    Event(EventExport),
    /// An operator account, with its password's hash (never a password).
    Operator(OperatorRecord),
    /// An entry of the operator log (「操作履歴」).
    OperatorAction(OperatorAction),
}

/// An event, with its delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventExport {
    /// The event.
    #[serde(flatten)]
    pub record: EventRecord,
    /// How its delivery stands.
    #[serde(flatten)]
    pub delivery: EventDelivery,
}

/// A provider, with its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderExport {
    /// Its code.
    pub code: ProviderCode,
    /// The provider.
    #[serde(flatten)]
    pub record: ProviderRecord,
}

/// A line, with its customer ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineExport {
    /// Its customer ID.
    pub customer_id: CustomerId,
    /// The line.
    #[serde(flatten)]
    pub record: LineRecord,
}

/// A setting, with its line and provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingExport {
    /// The line.
    pub customer_id: CustomerId,
    /// The provider.
    pub provider: ProviderCode,
    /// The setting.
    #[serde(flatten)]
    pub record: SettingRecord,
}

/// A day's last application sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceExport {
    /// The day (JST) of the IDs.
    pub day: Date,
    /// The last sequence number drawn: IDs up to it are never drawn again.
    pub last: u32,
}

/// A mail waiting, with its application's ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxExport {
    /// The application.
    pub application_id: ApplicationId,
    /// The outbox entry.
    #[serde(flatten)]
    pub record: OutboxRecord,
}

impl ExportRecord {
    /// Where the record goes in the file: its kind's place, then its key.
    fn position(&self) -> (u8, String) {
        match self {
            Self::Consent(_) => (0, String::new()),
            Self::Notices(_) => (1, String::new()),
            Self::Provider(p) => (2, p.code.as_str().to_owned()),
            Self::Line(l) => (3, l.customer_id.as_str().to_owned()),
            Self::Setting(s) => (
                4,
                format!("{}\0{}", s.customer_id.as_str(), s.provider.as_str()),
            ),
            Self::Prefix(p) => (
                5,
                format!(
                    "{:032x}{:02x}{:016x}",
                    u128::from(p.prefix.network()),
                    p.prefix.prefix_len(),
                    sortable(p.from)
                ),
            ),
            Self::Sequence(s) => (6, s.day.to_string()),
            Self::Application(a) => (7, format!("{:020}", a.id.to_u64())),
            Self::Outbox(o) => (8, format!("{:020}", o.application_id.to_u64())),
            Self::Disclosure(d) => (
                9,
                format!(
                    "{}\0{:016x}{}",
                    d.customer_id.as_str(),
                    sortable(d.at),
                    d.id
                ),
            ),
            Self::Event(e) => (
                10,
                format!("{}\0{:020}", e.record.provider.as_str(), e.record.sequence),
            ),
            Self::Operator(o) => (11, o.name.clone()),
            Self::OperatorAction(a) => (12, format!("{:020}", a.id)),
        }
    }
}

/// An instant as a number that sorts in time order (negatives first), as
/// sled's keys order them.
fn sortable(at: shared::domain::Timestamp) -> u64 {
    at.unix() as u64 ^ (1 << 63)
}

/// Where an engine's export goes, one record at a time.
pub type ExportSink<'a> = dyn FnMut(ExportRecord) -> Result<(), StoreError> + Send + 'a;

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
    #[error("the database is not empty (it holds {0}); restore only loads into an empty database")]
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
    /// The file changed while it was being restored; what was written was
    /// removed again.
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

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    count: u64,
    sha256: String,
}

/// Buffers one line at a time, feeds it to the checksum, and checks that
/// the engine gives its records in the export's order.
struct LineWriter<W: Write> {
    out: W,
    hasher: Sha256,
    line: Vec<u8>,
    records: u64,
    last: Option<(u8, String)>,
}

impl<W: Write> LineWriter<W> {
    fn put(&mut self, value: &impl Serialize) -> Result<(), ExportError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value).map_err(|e| {
            ExportError::Store(StoreError::Encode {
                what: "export",
                detail: e.to_string(),
            })
        })?;
        self.line.push(b'\n');
        self.hasher.update(&self.line);
        self.out.write_all(&self.line)?;
        Ok(())
    }

    fn record(&mut self, record: &ExportRecord) -> Result<(), ExportError> {
        let position = record.position();
        if self.last.as_ref().is_some_and(|last| *last >= position) {
            return Err(ExportError::Store(StoreError::Corrupt {
                what: "export",
                detail: format!("records out of order at {position:?}"),
            }));
        }
        self.put(record)?;
        self.records += 1;
        self.last = Some(position);
        Ok(())
    }
}

impl Store {
    /// Writes every durable record to `out` (the format above) and says
    /// how many and their checksum.
    pub async fn export(
        &self,
        out: &mut (impl Write + Send),
    ) -> Result<ExportSummary, ExportError> {
        let mut writer = LineWriter {
            out,
            hasher: Sha256::new(),
            line: Vec::with_capacity(1024),
            records: 0,
            last: None,
        };
        writer.put(&Header {
            format: EXPORT_FORMAT.into(),
            version: EXPORT_VERSION,
        })?;
        let mut failed = None;
        self.engine
            .export_records(&mut |record| {
                writer.record(&record).map_err(|e| {
                    let message = e.to_string();
                    failed = Some(e);
                    StoreError::Io(std::io::Error::other(message))
                })
            })
            .await
            .map_err(|e| failed.take().unwrap_or(ExportError::Store(e)))?;
        let sha256 = hex::encode(writer.hasher.clone().finalize());
        let records = writer.records;
        writer.put(&Trailer {
            count: records,
            sha256: sha256.clone(),
        })?;
        Ok(ExportSummary { records, sha256 })
    }

    /// Loads an export into an empty database: checks the whole file
    /// first, writing nothing, then writes it.
    pub async fn restore(
        &self,
        input: &mut (impl BufRead + Seek + Send),
    ) -> Result<RestoreSummary, RestoreError> {
        if let Some(kind) = self.engine.holds_data().await? {
            return Err(RestoreError::NotEmpty(kind));
        }
        let checked = scan(input)?;
        input.seek(SeekFrom::Start(0))?;
        let written = self.write_restore(input).await;
        let outcome = match written {
            Ok(again) if again == checked => Ok(checked),
            Ok(again) => Err(RestoreError::Changed(format!(
                "checked as {} records with sha256 {}, read again as {} with {}",
                checked.records, checked.sha256, again.records, again.sha256
            ))),
            Err(RestoreError::Store(e)) => Err(RestoreError::Store(e)),
            Err(other) => Err(RestoreError::Changed(other.to_string())),
        };
        if outcome.is_err() {
            self.engine.clear().await?;
        } else {
            self.forget_catalogue();
        }
        outcome
    }

    async fn write_restore(
        &self,
        input: &mut (impl BufRead + Seek + Send),
    ) -> Result<RestoreSummary, RestoreError> {
        let mut scanner = Scanner::new(input);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            match scanner.next()? {
                Scanned::Record(record) => {
                    batch.push(*record);
                    if batch.len() >= BATCH {
                        self.engine
                            .restore_records(std::mem::take(&mut batch))
                            .await?;
                    }
                }
                Scanned::End(summary) => {
                    if !batch.is_empty() {
                        self.engine.restore_records(batch).await?;
                    }
                    return Ok(summary);
                }
            }
        }
    }
}

/// What the first pass remembers to check references: the lines, providers
/// and applications given so far.
#[derive(Default)]
struct Seen {
    providers: HashSet<ProviderCode>,
    lines: HashSet<u64>,
    applications: HashSet<u64>,
}

fn line_number(id: &CustomerId) -> u64 {
    id.as_str()
        .bytes()
        .skip(3)
        .fold(0, |n, b| n * 10 + u64::from(b - b'0'))
}

impl Seen {
    fn check(&mut self, record: &ExportRecord) -> Result<(), String> {
        match record {
            ExportRecord::Consent(c) => {
                let hash = hex::encode(Sha256::digest(c.text.as_bytes()));
                if hash != c.hash {
                    return Err("consent: hash is not the SHA-256 of its text".into());
                }
            }
            ExportRecord::Notices(_) => {}
            ExportRecord::Provider(p) => {
                self.providers.insert(p.code.clone());
            }
            ExportRecord::Line(l) => {
                self.lines.insert(line_number(&l.customer_id));
            }
            ExportRecord::Setting(s) => {
                self.line_given(&s.customer_id)?;
                self.provider_given(&s.provider)?;
            }
            ExportRecord::Prefix(p) => self.line_given(&p.customer_id)?,
            ExportRecord::Disclosure(d) => {
                self.line_given(&d.customer_id)?;
                self.provider_given(&d.provider)?;
            }
            ExportRecord::Event(e) => {
                self.line_given(&e.record.customer_id)?;
                self.provider_given(&e.record.provider)?;
                if e.record.sequence == 0 {
                    return Err("event: sequence 0 (they begin at 1)".into());
                }
                if !self
                    .applications
                    .contains(&e.record.application_id.to_u64())
                {
                    return Err(format!(
                        "event: application {} is not given before it",
                        e.record.application_id
                    ));
                }
            }
            ExportRecord::Operator(o) => {
                if !super::operators::valid_operator_name(&o.name) {
                    return Err(format!("operator: {:?} is not an operator name", o.name));
                }
            }
            ExportRecord::OperatorAction(a) => {
                if a.id == 0 {
                    return Err("operator_action: ID 0 (they begin at 1)".into());
                }
            }
            ExportRecord::Sequence(s) => {
                if s.last > ApplicationId::MAX_SEQUENCE {
                    return Err(format!("sequence: {} is beyond a day's last", s.last));
                }
            }
            ExportRecord::Application(a) => {
                self.line_given(&a.customer_id)?;
                for change in &a.changes {
                    self.provider_given(&change.provider)?;
                }
                self.applications.insert(a.id.to_u64());
            }
            ExportRecord::Outbox(o) => {
                if !self.applications.contains(&o.application_id.to_u64()) {
                    return Err(format!(
                        "outbox: application {} is not given before it",
                        o.application_id
                    ));
                }
            }
        }
        Ok(())
    }

    fn line_given(&self, id: &CustomerId) -> Result<(), String> {
        if self.lines.contains(&line_number(id)) {
            Ok(())
        } else {
            Err(format!("line {id} is not given before it"))
        }
    }

    fn provider_given(&self, code: &ProviderCode) -> Result<(), String> {
        if self.providers.contains(code) {
            Ok(())
        } else {
            Err(format!("provider {code} is not given before it"))
        }
    }
}

/// Reads and checks a whole export, writing nothing.
fn scan(input: &mut impl BufRead) -> Result<RestoreSummary, RestoreError> {
    let mut scanner = Scanner::new(input);
    loop {
        if let Scanned::End(summary) = scanner.next()? {
            return Ok(summary);
        }
    }
}

/// What [`Scanner::next`] read.
enum Scanned {
    /// A record, checked.
    Record(Box<ExportRecord>),
    /// The closing line, checked: the whole file is right.
    End(RestoreSummary),
}

/// Reads an export line by line, checking each.
struct Scanner<'r, R> {
    input: &'r mut R,
    hasher: Sha256,
    buf: Vec<u8>,
    number: u64,
    records: u64,
    last: Option<(u8, String)>,
    seen: Seen,
}

impl<'r, R: BufRead> Scanner<'r, R> {
    fn new(input: &'r mut R) -> Self {
        Self {
            input,
            hasher: Sha256::new(),
            buf: Vec::with_capacity(1024),
            number: 0,
            records: 0,
            last: None,
            seen: Seen::default(),
        }
    }

    fn next(&mut self) -> Result<Scanned, RestoreError> {
        loop {
            self.buf.clear();
            if self.input.read_until(b'\n', &mut self.buf)? == 0 {
                return Err(if self.number == 0 {
                    RestoreError::Line {
                        line: 1,
                        detail: "the file is empty".into(),
                    }
                } else {
                    RestoreError::Truncated { lines: self.number }
                });
            }
            self.number += 1;
            let number = self.number;
            let at = |detail: String| RestoreError::Line {
                line: number,
                detail,
            };
            let complete = self.buf.last() == Some(&b'\n');
            let text = std::str::from_utf8(&self.buf)
                .map_err(|_| at("not UTF-8".into()))?
                .trim_end_matches('\n');

            if number == 1 {
                check_header(text).map_err(at)?;
            } else if let Ok(trailer) = serde_json::from_str::<Trailer>(text) {
                let sha256 = hex::encode(self.hasher.clone().finalize());
                if trailer.count != self.records {
                    return Err(at(format!(
                        "the file says {} records, it holds {}",
                        trailer.count, self.records
                    )));
                }
                if trailer.sha256 != sha256 {
                    return Err(at(format!(
                        "checksum mismatch: the file says {}, its lines hash to {sha256}",
                        trailer.sha256
                    )));
                }
                let mut rest = Vec::new();
                self.input.read_to_end(&mut rest)?;
                if !rest.is_empty() {
                    return Err(RestoreError::Line {
                        line: number + 1,
                        detail: "text after the closing line".into(),
                    });
                }
                return Ok(Scanned::End(RestoreSummary {
                    records: self.records,
                    sha256,
                }));
            } else {
                if !complete {
                    return Err(RestoreError::Truncated { lines: number });
                }
                let record: ExportRecord =
                    serde_json::from_str(text).map_err(|e| at(format!("not a record: {e}")))?;
                let position = record.position();
                if self
                    .last
                    .as_ref()
                    .is_some_and(|previous| *previous >= position)
                {
                    return Err(at(
                        "out of order or repeated (records go by kind, then key)".into(),
                    ));
                }
                self.seen.check(&record).map_err(at)?;
                self.records += 1;
                self.last = Some(position);
                self.hasher.update(&self.buf);
                return Ok(Scanned::Record(Box::new(record)));
            }
            self.hasher.update(&self.buf);
        }
    }
}

fn check_header(text: &str) -> Result<(), String> {
    let header: Header =
        serde_json::from_str(text).map_err(|e| format!("not a kaisen export header: {e}"))?;
    if header.format != EXPORT_FORMAT {
        return Err(format!(
            "format is {:?}, expected {EXPORT_FORMAT:?}",
            header.format
        ));
    }
    if header.version != EXPORT_VERSION {
        return Err(format!(
            "version {} is not supported (this kaisen reads version {EXPORT_VERSION}; \
             to move a version 1 export, restore it with the kaisen that wrote it, \
             then export that database with this one)",
            header.version
        ));
    }
    Ok(())
}
