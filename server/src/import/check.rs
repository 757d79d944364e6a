//! The checks of an import file's entries. Each turns an entry into what
//! the store needs, or fails naming the entry and field at fault.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};
use shared::api::ServiceRow;
use shared::domain::{AccessKey, CustomerId, Date, ProviderCode, SettingMethod, Timestamp};

use super::Io;
use super::{ApiEntry, ConsentEntry, ImportError, LineEntry, PrefixEntry, ProviderEntry, invalid};
use crate::password;
use crate::rfc3339::jst;
use crate::store::{
    ConsentRecord, PREFIX_LENGTHS, PrefixRecord, ProviderApi, ProviderRecord, SettingRecord,
};

/// A checked line, its key not yet resolved to a hash.
pub struct CheckedLine {
    /// Its customer ID.
    pub id: CustomerId,
    /// Its key as the file gives it.
    pub key: KeyInput,
    /// Its services.
    pub services: Vec<ServiceRow>,
    /// Its settings per provider.
    pub settings: Vec<(ProviderCode, SettingRecord)>,
}

/// A line's access key in the file.
pub enum KeyInput {
    /// In plain text: hashed on import, unless it matches the stored hash.
    Plain(AccessKey),
    /// Already an Argon2 PHC string.
    Hash(String),
}

/// The ten digits of a customer ID as a number: a compact form for
/// finding duplicates among millions of lines.
pub fn id_number(id: &CustomerId) -> u64 {
    id.as_str()
        .bytes()
        .skip(3)
        .fold(0, |n, b| n * 10 + u64::from(b - b'0'))
}

/// The file's providers, in order; a code given twice is refused.
pub fn providers(
    list: &[ProviderEntry],
) -> Result<Vec<(ProviderCode, ProviderRecord)>, ImportError> {
    let mut checked = Vec::with_capacity(list.len());
    let mut codes = HashSet::with_capacity(list.len());
    // Each API client ID, and the provider that gave it first.
    let mut client_ids: HashMap<String, usize> = HashMap::new();
    for (i, p) in list.iter().enumerate() {
        let at = format!("providers[{i}]");
        let code = ProviderCode::parse(&p.code).map_err(|e| invalid(format!("{at}.code"), e))?;
        if !codes.insert(code.clone()) {
            return Err(invalid(
                format!("{at}.code"),
                format!("provider {code} appears twice"),
            ));
        }
        let record = ProviderRecord {
            service_name: text(&p.service_name, || format!("{at}.service_name"))?,
            name: text(&p.name, || format!("{at}.name"))?,
            purpose: p
                .purpose
                .as_deref()
                .map(|purpose| short_text(purpose, 200, || format!("{at}.purpose")))
                .transpose()?,
            api: p
                .api
                .as_ref()
                .map(|api| provider_api(api, &format!("{at}.api")))
                .transpose()?,
        };
        if let Some(api) = &record.api
            && let Some(j) = client_ids.insert(api.client_id.clone(), i)
        {
            return Err(invalid(
                format!("{at}.api.client_id"),
                format!("{} is also providers[{j}]'s client ID", api.client_id),
            ));
        }
        checked.push((code, record));
    }
    Ok(checked)
}

/// A provider's API registration: a client ID of 1 to 64 characters
/// `A-Z a-z 0-9 . _ ~ -`, a JWK set of public signing keys, a webhook URL
/// and secret.
fn provider_api(api: &ApiEntry, at: &str) -> Result<ProviderApi, ImportError> {
    let client_id = api.client_id.trim();
    if client_id.is_empty()
        || client_id.len() > 64
        || !client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_~".contains(&b))
    {
        return Err(invalid(
            format!("{at}.client_id"),
            "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '-', '_' and '~'",
        ));
    }
    crate::provider::auth::check_jwks(&api.jwks).map_err(|e| invalid(format!("{at}.jwks"), e))?;
    let webhook_url = crate::provider::webhook::check_webhook_url(api.webhook_url.trim())
        .map_err(|e| invalid(format!("{at}.webhook_url"), e))?;
    crate::provider::webhook::WebhookSecret::parse(api.webhook_secret.trim())
        .map_err(|e| invalid(format!("{at}.webhook_secret"), e))?;
    Ok(ProviderApi {
        client_id: client_id.to_owned(),
        jwks: api.jwks.clone(),
        webhook_url: webhook_url.to_string(),
        webhook_secret: api.webhook_secret.trim().to_owned(),
    })
}

