//! The SMTP relay of `--smtp-url`: where it is, how the connection is
//! encrypted, and as whom kaisen logs in. Parsed once at start-up, so that a
//! typo (`?tls=require`) stops the server instead of sending in the clear;
//! no message ever shows the password.
//!
//! - `smtp://host[:25]`: plain SMTP, for a relay on the operator's own
//!   network. No credentials: they would cross the wire unencrypted.
//! - `smtp://host[:587]?tls=required`: STARTTLS, refusing a relay that does
//!   not offer it.
//! - `smtps://host[:465]`: implicit TLS (RFC 8314).
//!
//! TLS is rustls with Mozilla's roots, or only the certificates of
//! `--smtp-ca-file` for a relay with a private CA.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use lettre::SmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use url::{Host, Url};

/// How long one SMTP command may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// None (`smtp://`).
    Plain,
    /// STARTTLS, required (`smtp://…?tls=required`).
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Tls,
}

/// A relay, as `--smtp-url`, `--smtp-user`, `--smtp-password` and
/// `--smtp-ca-file` describe it.
pub struct Relay {
    /// The host to connect to, and whose name the certificate must carry.
    host: String,
    port: u16,
    security: Security,
    credentials: Option<(String, String)>,
    /// `--smtp-url` with the password replaced, for messages.
    shown: String,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("url", &self.shown)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Reads `--smtp-url`, with the login of `--smtp-user` and
    /// `--smtp-password` when the URL has none.
    pub fn parse(url: &str, user: Option<&str>, password: Option<&str>) -> Result<Self, String> {
        // `url`'s messages never repeat the input, which may hold a password.
        let parsed = Url::parse(url).map_err(|e| {
            format!("--smtp-url: not a URL ({e}); expected smtp://host:port, smtp://host:587?tls=required or smtps://host:465")
        })?;
        let shown = without_password(&parsed);
        let bad = |why: &str| format!("--smtp-url {shown}: {why}");

        let mut tls = None;
        for (key, value) in parsed.query_pairs() {
            match (key.as_ref(), tls) {
                ("tls", None) => tls = Some(value.into_owned()),
                _ => return Err(bad(&format!("unknown parameter {key}={value}"))),
            }
        }
        let (security, default_port) = match (parsed.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::StartTls, 587),
            ("smtps", None) => (Security::Tls, 465),
            ("smtp", Some(other)) => {
                return Err(bad(&format!(
                    "tls={other}: the only value is tls=required (STARTTLS); smtps:// is implicit TLS"
                )));
            }
            ("smtps", Some(_)) => {
                return Err(bad("smtps:// is always TLS: no tls= parameter"));
            }
            (scheme, _) => {
                return Err(bad(&format!(
                    "unknown scheme {scheme}://: expected smtp:// or smtps://"
                )));
            }
        };
        let host = match parsed.host() {
            Some(Host::Domain(name)) => name.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(bad("no host")),
        };
        if !matches!(parsed.path(), "" | "/") || parsed.fragment().is_some() {
            return Err(bad("nothing may follow host:port but ?tls=required"));
        }

        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(Cow::into_owned)
                .map_err(|_| bad("the login is not UTF-8 once decoded"))
        };
        let url_user = Some(parsed.username())
            .filter(|u| !u.is_empty())
            .map(decode)
            .transpose()?;
        let url_password = parsed.password().map(decode).transpose()?;
        let user = match (url_user, user) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "the user is in the URL and in --smtp-user: give it once",
                ));
            }
            (from_url, from_flag) => from_url.or_else(|| from_flag.map(str::to_owned)),
        };
        let password = match (url_password, password) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "the password is in the URL and in --smtp-password (KAISEN_SMTP_PASSWORD): give it once",
                ));
            }
            (from_url, from_flag) => from_url.or_else(|| from_flag.map(str::to_owned)),
        };
        let credentials = match (user, password) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(bad(
                    "a user but no password: set KAISEN_SMTP_PASSWORD (or --smtp-password)",
                ));
            }
            (None, Some(_)) => {
                return Err(bad(
                    "a password but no user: set --smtp-user (KAISEN_SMTP_USER)",
                ));
            }
        };
        if credentials.is_some() && security == Security::Plain {
            return Err(bad(
                "a login over plain SMTP would send the password unencrypted: use smtps://host:465 (implicit TLS) or smtp://host:587?tls=required (STARTTLS)",
            ));
        }
        Ok(Self {
            host,
            port: parsed.port().unwrap_or(default_port),
            security,
            credentials,
            shown,
        })
    }

    /// The transport, trusting only the PEM certificates of `ca_file` when
    /// given (else Mozilla's roots).
    pub fn transport(&self, ca_file: Option<&Path>) -> Result<SmtpTransport, String> {
        let mut builder = SmtpTransport::builder_dangerous(self.host.as_str())
            .port(self.port)
            .timeout(Some(TIMEOUT));
        let tls = match self.security {
            Security::Plain => {
                if let Some(ca) = ca_file {
                    return Err(format!(
                        "--smtp-ca-file {}: --smtp-url {} is plain SMTP, without TLS",
                        ca.display(),
                        self.shown
                    ));
                }
                None
            }
            Security::StartTls | Security::Tls => Some(self.tls_parameters(ca_file)?),
        };
        builder = match (self.security, tls) {
            (Security::StartTls, Some(tls)) => builder.tls(Tls::Required(tls)),
            (Security::Tls, Some(tls)) => builder.tls(Tls::Wrapper(tls)),
            _ => builder,
        };
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }

    fn tls_parameters(&self, ca_file: Option<&Path>) -> Result<TlsParameters, String> {
        let mut parameters = TlsParameters::builder(self.host.clone());
        if let Some(path) = ca_file {
            let bad = |why: Cow<'_, str>| format!("--smtp-ca-file {}: {why}", path.display());
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string().into()))?;
            if !pem
                .windows(CERTIFICATE_PEM.len())
                .any(|w| w == CERTIFICATE_PEM)
            {
                return Err(bad("no PEM certificate in it".into()));
            }
            let certificates =
                Certificate::from_pem(&pem).map_err(|e| bad(e.to_string().into()))?;
            parameters = parameters
                .certificate_store(CertificateStore::None)
                .add_root_certificate(certificates);
        }
        parameters
            .build_rustls()
            .map_err(|e| format!("--smtp-url {}: TLS: {e}", self.shown))
    }
}

