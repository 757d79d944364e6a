//! The operator's import file (SPEC §5): providers, lines, notices and the
//! consent document. The whole file is checked before anything is written;
//! an error names the entry and field at fault.
//!
//! A file may hold millions of lines, so it is never held whole: it is read
//! twice, as a stream (module `read`). The first pass checks every entry and
//! keeps only what is small: the providers, notices and consent, each
//! line's customer ID as a number (to find duplicates), and where a
//! provider neither stored nor yet read was first named (the file's
//! `providers` may follow its `lines`). The second pass reads the file again
//! and writes it: providers, notices and consent first, then the lines in
//! chunks of [`CHUNK`], each record only if it differs from the stored one.
//! The second pass is not one transaction: the store marks the import
//! unfinished until it ends (`store::import`), and `serve` refuses such a
//! database until an import runs to its end.

mod check;
mod read;

use std::collections::{HashMap, HashSet};
use std::num::NonZero;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;
use shared::domain::{CustomerId, ServiceStatus, Setting};

use tokio::runtime::Handle;

use crate::password::Hasher;
use crate::store::{
    ImportHead, ImportReport, LineImport, LineRecord, PrefixRecord, Store, StoreError,
};
use check::{CheckedLine, KeyInput, KnownProviders};
use read::{JsonFile, Part, Source};

/// Lines per chunk: read and checked on one thread, then handed as one to
/// the thread that writes them.
pub const CHUNK: usize = 10_000;

/// The name recorded for an import not read from a file (`serve --demo`).
const IN_MEMORY: &str = "an import file given in memory (such as serve --demo's)";

/// The import file as written by the operator, whole (tests and the demo
/// data; a file on disk is streamed instead).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportFile {
    /// Providers, added or updated by code.
    #[serde(default)]
    pub providers: Vec<ProviderEntry>,
    /// Lines, added or updated by customer ID.
    #[serde(default)]
    pub lines: Vec<LineEntry>,
    /// The notices on the top page; when given, they replace the old ones.
    pub notices: Option<Vec<String>>,
    /// The consent document; when given, it replaces the old one.
    pub consent: Option<ConsentEntry>,
    /// Which IPv6 prefix the network gave which line, and when.
    #[serde(default)]
    pub prefixes: Vec<PrefixEntry>,
}

/// An IPv6 prefix assignment in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixEntry {
    /// The line it was given to.
    pub customer_id: String,
    /// The prefix, e.g. `2001:db8:1234:5600::/56`.
    pub prefix: String,
    /// When it was given: RFC 3339, e.g. `2026-11-01T00:00:00+09:00`.
    pub from: String,
    /// When it was taken back (RFC 3339), or null while the line holds it.
    pub until: Option<String>,
}

/// A provider in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    /// Its code, e.g. `W0001`.
    pub code: String,
    /// サービス名
    pub service_name: String,
    /// サービス提供者名
    pub name: String,
    /// 利用目的 (SPEC §8); a provider's entry is its whole record, so an
    /// entry without it removes a stored one.
    pub purpose: Option<String>,
    /// Its registration for the provider API (SPEC §8), if it has one; an
    /// entry without it removes a stored one.
    pub api: Option<ApiEntry>,
}

/// A provider's registration for the provider API in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiEntry {
    /// Its OAuth client ID.
    pub client_id: String,
    /// Its public keys, a JWK set (`{"keys": […]}`).
    pub jwks: serde_json::Value,
    /// Where its events are POSTed: `https://`, or `http://` on loopback.
    pub webhook_url: String,
    /// The key its events are signed with: `whsec_` and base64.
    pub webhook_secret: String,
}

/// A line in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineEntry {
    /// フレッツナンバー
    pub customer_id: String,
    /// The access key in plain text, hashed on import.
    pub access_key: Option<String>,
    /// Or the key's Argon2 PHC string, for lines migrated already hashed.
    pub access_key_hash: Option<String>,
    /// The other services on the top page.
    #[serde(default)]
    pub services: Vec<ServiceEntry>,
    /// Settings per provider.
    #[serde(default)]
    pub notifications: Vec<NotificationEntry>,
}

/// A service of a line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    /// サービス名
    pub name: String,
    /// ご利用状況, e.g. 利用中.
    pub status: ServiceStatus,
}

/// A line's setting for one provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationEntry {
    /// The provider's code.
    pub provider: String,
    /// `notify` or `do_not_notify`.
    pub setting: Setting,
    /// 設定日, `YYYY-MM-DD`.
    pub set_on: String,
    /// 設定方法, e.g. 初期設定.
    pub method: String,
}