/// Refuses a client ID that the file gives one provider and the store
/// another (which the file does not give a new one).
pub fn refuse_taken_client_ids(
    file: &[(ProviderCode, ProviderRecord)],
    stored: &[(ProviderCode, ProviderRecord)],
) -> Result<(), ImportError> {
    let in_file: HashSet<&ProviderCode> = file.iter().map(|(code, _)| code).collect();
    for (i, (code, record)) in file.iter().enumerate() {
        let Some(api) = &record.api else { continue };
        if let Some((other, _)) = stored.iter().find(|(other, r)| {
            other != code
                && !in_file.contains(other)
                && r.api.as_ref().is_some_and(|a| a.client_id == api.client_id)
        }) {
            return Err(invalid(
                format!("providers[{i}].api.client_id"),
                format!(
                    "{} is the client ID of stored provider {other}",
                    api.client_id
                ),
            ));
        }
    }
    Ok(())
}

/// Where a line names a provider: `lines[i]`, `notifications[j]`, and the
/// place as an error names it.
pub struct Place {
    line: usize,
    notification: usize,
    at: String,
}

/// `lines[i]`: its customer ID, then every field; each provider it names
/// must be `known`.
pub fn line(
    i: usize,
    l: &LineEntry,
    known: &mut KnownProviders<'_>,
) -> Result<CheckedLine, ImportError> {
    let id = CustomerId::parse(&l.customer_id)
        .map_err(|e| invalid(format!("lines[{i}].customer_id"), e))?;
    let at = || format!("lines[{i}] ({id})");
    let key = match (&l.access_key, &l.access_key_hash) {
        (Some(key), None) => KeyInput::Plain(
            AccessKey::parse(key).map_err(|e| invalid(format!("{}.access_key", at()), e))?,
        ),
        (None, Some(phc)) if password::is_valid_phc(phc) => KeyInput::Hash(phc.clone()),
        (None, Some(_)) => {
            return Err(invalid(
                format!("{}.access_key_hash", at()),
                "is not an Argon2 PHC string",
            ));
        }
        _ => {
            return Err(invalid(
                at(),
                "needs exactly one of access_key and access_key_hash",
            ));
        }
    };
    let mut services = Vec::with_capacity(l.services.len());
    for (j, s) in l.services.iter().enumerate() {
        services.push(ServiceRow {
            name: text(&s.name, || format!("{}.services[{j}].name", at()))?,
            status: s.status,
        });
    }
    let mut settings: Vec<(ProviderCode, SettingRecord)> =
        Vec::with_capacity(l.notifications.len());
    for (j, n) in l.notifications.iter().enumerate() {
        let nat = || format!("{}.notifications[{j}]", at());
        let code = ProviderCode::parse(&n.provider)
            .map_err(|e| invalid(format!("{}.provider", nat()), e))?;
        known.check(&code, &|| Place {
            line: i,
            notification: j,
            at: format!("{}.provider", nat()),
        })?;
        if settings.iter().any(|(seen, _)| *seen == code) {
            return Err(invalid(
                format!("{}.provider", nat()),
                format!("provider {code} appears twice"),
            ));
        }
        let set_on = Date::parse(&n.set_on).map_err(|e| invalid(format!("{}.set_on", nat()), e))?;
        let method =
            SettingMethod::parse(&n.method).map_err(|e| invalid(format!("{}.method", nat()), e))?;
        settings.push((
            code,
            SettingRecord {
                setting: n.setting,
                set_on,
                method,
            },
        ));
    }
    Ok(CheckedLine {
        id,
        key,
        services,
        settings,
    })
}

/// The notices, each kept as written.
pub fn notices(list: &[String]) -> Result<Vec<String>, ImportError> {
    list.iter()
        .enumerate()
        .map(|(i, n)| long_text(n, 1_000, || format!("notices[{i}]")))
        .collect()
}

/// The consent document, identified by the SHA-256 of its text.
pub fn consent(c: &ConsentEntry) -> Result<ConsentRecord, ImportError> {
    let version = text(&c.version, || "consent.version".into())?;
    let text = long_text(&c.text, 20_000, || "consent.text".into())?;
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    Ok(ConsentRecord {
        version,
        text,
        hash,
    })
}

