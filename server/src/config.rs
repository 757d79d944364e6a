//! The operator's command line (SPEC §5). Every flag can also be given as a
//! `KAISEN_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

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
        /// The database folder.
        #[arg(long, env = "KAISEN_DB")]
        db: PathBuf,
    },
    /// Write everything durable (lines, providers, settings, applications,
    /// the work queue, the outbox, …; not sessions) to a checksummed JSON
    /// Lines file. Stop `serve` first: it holds the database.
    Export {
        /// The file to write (never overwritten).
        file: PathBuf,
        /// The database folder.
        #[arg(long, env = "KAISEN_DB")]
        db: PathBuf,
    },
    /// Load an export into an empty database. The whole file is checked
    /// (format, every line, count, checksum) before anything is written.
    Restore {
        /// The export file.
        file: PathBuf,
        /// The database folder (created if missing; must be empty).
        #[arg(long, env = "KAISEN_DB")]
        db: PathBuf,
    },
    /// Print an application, found by its お申し込みID.
    Application {
        /// The 16-digit ID (spaces and hyphens allowed).
        id: String,
        /// The database folder.
        #[arg(long, env = "KAISEN_DB")]
        db: PathBuf,
    },
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
    /// The database folder (created if missing).
    #[arg(long, env = "KAISEN_DB")]
    pub db: PathBuf,
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
    /// How many Argon2 hashes may run at once (default: one per core);
    /// logins beyond that get 503 at once.
    #[arg(long, env = "KAISEN_HASH_SLOTS")]
    pub hash_slots: Option<usize>,
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
    /// Where completion mails are written as `.eml` files (when no SMTP relay).
    #[arg(long, env = "KAISEN_MAIL_DIR", default_value = "mail")]
    pub mail_dir: PathBuf,
    /// Send completion mails through this SMTP relay, e.g. `smtp://127.0.0.1:25`.
    #[arg(long, env = "KAISEN_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The wait before the first retry of a completion mail that could not
    /// be delivered; each further retry waits twice as long, at most an
    /// hour. Whole seconds (rounded up, at least 1 s).
    #[arg(long, env = "KAISEN_MAIL_RETRY_BASE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub mail_retry_base: Duration,
    /// The operator's contact details on the receipt, one line each (repeatable).
    #[arg(long = "contact", env = "KAISEN_CONTACT", value_delimiter = '\n', default_values_t = default_contact())]
    pub contact: Vec<String>,
}

fn default_contact() -> Vec<String> {
    vec![
        "回線情報通知 受付センター".to_owned(),
        "電話：0120-000-000（受付時間 9:00～17:00、年末年始を除く）".to_owned(),
        "お問い合わせの際は、お申し込みIDをお知らせください。".to_owned(),
    ]
}

impl ServeConfig {
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
mod tests {
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