/// The consent document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentEntry {
    /// A version label, e.g. `2026-04`.
    pub version: String,
    /// The text.
    pub text: String,
}

/// Why a file was not imported. Nothing was written, but after
/// [`ImportError::Unfinished`].
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not JSON of the import format; the path names the entry
    /// and field, e.g. `lines[2].notifications[0].setting`.
    #[error("{path}: {message}")]
    Json {
        /// Where in the file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An entry's field is wrong: `at` names the entry and field.
    #[error("{at}: {message}")]
    Invalid {
        /// Where, e.g. `lines[2] (CAF0000000003).notifications[0].provider`.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// The file changed between two readings.
    #[error("{0}")]
    Changed(String),
    /// Writing had begun when the import failed: part of the file may be
    /// written, and the database stays marked unfinished (`serve` refuses
    /// it) until an import runs to its end.
    #[error("{0}; part of the file may be written: run the import again")]
    Unfinished(Box<ImportError>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(at: impl Into<String>, message: impl ToString) -> ImportError {
    ImportError::Invalid {
        at: at.into(),
        message: message.to_string(),
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// What it wrote.
    pub report: ImportReport,
    /// The lines in the file.
    pub lines: u64,
    /// The chunks the lines were written in.
    pub chunks: u64,
}

/// Reads, checks and imports a file, streaming it twice.
pub async fn import_path(store: &Store, path: &Path) -> Result<Imported, ImportError> {
    import_path_in_chunks(store, path, CHUNK).await
}

/// [`import_path`], writing `chunk` lines at a time.
pub async fn import_path_in_chunks(
    store: &Store,
    path: &Path,
    chunk: usize,
) -> Result<Imported, ImportError> {
    let (store, path) = (store.clone(), path.to_path_buf());
    off_the_workers(move |rt| {
        run(
            &Io { store: &store, rt },
            &path.display().to_string(),
            &mut JsonFile::new(&path),
            chunk,
        )
    })
    .await
}

/// Checks an import file already in memory, then writes it, as
/// [`import_path`] does.
pub async fn import(store: &Store, file: ImportFile) -> Result<ImportReport, ImportError> {
    let store = store.clone();
    let imported =
        off_the_workers(move |rt| run(&Io { store: &store, rt }, IN_MEMORY, &mut &file, CHUNK))
            .await?;
    Ok(imported.report)
}

/// Reading, checking and hashing are blocking work: they run on the
/// blocking pool, and wait there for each store operation.
async fn off_the_workers<T: Send + 'static>(
    f: impl FnOnce(&Handle) -> Result<T, ImportError> + Send + 'static,
) -> Result<T, ImportError> {
    let rt = Handle::current();
    tokio::task::spawn_blocking(move || f(&rt))
        .await
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
}

/// The store, reached from a blocking thread.
#[derive(Clone, Copy)]
pub(crate) struct Io<'s> {
    store: &'s Store,
    rt: &'s Handle,
}

impl Io<'_> {
    /// Waits for a store operation.
    pub(crate) fn wait<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    /// The store.
    pub(crate) fn store(&self) -> &Store {
        self.store
    }
}

fn run(
    store: &Io<'_>,
    name: &str,
    source: &mut dyn Source,
    chunk: usize,
) -> Result<Imported, ImportError> {
    let started = Instant::now();
    let checked = check_file(store, source)?;
    tracing::info!(
        lines = checked.lines,
        seconds = started.elapsed().as_secs_f64(),
        "import file checked; writing"
    );
    write_file(store, name, source, checked, chunk.max(1))
        .map_err(|e| ImportError::Unfinished(Box::new(e)))
}

/// What the first pass keeps.
struct Checked<'s> {
    known: KnownProviders<'s>,
    head: ImportHead,
    lines: u64,
    /// The file's prefix assignments, checked: kept whole (about 100 bytes
    /// each) and written after the lines.
    prefixes: Vec<PrefixRecord>,
}