/// Which providers the lines may name: the file's and the stored ones.
/// The file's `providers` may come after its `lines`: until it has been
/// read, a code neither stored nor yet known is remembered with the place
/// that first named it, and judged by [`KnownProviders::finish`].
pub struct KnownProviders<'s> {
    store: Io<'s>,
    /// The file's codes, once its `providers` has been read.
    file: Option<HashSet<ProviderCode>>,
    /// Whether each code asked about is stored (the store is read once).
    stored: HashMap<ProviderCode, bool>,
    /// Codes named before the file's `providers` was read and not stored.
    pending: HashMap<ProviderCode, Place>,
}

impl<'s> KnownProviders<'s> {
    /// Nothing known yet but what `store` holds.
    pub fn new(store: Io<'s>) -> Self {
        Self {
            store,
            file: None,
            stored: HashMap::new(),
            pending: HashMap::new(),
        }
    }

    /// The file's providers have been read.
    pub fn file_read(&mut self, providers: &[(ProviderCode, ProviderRecord)]) {
        self.file = Some(providers.iter().map(|(code, _)| code.clone()).collect());
    }

    /// Checks that a line may name `code`, or remembers where it did.
    pub fn check(
        &mut self,
        code: &ProviderCode,
        place: &dyn Fn() -> Place,
    ) -> Result<(), ImportError> {
        if self.file.as_ref().is_some_and(|file| file.contains(code)) {
            return Ok(());
        }
        let stored = match self.stored.get(code) {
            Some(&stored) => stored,
            None => {
                let stored = self
                    .store
                    .wait(self.store.store().provider(code))?
                    .is_some();
                self.stored.insert(code.clone(), stored);
                stored
            }
        };
        if stored {
            return Ok(());
        }
        if self.file.is_some() {
            return Err(invalid(place().at, format!("unknown provider {code}")));
        }
        self.pending.entry(code.clone()).or_insert_with(place);
        Ok(())
    }

    /// After the whole file: the first place that named a provider neither
    /// stored nor in the file, if any, is refused.
    pub fn finish(&mut self) -> Result<(), ImportError> {
        let file = self.file.get_or_insert_with(HashSet::new);
        let unknown = self
            .pending
            .drain()
            .filter(|(code, _)| !file.contains(code))
            .min_by_key(|(_, place)| (place.line, place.notification));
        match unknown {
            Some((code, place)) => Err(invalid(place.at, format!("unknown provider {code}"))),
            None => Ok(()),
        }
    }
}

/// Text fields of providers and services: 1 to 100 characters, no control
/// characters. `at` names the field, should it be wrong.
fn text(value: &str, at: impl Fn() -> String) -> Result<String, ImportError> {
    short_text(value, 100, at)
}

/// One line of text: 1 to `max` characters, no control characters.
fn short_text(value: &str, max: usize, at: impl Fn() -> String) -> Result<String, ImportError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(at(), "must not be empty"));
    }
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(invalid(
            at(),
            format!("must be at most {max} characters without control characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Notices and consent text: kept as written (line breaks allowed), not empty.
fn long_text(value: &str, max: usize, at: impl Fn() -> String) -> Result<String, ImportError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(at(), "must not be empty"));
    }
    if value.chars().count() > max || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid(
            at(),
            format!("must be at most {max} characters without control characters but line breaks"),
        ));
    }
    Ok(value.to_owned())
}

/// `prefixes[i]`: its line, its prefix (host bits zero, a length in
/// [`PREFIX_LENGTHS`]) and its times (`until` after `from`).
pub fn prefix(i: usize, p: &PrefixEntry) -> Result<PrefixRecord, ImportError> {
    let customer_id = CustomerId::parse(&p.customer_id)
        .map_err(|e| invalid(format!("prefixes[{i}].customer_id"), e))?;
    let at = |field: &str| format!("prefixes[{i}] ({customer_id}).{field}");
    let prefix: ipnet::Ipv6Net = p.prefix.trim().parse().map_err(|_| {
        invalid(
            at("prefix"),
            format!(
                "{:?} is not an IPv6 prefix such as 2001:db8:1234:5600::/56",
                p.prefix
            ),
        )
    })?;
    if !PREFIX_LENGTHS.contains(&prefix.prefix_len()) {
        return Err(invalid(
            at("prefix"),
            format!(
                "{prefix}: a line's prefix is /{} to /{}",
                PREFIX_LENGTHS.start(),
                PREFIX_LENGTHS.end()
            ),
        ));
    }
    if prefix.trunc() != prefix {
        return Err(invalid(
            at("prefix"),
            format!(
                "{prefix} has host bits set: the prefix is {}",
                prefix.trunc()
            ),
        ));
    }
    let from = rfc3339(&p.from).map_err(|e| invalid(at("from"), e))?;
    let until = p
        .until
        .as_deref()
        .map(|until| rfc3339(until).map_err(|e| invalid(at("until"), e)))
        .transpose()?;
    if until.is_some_and(|until| until <= from) {
        return Err(invalid(at("until"), "must be after from"));
    }
    Ok(PrefixRecord {
        prefix,
        from,
        until,
        customer_id,
    })
}

