//! The operator's command line (SPEC §5). Every flag can also be given as a
//! `KAISEN_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use lettre::message::Mailbox;

/// kaisen: the line-information notification portal and its operator tool.
#[derive(Debug, Parser)]
#[command(name = "kaisen", version, about)]
pub struct Cli {
    /// How log lines are written (to standard error; `RUST_LOG` filters).
    #[arg(
        long,
        global = true,
        env = "KAISEN_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: crate::telemetry::LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the portal.
    Serve(Box<ServeConfig>),
    /// Load providers, lines, notices and the consent text from a JSON file.
    Import {
        /// The import file (SPEC §5 format).
        file: PathBuf,
        /// The database.
        #[command(flatten)]
        database: Database,
    },
    /// Write every durable record (lines, providers, settings,
    /// applications, the outbox, …; not sessions) to a checksummed JSON
    /// Lines file. With sled, stop `serve` first: it holds the folder.
    Export {
        /// The file to write (never overwritten).
        file: PathBuf,
        /// The database.
        #[command(flatten)]
        database: Database,
    },
    /// Load an export into an empty database. The whole file is checked
    /// (format, every line, count, checksum) before anything is written.
    Restore {
        /// The export file.
        file: PathBuf,
        /// The database (created if missing; must be empty).
        #[command(flatten)]
        database: Database,
    },
    /// Apply the database schema's migrations (PostgreSQL; `serve` applies
    /// them too, safely when several start at once). A sled folder needs
    /// none.
    Migrate {
        /// The database.
        #[command(flatten)]
        database: Database,
    },
    /// Operator accounts of the console: `add`, `disable`, `list`. With
    /// sled, stop `serve` first (it holds the folder), or use the
    /// console's 「オペレーター管理」.
    Operator {
        /// What to do.
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Print an application, found by its お申し込みID.
    Application {
        /// The 16-digit ID (spaces and hyphens allowed).
        id: String,
        /// The database.
        #[command(flatten)]
        database: Database,
    },
}

/// `kaisen operator …`.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Make an account; prints its one-time password, which must be
    /// changed at the first login (with the TOTP enrolment).
    Add {
        /// The login name: 1 to 32 of a-z 0-9 . _ -
        name: String,
        /// What the operator may do.
        #[arg(long, value_enum)]
        role: crate::store::operators::OperatorRole,
        /// The database.
        #[command(flatten)]
        database: Database,
    },
    /// Disable an account: it cannot log in, and its sessions end.
    Disable {
        /// The login name.
        name: String,
        /// The database.
        #[command(flatten)]
        database: Database,
    },
    /// List the accounts.
    List {
        /// The database.
        #[command(flatten)]
        database: Database,
    },
}

impl OperatorCommand {
    /// The database the command uses.
    pub fn database(&self) -> &Database {
        match self {
            Self::Add { database, .. }
            | Self::Disable { database, .. }
            | Self::List { database } => database,
        }
    }
}

/// Which database a command uses: `--db <dir>` (sled, embedded) or
/// `--database <url>` (PostgreSQL), never both.
#[derive(Clone, Default, Args)]
pub struct Database {
    /// The sled database folder (created if missing): one process, one disk.
    #[arg(long, env = "KAISEN_DB")]
    pub db: Option<PathBuf>,
    /// A PostgreSQL database, `postgres://user@host/db` (any number of
    /// processes; several hosts as `host=a,b` with
    /// `target_session_attrs=read-write`).
    #[arg(long, env = "KAISEN_DATABASE")]
    pub database: Option<String>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A URL's password is never shown.
        let database = self
            .database
            .as_ref()
            .map(|url| crate::store::Location::Postgres(url.clone()).to_string());
        f.debug_struct("Database")
            .field("db", &self.db)
            .field("database", &database)
            .finish()
    }
}

impl Database {
    /// The sled folder `dir`.
    pub fn sled(dir: &std::path::Path) -> Self {
        Self {
            db: Some(dir.to_path_buf()),
            database: None,
        }
    }