/// The first pass: checks every entry, writes nothing.
fn check_file<'s>(store: &Io<'s>, source: &mut dyn Source) -> Result<Checked<'s>, ImportError> {
    let mut known = KnownProviders::new(*store);
    let mut head = ImportHead::default();
    let mut ids = Vec::new();
    let mut prefixes = Vec::new();
    source.read(&mut |part| {
        match part {
            Part::Providers(list) => {
                head.providers = check::providers(list)?;
                if head.providers.iter().any(|(_, p)| p.api.is_some()) {
                    let (_, stored) = store.wait(store.store().providers())?;
                    check::refuse_taken_client_ids(&head.providers, &stored)?;
                }
                known.file_read(&head.providers);
            }
            Part::Line(i, entry) => {
                let line = check::line(i, entry, &mut known)?;
                ids.push(check::id_number(&line.id));
            }
            Part::Notices(list) => head.notices = Some(check::notices(list)?),
            Part::Consent(c) => head.consent = Some(check::consent(c)?),
            Part::Prefix(i, entry) => prefixes.push(check::prefix(i, entry)?),
        }
        Ok(())
    })?;
    known.finish()?;
    let lines = ids.len() as u64;
    ids.sort_unstable();
    refuse_duplicates(&ids, source)?;
    if !prefixes.is_empty() {
        refuse_unknown_lines(store, &prefixes, &ids)?;
        check::refuse_overlaps(&prefixes, store.wait(store.store().prefixes())?)?;
    }
    Ok(Checked {
        known,
        head,
        lines,
        prefixes,
    })
}

/// Refuses a prefix given to a line neither in the file (`ids`, sorted)
/// nor stored, naming the first such assignment.
fn refuse_unknown_lines(
    store: &Io<'_>,
    prefixes: &[PrefixRecord],
    ids: &[u64],
) -> Result<(), ImportError> {
    let mut elsewhere: Vec<CustomerId> = prefixes
        .iter()
        .map(|p| &p.customer_id)
        .filter(|id| ids.binary_search(&check::id_number(id)).is_err())
        .cloned()
        .collect();
    elsewhere.sort_unstable();
    elsewhere.dedup();
    let mut stored = HashSet::with_capacity(elsewhere.len());
    for part in elsewhere.chunks(CHUNK) {
        stored.extend(
            store
                .wait(store.store().key_hashes(part))?
                .into_iter()
                .map(|(id, _)| id),
        );
    }
    match prefixes.iter().enumerate().find(|(_, p)| {
        ids.binary_search(&check::id_number(&p.customer_id))
            .is_err()
            && !stored.contains(&p.customer_id)
    }) {
        Some((i, p)) => Err(invalid(
            format!("prefixes[{i}].customer_id"),
            format!("unknown line {}", p.customer_id),
        )),
        None => Ok(()),
    }
}

/// Refuses a customer ID given twice, naming the line that gives it again.
/// The IDs come sorted; only if one is there twice is the file read again
/// to name the line.
fn refuse_duplicates(ids: &[u64], source: &mut dyn Source) -> Result<(), ImportError> {
    let twice: HashSet<u64> = ids
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
        .collect();
    if twice.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(twice.len());
    source.read(&mut |part| {
        if let Part::Line(i, entry) = part {
            let id = CustomerId::parse(&entry.customer_id)
                .map_err(|e| invalid(format!("lines[{i}].customer_id"), e))?;
            let number = check::id_number(&id);
            if twice.contains(&number) && !seen.insert(number) {
                return Err(invalid(
                    format!("lines[{i}] ({id}).customer_id"),
                    format!("line {id} appears twice"),
                ));
            }
        }
        Ok(())
    })?;
    Err(ImportError::Changed(
        "the file changed while it was being checked".into(),
    ))
}