/// `url` with its password, if any, replaced by `***`: for messages.
pub fn without_password(url: &Url) -> String {
    let mut shown = url.clone();
    if url.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.into()
}

/// The start of a PEM certificate.
const CERTIFICATE_PEM: &[u8] = b"-----BEGIN CERTIFICATE-----";

#[cfg(test)]
mod tests {
    use super::{Relay, Security};

    fn error(url: &str, user: Option<&str>, password: Option<&str>) -> String {
        Relay::parse(url, user, password).expect_err("refused")
    }

    #[test]
    fn the_scheme_and_tls_parameter_choose_the_security_and_the_default_port() {
        for (url, security, port) in [
            ("smtp://relay.example.jp", Security::Plain, 25),
            ("smtp://relay.example.jp:2525/", Security::Plain, 2525),
            (
                "smtp://relay.example.jp?tls=required",
                Security::StartTls,
                587,
            ),
            ("smtps://relay.example.jp", Security::Tls, 465),
            ("smtps://[::1]:1465", Security::Tls, 1465),
        ] {
            let relay = Relay::parse(url, None, None).expect(url);
            assert_eq!((relay.security, relay.port), (security, port), "{url}");
        }
        assert_eq!(
            Relay::parse("smtps://[::1]:1465", None, None)
                .expect("IPv6")
                .host,
            "::1"
        );
    }

    #[test]
    fn a_mistyped_tls_parameter_or_scheme_is_refused_rather_than_sent_in_the_clear() {
        for (url, says) in [
            ("smtp://relay.example.jp?tls=require", "tls=require"),
            ("smtp://relay.example.jp?tls=opportunistic", "tls=required"),
            ("smtp://relay.example.jp?starttls=1", "unknown parameter"),
            ("smtps://relay.example.jp?tls=required", "always TLS"),
            ("smtpx://relay.example.jp", "unknown scheme"),
            ("smtp://relay.example.jp/helo", "nothing may follow"),
            ("relay.example.jp:25", "unknown scheme"),
        ] {
            let message = error(url, None, None);
            assert!(message.contains(says), "{url}: {message}");
        }
    }

    #[test]
    fn the_login_comes_from_the_url_or_the_flags_once_and_never_over_plain_smtp() {
        let relay = Relay::parse("smtps://kaisen%40isp:p%40ss@mail.example.jp", None, None)
            .expect("a login in the URL");
        assert_eq!(
            relay.credentials,
            Some(("kaisen@isp".to_owned(), "p@ss".to_owned()))
        );
        let relay = Relay::parse(
            "smtps://kaisen@mail.example.jp",
            None,
            Some("from-the-environment"),
        )
        .expect("the user in the URL, the password from the environment");
        assert_eq!(
            relay.credentials,
            Some(("kaisen".to_owned(), "from-the-environment".to_owned()))
        );
        let message = error("smtp://u:secret@relay.example.jp", None, None);
        assert!(message.contains("unencrypted"), "{message}");
        assert!(!message.contains("secret"), "{message}");
        assert!(message.contains("u:***@"), "{message}");
        let message = error("smtps://mail.example.jp", Some("kaisen"), None);
        assert!(message.contains("KAISEN_SMTP_PASSWORD"), "{message}");
        let message = error("smtps://mail.example.jp", None, Some("secret"));
        assert!(message.contains("--smtp-user"), "{message}");
        let message = error("smtps://a:secret@mail.example.jp", None, Some("other"));
        assert!(
            message.contains("give it once") && !message.contains("secret"),
            "{message}"
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let relay =
            Relay::parse("smtps://kaisen:hunter2@mail.example.jp", None, None).expect("a relay");
        let shown = format!("{relay:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("kaisen"), "{shown}");
    }
}