    /// Where the database is; exactly one of the two must be given.
    pub fn location(&self) -> Result<crate::store::Location, String> {
        use crate::store::Location;
        match (&self.db, &self.database) {
            (Some(dir), None) => Ok(Location::Sled(dir.clone())),
            (None, Some(url)) => Ok(Location::Postgres(url.clone())),
            (Some(_), Some(_)) => Err(
                "give either --db <dir> (sled) or --database <url> (PostgreSQL), not both \
                 (KAISEN_DB and KAISEN_DATABASE count as given)"
                    .into(),
            ),
            (None, None) => Err(
                "give the database: --db <dir> (sled) or --database <url> (PostgreSQL), \
                 or KAISEN_DB / KAISEN_DATABASE"
                    .into(),
            ),
        }
    }
}

/// How the portal runs.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "KAISEN_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Serve HTTPS with this PEM certificate chain (with `--tls-key`).
    #[arg(long, env = "KAISEN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "KAISEN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The portal is reached over HTTPS through a reverse proxy that ends
    /// TLS: cookies are `Secure` and HSTS is sent, as with `--tls-cert`.
    #[arg(long, env = "KAISEN_ASSUME_HTTPS")]
    pub assume_https: bool,
    /// The database.
    #[command(flatten)]
    pub database: Database,
    /// The origin subscribers use, e.g. `https://kaisen.example.jp` (scheme,
    /// host and port; no path). State-changing requests must come from it.
    /// Without it, the request's own authority (`Host`, or HTTP/2's
    /// `:authority`) and the listener's scheme are the origin.
    #[arg(long, env = "KAISEN_PUBLIC_URL", value_parser = PublicOrigin::parse)]
    pub public_url: Option<PublicOrigin>,
    /// How long the provisioning work takes, e.g. `60m`, `3s`.
    #[arg(long, env = "KAISEN_WORK_DELAY", default_value = "60m", value_parser = humantime::parse_duration)]
    pub work_delay: Duration,
    /// Load the demo data set when the database holds no line.
    #[arg(long, env = "KAISEN_DEMO")]
    pub demo: bool,
    /// The built client (`cargo xtask client` writes it to `target/site`).
    #[arg(long, env = "KAISEN_SITE", default_value = "target/site")]
    pub site: PathBuf,
    /// How many Argon2 hashes may run at once (default: one per core); each
    /// slot holds one 19 MiB buffer for good.
    #[arg(long, env = "KAISEN_HASH_SLOTS")]
    pub hash_slots: Option<usize>,
    /// How long a login waits, in order of arrival, for a hashing slot
    /// before it is answered 503.
    #[arg(long, env = "KAISEN_HASH_WAIT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub hash_wait: Duration,
    /// How many logins may wait for a hashing slot at once; further ones
    /// are answered 503 at once.
    #[arg(long, env = "KAISEN_HASH_QUEUE", default_value_t = 64)]
    pub hash_queue: usize,
    /// Logins (of any outcome) per line within `--login-window`; further
    /// ones are answered 429.
    #[arg(long, env = "KAISEN_LOGINS_PER_LINE", default_value_t = 10)]
    pub logins_per_line: usize,
    /// Logins (of any outcome) per client address within `--login-window`;
    /// further ones are answered 429. Generous: many subscribers can share
    /// an address (a carrier-grade NAT).
    #[arg(long, env = "KAISEN_LOGINS_PER_ADDRESS", default_value_t = 120)]
    pub logins_per_address: usize,
    /// Accept a login only from an address inside one of the line's
    /// current IPv6 prefixes (SPEC §8), the client address as
    /// `--trusted-proxy` says.
    #[arg(long, env = "KAISEN_LINE_LOGIN_ONLY")]
    pub line_login_only: bool,
    /// Provider API requests per second per provider (this process's);
    /// beyond it and its burst the answer is 429 with `Retry-After`.
    #[arg(long, env = "KAISEN_PROVIDER_RATE", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub provider_rate: u32,
    /// Provider API requests a provider may make at once above its rate.
    #[arg(long, env = "KAISEN_PROVIDER_BURST", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub provider_burst: u32,
    /// The window of `--logins-per-line` and `--logins-per-address`.
    #[arg(long, env = "KAISEN_LOGIN_WINDOW", default_value = "1m", value_parser = humantime::parse_duration)]
    pub login_window: Duration,
    /// An API request (its body included) must be done within this.
    #[arg(long, env = "KAISEN_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Connections open at once; beyond it a connection gets a 503 at once
    /// (default: 10,000, fewer if the process may open fewer files).
    #[arg(long, env = "KAISEN_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// A request's header, and a TLS handshake, must arrive within this.
    #[arg(long, env = "KAISEN_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// A connection with no request in flight (or with no byte moving) is
    /// closed after this.
    #[arg(long, env = "KAISEN_KEEP_ALIVE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub keep_alive_timeout: Duration,
    /// On SIGTERM or SIGINT: how long requests in flight, the worker's
    /// current step and the mailer's current mail may take to finish.
    #[arg(long, env = "KAISEN_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
    /// Serve the operator console on this address (`/console/`); off
    /// unless given. Never the public address: keep it on the operators'
    /// own network. HTTPS with `--tls-cert`, as the portal.
    #[arg(long, env = "KAISEN_OPERATOR_ADDR")]
    pub operator_addr: Option<SocketAddr>,
    /// Serve Prometheus metrics on this address (`/metrics`); off unless given.
    #[arg(long, env = "KAISEN_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// A session ends after this long without a request.
    #[arg(long, env = "KAISEN_IDLE_TIMEOUT", default_value = "20m", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// A session ends this long after login, whatever happens.
    #[arg(long, env = "KAISEN_SESSION_LIMIT", default_value = "8h", value_parser = humantime::parse_duration)]
    pub session_limit: Duration,
    /// Mail domains refused besides the mobile carriers' (repeatable).
    #[arg(
        long = "refuse-mail-domain",
        env = "KAISEN_REFUSE_MAIL_DOMAINS",
        value_delimiter = ','
    )]
    pub refused_mail_domains: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (repeatable);
    /// from any other peer the connection's address is the client's.
    #[arg(
        long = "trusted-proxy",
        env = "KAISEN_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The sender of completion mails: `noreply@example.jp`, or with a
    /// display name, `回線情報通知 受付センター <noreply@example.jp>`.
    /// Required with `--smtp-url`; `.eml` files otherwise come from an
    /// example sender (`noreply@kaisen.example`).
    #[arg(long, env = "KAISEN_MAIL_FROM", value_parser = crate::mail::parse_sender)]
    pub mail_from: Option<Mailbox>,
    /// Where completion mails are written as `.eml` files (when no SMTP relay).
    #[arg(long, env = "KAISEN_MAIL_DIR", default_value = "mail")]
    pub mail_dir: PathBuf,
    /// Send completion mails through this SMTP relay instead of writing
    /// files: `smtps://host:465` (implicit TLS), `smtp://host:587?tls=required`
    /// (STARTTLS) or `smtp://host:25` (plain, on the operator's own network).
    /// A login may be in it (`smtps://user:password@host`).
    #[arg(long, env = "KAISEN_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<SmtpUrl>,
    /// The user kaisen logs in to the relay as (when the URL names none).
    #[arg(long, env = "KAISEN_SMTP_USER", requires = "smtp_url")]
    pub smtp_user: Option<String>,
    /// The relay password; prefer the environment variable, which `ps` does
    /// not show.
    #[arg(
        long,
        env = "KAISEN_SMTP_PASSWORD",
        hide_env_values = true,
        requires = "smtp_url"
    )]
    pub smtp_password: Option<Password>,
    /// Trust only the PEM certificates in this file for the relay's TLS (a
    /// private CA), instead of the usual public roots.
    #[arg(long, env = "KAISEN_SMTP_CA_FILE", requires = "smtp_url")]
    pub smtp_ca_file: Option<PathBuf>,
    /// The wait before the first retry of a completion mail that could not
    /// be delivered; each further retry waits twice as long, at most an
    /// hour. Whole seconds (rounded up, at least 1 s).
    #[arg(long, env = "KAISEN_MAIL_RETRY_BASE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub mail_retry_base: Duration,
    /// The operator's contact details on the receipt and in the completion
    /// mail, one line each (repeatable; newline-separated in the
    /// environment). Required, except with `--demo`, which shows demo ones.
    #[arg(long = "contact", env = "KAISEN_CONTACT", value_delimiter = '\n')]
    pub contact: Vec<String>,
}