/// The second pass: marks the import unfinished, writes the head, then the
/// lines chunk by chunk, and clears the mark. Reading and checking run on
/// this thread and writing on another, a few chunks apart.
fn write_file(
    store: &Io<'_>,
    name: &str,
    source: &mut dyn Source,
    checked: Checked<'_>,
    chunk: usize,
) -> Result<Imported, ImportError> {
    let Checked {
        mut known,
        head,
        lines,
        prefixes,
    } = checked;
    store.wait(store.store().begin_import(name))?;
    let mut report = store.wait(store.store().import_head(&head))?;
    store.store().forget_catalogue();
    let (mut read, mut chunks) = (0_u64, 0_u64);
    let (reading, writing) = std::thread::scope(|scope| {
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<LineImport>>(2);
        let writing = scope.spawn(move || {
            let mut report = ImportReport::default();
            for lines in receive {
                report.add(store.wait(store.store().import_lines(&lines))?);
            }
            Ok::<_, StoreError>(report)
        });
        let mut pending = Vec::with_capacity(chunk);
        let mut logged = Instant::now();
        let mut hashers = Vec::new();
        let mut hand_over = |pending: &mut Vec<CheckedLine>| {
            let lines = resolve_keys(store, std::mem::take(pending), &mut hashers)?;
            chunks += 1;
            // Fails only when the writer has stopped on an error, which
            // is then reported instead.
            send.send(lines).map_err(|_| {
                ImportError::Store(StoreError::Io(std::io::Error::other("the writer stopped")))
            })
        };
        let reading = source
            .read(&mut |part| {
                if let Part::Line(i, entry) = part {
                    pending.push(check::line(i, entry, &mut known)?);
                    read += 1;
                    if pending.len() >= chunk {
                        hand_over(&mut pending)?;
                        if logged.elapsed() >= Duration::from_secs(10) {
                            logged = Instant::now();
                            tracing::info!(lines = read, of = lines, "importing");
                        }
                    }
                }
                Ok(())
            })
            .and_then(|()| {
                if pending.is_empty() {
                    Ok(())
                } else {
                    hand_over(&mut pending)
                }
            });
        // The writer ends when the channel closes.
        drop(send);
        (reading, writing.join())
    });
    let written = writing.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    reading?;
    if read != lines {
        return Err(ImportError::Changed(format!(
            "the file had {lines} lines when checked and {read} when written"
        )));
    }
    report.add(written);
    for part in prefixes.chunks(CHUNK) {
        report.add(store.wait(store.store().import_prefixes(part))?);
    }
    store.wait(store.store().finish_import())?;
    Ok(Imported {
        report,
        lines,
        chunks,
    })
}

/// Turns each line's key into its hash. Argon2 is slow on purpose, so
/// a chunk with plain keys is spread over the cores, one thread per core,
/// each hashing in a buffer of `hashers` (made at the first such chunk and
/// kept for the whole import: at most one 19 MiB buffer per core).
fn resolve_keys(
    store: &Io<'_>,
    lines: Vec<CheckedLine>,
    hashers: &mut Vec<Hasher>,
) -> Result<Vec<LineImport>, ImportError> {
    let plain: Vec<CustomerId> = lines
        .iter()
        .filter(|l| matches!(l.key, KeyInput::Plain(_)))
        .map(|l| l.id.clone())
        .collect();
    if plain.is_empty() {
        let mut unused = Hasher::default();
        let none = HashMap::new();
        return lines
            .into_iter()
            .map(|l| resolve_key(&none, l, &mut unused))
            .collect();
    }
    // The stored hashes of this chunk's lines, read at once.
    let stored: HashMap<CustomerId, String> = store
        .wait(store.store().key_hashes(&plain))?
        .into_iter()
        .collect();
    let store = &stored;
    let plain = plain.len();
    let threads = std::thread::available_parallelism()
        .map_or(1, NonZero::get)
        .min(plain);
    if hashers.len() < threads {
        hashers.resize_with(threads, Hasher::new);
    }
    if threads < 2 {
        let hasher = &mut hashers[0];
        return lines
            .into_iter()
            .map(|l| resolve_key(store, l, hasher))
            .collect();
    }
    let per = lines.len().div_ceil(threads);
    let mut rest = lines;
    let mut parts = Vec::with_capacity(threads);
    while rest.len() > per {
        parts.push(rest.split_off(rest.len() - per));
    }
    parts.push(rest);
    parts.reverse();
    std::thread::scope(|scope| {
        let running: Vec<_> = parts
            .into_iter()
            .zip(hashers.iter_mut())
            .map(|(part, hasher)| {
                scope.spawn(move || {
                    part.into_iter()
                        .map(|l| resolve_key(store, l, hasher))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut resolved = Vec::new();
        for thread in running {
            let part = thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            resolved.extend(part);
        }
        Ok(resolved)
    })
}

/// A PHC string is taken as it is. A plain key that matches the stored
/// hash keeps it, so a second import changes nothing; any other is hashed.
fn resolve_key(
    stored: &HashMap<CustomerId, String>,
    line: CheckedLine,
    hasher: &mut Hasher,
) -> Result<LineImport, ImportError> {
    let CheckedLine {
        id,
        key,
        services,
        settings,
    } = line;
    let access_key_hash = match key {
        KeyInput::Hash(phc) => phc,
        KeyInput::Plain(key) => match stored.get(&id) {
            Some(old) if hasher.verify(&key, old) == Ok(true) => old.clone(),
            _ => hasher
                .hash(&key)
                .map_err(|e| invalid(format!("line {id}"), e))?,
        },
    };
    Ok(LineImport {
        id,
        record: LineRecord {
            access_key_hash,
            services,
        },
        settings,
    })
}
