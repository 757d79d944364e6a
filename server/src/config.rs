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
    /// How many Argon2 hashes may run at once (default: one per core);
    /// logins beyond that get 503 at once.
    #[arg(long, env = "KAISEN_HASH_SLOTS")]
    pub hash_slots: Option<usize>,
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