/// `--smtp-url` as given. It may hold a password, which `Debug` hides; it is
/// read (and checked) when the server starts, whose messages hide it too.
#[derive(Clone)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for SmtpUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(url) => write!(f, "{:?}", crate::mail::without_password(&url)),
            Err(_) => f.write_str("(not a URL)"),
        }
    }
}

/// A password, never shown by `Debug`.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// The password itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Password {
    fn from(password: String) -> Self {
        Self(password)
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The contact details of `--demo` without `--contact`: plainly not a real
/// help desk, and no invented telephone number.
fn demo_contact() -> Vec<String> {
    vec![
        "【デモ】回線情報通知 受付センター（架空の窓口です）".to_owned(),
        "【デモ】実際のお問い合わせ先は、運用時に設定されます。".to_owned(),
    ]
}

impl ServeConfig {
    /// The session limits (SPEC §4), in whole seconds.
    pub fn session_limits(&self) -> crate::store::SessionLimits {
        crate::store::SessionLimits {
            idle_secs: i64::try_from(self.idle_timeout.as_secs()).unwrap_or(i64::MAX),
            total_secs: i64::try_from(self.session_limit.as_secs()).unwrap_or(i64::MAX),
        }
    }

    /// Fills in what `--demo` implies and refuses what an operator must
    /// give: the contact details every receipt prints, and a real sender
    /// for mail that leaves the machine.
    pub fn settle(&mut self) -> Result<(), String> {
        if self.smtp_url.is_some() && self.mail_from.is_none() {
            return Err("--mail-from (KAISEN_MAIL_FROM) is required with --smtp-url: the sender of the completion mails, e.g. \"回線情報通知 受付センター <noreply@example.jp>\"".to_owned());
        }
        if self.contact.iter().all(|line| line.trim().is_empty()) {
            if !self.demo {
                return Err("--contact (KAISEN_CONTACT) is required: the operator's contact details, printed on every receipt and completion mail (one line each: repeat --contact, or separate the lines with newlines in KAISEN_CONTACT); --demo shows demo ones".to_owned());
            }
            self.contact = demo_contact();
        }
        Ok(())
    }

    /// The sender of completion mails: `--mail-from`, else the example one
    /// (which only `.eml` files may have: see [`ServeConfig::settle`]).
    pub fn sender(&self) -> Mailbox {
        self.mail_from.clone().unwrap_or_else(|| {
            crate::mail::parse_sender(crate::mail::EXAMPLE_SENDER)
                .unwrap_or_else(|e| unreachable!("the example sender parses: {e}"))
        })
    }

    /// Whether subscribers reach the portal over HTTPS.
    pub fn https(&self) -> bool {
        self.tls_cert.is_some()
            || self.assume_https
            || self.public_url.as_ref().is_some_and(PublicOrigin::is_https)
    }

    /// Argon2 hashes at once: `--hash-slots`, or one per core.
    pub fn hash_slots(&self) -> usize {
        self.hash_slots.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        })
    }

    /// The cap on open connections: `--max-connections`, or 10,000 but at
    /// most what the open-files limit `files` leaves after a reserve for
    /// the store, the mail and the blocking pool.
    pub fn max_connections(&self, files: u64) -> usize {
        self.max_connections.unwrap_or_else(|| {
            let room = usize::try_from(files.saturating_sub(256)).unwrap_or(usize::MAX);
            room.clamp(16, 10_000)
        })
    }

    /// The session cookie's name: over HTTPS with the `__Host-` prefix, which
    /// the browser accepts only with `Secure`, `Path=/` and no `Domain`.
    pub fn session_cookie(&self) -> &'static str {
        if self.https() {
            "__Host-kaisen_session"
        } else {
            "kaisen_session"
        }
    }
}

