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
    /// The window of `--logins-per-line` and `--logins-per-address`.
    #[arg(long, env = "KAISEN_LOGIN_WINDOW", default_value = "1m", value_parser = humantime::parse_duration)]
    pub login_window: Duration,
    /// An API request (its body included) must be done within this.
    #[arg(long, env = "KAISEN_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
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
    /// How many hashing slots: `--hash-slots`, or one per core.
    pub fn hash_slot_count(&self) -> usize {
        self.hash_slots.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        })
    }

    /// Whether subscribers reach the portal over HTTPS.
    pub fn https(&self) -> bool {
        self.tls_cert.is_some() || self.assume_https
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