/// An RFC 3339 time with its offset, to the second.
fn rfc3339(value: &str) -> Result<Timestamp, String> {
    crate::rfc3339::parse(value).ok_or_else(|| {
        format!("{value:?} is not an RFC 3339 time such as 2026-11-01T00:00:00+09:00")
    })
}

/// Where an assignment in the overlap check comes from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// `prefixes[i]` of the file.
    File(usize),
    /// The store (not replaced by the file).
    Stored,
}

/// Refuses two assignments that give one address to two lines at one
/// instant, naming both lines. The file's assignments replace the stored
/// ones of the same line with the same prefix and start (a later `until`
/// closes one); the rest of the stored ones stay and are checked with the
/// file's, so that an assignment cannot be moved to another line after
/// the fact.
///
/// Prefixes are either nested or apart, so after sorting by network the
/// prefixes containing an assignment are the ones still on a stack: each
/// is compared with those only.
pub fn refuse_overlaps(
    file: &[PrefixRecord],
    stored: Vec<PrefixRecord>,
) -> Result<(), ImportError> {
    let replaced: HashSet<(ipnet::Ipv6Net, Timestamp, &CustomerId)> = file
        .iter()
        .map(|p| (p.prefix, p.from, &p.customer_id))
        .collect();
    let mut all: Vec<(&PrefixRecord, Origin)> = file
        .iter()
        .enumerate()
        .map(|(i, p)| (p, Origin::File(i)))
        .collect();
    all.extend(
        stored
            .iter()
            .filter(|p| !replaced.contains(&(p.prefix, p.from, &p.customer_id)))
            .map(|p| (p, Origin::Stored)),
    );
    all.sort_by_key(|(p, origin)| {
        (
            p.prefix.network(),
            p.prefix.prefix_len(),
            p.from,
            matches!(origin, Origin::Stored),
        )
    });
    // Two file entries for one assignment: the second is refused.
    for pair in all.windows(2) {
        let ((a, _), (b, Origin::File(j))) = (pair[0], pair[1]) else {
            continue;
        };
        if (a.prefix, a.from) == (b.prefix, b.from) {
            return Err(invalid(
                format!("prefixes[{j}] ({}).prefix", b.customer_id),
                format!("{} from {} appears twice", b.prefix, jst(b.from)),
            ));
        }
    }
    let mut containing: Vec<(&PrefixRecord, Origin)> = Vec::new();
    for (p, origin) in all {
        while containing
            .last()
            .is_some_and(|(outer, _)| !outer.prefix.contains(&p.prefix))
        {
            containing.pop();
        }
        for (other, other_origin) in &containing {
            if other.customer_id != p.customer_id && other.overlaps(p) {
                return Err(overlap((p, origin), (other, *other_origin)));
            }
        }
        containing.push((p, origin));
    }
    Ok(())
}

/// The error for two overlapping assignments, at the file's (the later
/// one when both are the file's).
fn overlap(a: (&PrefixRecord, Origin), b: (&PrefixRecord, Origin)) -> ImportError {
    let ((at, i), (other, other_origin)) = match (a.1, b.1) {
        (Origin::File(i), Origin::File(j)) if j > i => ((b.0, j), a),
        (Origin::File(i), _) => ((a.0, i), b),
        (_, Origin::File(j)) => ((b.0, j), a),
        (Origin::Stored, Origin::Stored) => ((a.0, 0), b),
    };
    let whence = match other_origin {
        Origin::File(j) => format!("prefixes[{j}]"),
        Origin::Stored => "stored".to_owned(),
    };
    let until = |p: &PrefixRecord| {
        p.until
            .map_or_else(|| "on".to_owned(), |until| format!("until {}", jst(until)))
    };
    invalid(
        format!("prefixes[{i}] ({}).prefix", at.customer_id),
        format!(
            "{} from {} {} overlaps {} given to {} from {} {} ({whence}): a prefix belongs to one line at a time",
            at.prefix,
            jst(at.from),
            until(at),
            other.prefix,
            other.customer_id,
            jst(other.from),
            until(other),
        ),
    )
}