/// An origin: scheme, host and port (the default port of the scheme when
/// none is written), as a browser's `Origin` header names a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicOrigin {
    https: bool,
    host: String,
    port: u16,
}

impl PublicOrigin {
    /// Parses `--public-url`: `http://` or `https://`, a host, an optional
    /// port, and at most a trailing `/`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{text}: {why} (expected e.g. https://kaisen.example.jp)");
        let uri: axum::http::Uri = text.parse().map_err(|_| bad("not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("the scheme must be http or https")),
        };
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(bad("an origin has no path or query"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("an origin has no user name"));
        }
        Self::from_authority(https, authority.as_str()).ok_or_else(|| bad("no host"))
    }

    /// The origin of a request that reached a listener of this scheme with
    /// this authority (`host[:port]`).
    pub fn from_authority(https: bool, authority: &str) -> Option<Self> {
        let authority: axum::http::uri::Authority = authority.parse().ok()?;
        if authority.host().is_empty() || authority.as_str().contains('@') {
            return None;
        }
        Some(Self {
            https,
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
        })
    }

    /// The origin an `Origin` header names; `None` for `null` or garbage.
    pub fn from_origin_header(origin: &str) -> Option<Self> {
        if let Some(authority) = origin.strip_prefix("https://") {
            Self::from_authority(true, authority)
        } else {
            Self::from_authority(false, origin.strip_prefix("http://")?)
        }
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.https
    }
}

