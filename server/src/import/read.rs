//! Reading an import file as a stream of parts, so that a file of millions
//! of lines is never held whole: the top-level object is visited key by key
//! and its `lines` array element by element, each handed to a sink as soon
//! as it is read. A file is read through a 1 MiB buffer and hashed as it
//! goes, so that a second reading can tell whether it changed.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};

use super::{ConsentEntry, ImportError, ImportFile, LineEntry, PrefixEntry, ProviderEntry};

/// One part of an import file, in the order the file gives them.
pub enum Part<'a> {
    /// The `providers` list.
    Providers(&'a [ProviderEntry]),
    /// `lines[index]`.
    Line(usize, &'a LineEntry),
    /// The `notices`, when given.
    Notices(&'a [String]),
    /// The `consent`, when given.
    Consent(&'a ConsentEntry),
    /// `prefixes[index]`.
    Prefix(usize, &'a PrefixEntry),
}

/// Where a sink's parts come from.
pub type Sink<'s> = dyn FnMut(Part<'_>) -> Result<(), ImportError> + 's;

/// Something that can be read from the start, more than once.
pub trait Source {
    /// Hands every part to `sink` in order; stops at the first error, the
    /// sink's or the reader's.
    fn read(&mut self, sink: &mut Sink<'_>) -> Result<(), ImportError>;
}

/// An import file already in memory: providers, lines, notices, consent.
impl Source for &ImportFile {
    fn read(&mut self, sink: &mut Sink<'_>) -> Result<(), ImportError> {
        sink(Part::Providers(&self.providers))?;
        for (i, line) in self.lines.iter().enumerate() {
            sink(Part::Line(i, line))?;
        }
        if let Some(notices) = &self.notices {
            sink(Part::Notices(notices))?;
        }
        if let Some(consent) = &self.consent {
            sink(Part::Consent(consent))?;
        }
        for (i, prefix) in self.prefixes.iter().enumerate() {
            sink(Part::Prefix(i, prefix))?;
        }
        Ok(())
    }
}

/// An import file on disk, streamed. Every reading after the first fails
/// with [`ImportError::Changed`] at its end if the bytes differ.
pub struct JsonFile {
    path: PathBuf,
    first: Option<(u64, [u8; 32])>,
}

impl JsonFile {
    /// The file at `path` (opened at each reading).
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            first: None,
        }
    }
}

impl Source for JsonFile {
    fn read(&mut self, sink: &mut Sink<'_>) -> Result<(), ImportError> {
        let file = File::open(&self.path).map_err(|source| ImportError::Read {
            path: self.path.display().to_string(),
            source,
        })?;
        let mut hashed = Hashed {
            inner: file,
            hasher: Sha256::new(),
            bytes: 0,
        };
        let reader = BufReader::with_capacity(1 << 20, &mut hashed);
        read_json(&mut serde_json::Deserializer::from_reader(reader), sink)?;
        // serde_json stops after the last non-blank byte: hash the rest too.
        std::io::copy(&mut hashed, &mut std::io::sink()).map_err(|source| ImportError::Read {
            path: self.path.display().to_string(),
            source,
        })?;
        let seen = (hashed.bytes, hashed.hasher.finalize().into());
        match self.first {
            None => {
                self.first = Some(seen);
                Ok(())
            }
            Some(first) if first == seen => Ok(()),
            Some(_) => Err(ImportError::Changed(format!(
                "{} changed while it was being imported",
                self.path.display()
            ))),
        }
    }
}

/// Counts and hashes what passes through.
struct Hashed<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Reads one JSON import file, then checks that nothing but blanks follows.
/// A JSON error names its place with serde_path_to_error's path, e.g.
/// `lines[1].notifications[0].setting`.
pub fn read_json<'de, R: serde_json::de::Read<'de>>(
    json: &mut serde_json::Deserializer<R>,
    sink: &mut Sink<'_>,
) -> Result<(), ImportError> {
    let mut failed = None;
    let mut track = serde_path_to_error::Track::new();
    let outcome = FileSeed {
        sink,
        failed: &mut failed,
    }
    .deserialize(serde_path_to_error::Deserializer::new(
        &mut *json, &mut track,
    ))
    .and_then(|()| json.end());
    match (failed, outcome) {
        (Some(e), _) => Err(e),
        (None, Ok(())) => Ok(()),
        (None, Err(e)) => Err(ImportError::Json {
            path: track.path().to_string(),
            message: e.to_string(),
        }),
    }
}

/// The top-level keys.
#[derive(Deserialize, Clone, Copy)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    Providers,
    Lines,
    Notices,
    Consent,
    Prefixes,
}

const FIELDS: &[&str] = &["providers", "lines", "notices", "consent", "prefixes"];

/// The top-level object, visited key by key. A sink's error is kept in
/// `failed` and reported instead of the JSON error that stops the reading.
struct FileSeed<'a, 's> {
    sink: &'a mut Sink<'s>,
    failed: &'a mut Option<ImportError>,
}

impl FileSeed<'_, '_> {
    fn hand<E: de::Error>(&mut self, part: Part<'_>) -> Result<(), E> {
        (self.sink)(part).map_err(|e| {
            *self.failed = Some(e);
            E::custom("refused by the check")
        })
    }
}

impl<'de> DeserializeSeed<'de> for FileSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_struct("ImportFile", FIELDS, self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an import file (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut seen = [false; FIELDS.len()];
        while let Some(field) = map.next_key::<Field>()? {
            if std::mem::replace(&mut seen[field as usize], true) {
                return Err(de::Error::duplicate_field(FIELDS[field as usize]));
            }
            match field {
                Field::Providers => {
                    let providers: Vec<ProviderEntry> = map.next_value()?;
                    self.hand(Part::Providers(&providers))?;
                }
                Field::Lines => map.next_value_seed(ListSeed {
                    file: &mut self,
                    part: |i, line| Part::Line(i, line),
                })?,
                Field::Prefixes => map.next_value_seed(ListSeed {
                    file: &mut self,
                    part: |i, prefix| Part::Prefix(i, prefix),
                })?,
                Field::Notices => {
                    if let Some(notices) = map.next_value::<Option<Vec<String>>>()? {
                        self.hand(Part::Notices(&notices))?;
                    }
                }
                Field::Consent => {
                    if let Some(consent) = map.next_value::<Option<ConsentEntry>>()? {
                        self.hand(Part::Consent(&consent))?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A list (`lines`, `prefixes`), visited element by element: each is
/// handed on as `part(index, element)`.
struct ListSeed<'f, 'a, 's, T> {
    file: &'f mut FileSeed<'a, 's>,
    part: fn(usize, &T) -> Part<'_>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ListSeed<'_, '_, '_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListSeed<'_, '_, '_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(element) = seq.next_element::<T>()? {
            self.file.hand((self.part)(index, &element))?;
            index += 1;
        }
        Ok(())
    }
}