impl std::fmt::Display for PublicOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (scheme, default) = if self.https {
            ("https", 443)
        } else {
            ("http", 80)
        };
        write!(f, "{scheme}://{}", self.host)?;
        if self.port != default {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod origin_tests {
    use super::PublicOrigin;

    #[test]
    fn a_public_url_is_an_origin_with_its_default_port_made_explicit() {
        let origin = PublicOrigin::parse("https://Kaisen.Example.jp/").unwrap();
        assert_eq!(origin.to_string(), "https://kaisen.example.jp");
        assert_eq!(
            PublicOrigin::from_origin_header("https://kaisen.example.jp:443"),
            Some(origin)
        );
        let port = PublicOrigin::parse("http://10.0.0.5:8080").unwrap();
        assert_eq!(port.to_string(), "http://10.0.0.5:8080");
        assert!(!port.is_https());
    }

    #[test]
    fn a_public_url_with_a_path_another_scheme_or_no_host_is_refused() {
        for bad in [
            "https://kaisen.example.jp/portal",
            "ftp://kaisen.example.jp",
            "kaisen.example.jp",
            "https://user@kaisen.example.jp",
            "https://kaisen.example.jp/?a=b",
            "https://",
        ] {
            assert!(PublicOrigin::parse(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    #[test]
    fn debug_output_never_shows_an_smtp_password() {
        let cli = Cli::try_parse_from([
            "kaisen",
            "serve",
            "--db",
            "db",
            "--smtp-url",
            "smtps://kaisen:in-the-url@mail.example.jp",
            "--smtp-password",
            "from-the-flag",
        ])
        .expect("the flags parse");
        let shown = format!("{cli:?}");
        assert!(!shown.contains("in-the-url"), "{shown}");
        assert!(!shown.contains("from-the-flag"), "{shown}");
        assert!(
            shown.contains("smtps://kaisen:***@mail.example.jp"),
            "{shown}"
        );
    }

    #[test]
    fn smtp_login_flags_need_an_smtp_url() {
        let refused = Cli::try_parse_from(["kaisen", "serve", "--db", "db", "--smtp-user", "u"])
            .expect_err("no relay to log in to");
        assert!(refused.to_string().contains("--smtp-url"), "{refused}");
    }
}
