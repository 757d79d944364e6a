//! The completion mail (工事完了通知メール, issue 3 point 5): written as an
//! `.eml` file by default, sent through an SMTP relay when one is given —
//! here a real one, started by the test, that refuses at first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use lettre::message::header::{Date, Header};
use reqwest::StatusCode;
use rustls::pki_types::PrivatePkcs8KeyDer;
use serde_json::json;
use shared::domain::{ApplicationId, Timestamp};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::helpers::{
    KEY_A, LINE_A, MAIL_FROM, WORK_TIMEOUT, provider_name, spawn_app_with, start_refusal,
};

/// How long a test waits for a mail at most.
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

/// An application's stored record, read from the app's own store.
async fn record(app: &crate::helpers::TestApp, id: &str) -> kaisen::store::ApplicationRecord {
    let id = ApplicationId::parse(id).expect("an ID");
    app.store
        .application(id)
        .await
        .expect("the store reads")
        .expect("the application exists")
}

/// The names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("the mail folder exists")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .into_string()
                .expect("a UTF-8 name")
        })
        .collect()
}

/// Polls `done` every 100 ms until it holds, failing after `timeout`.
async fn wait_until(what: &str, timeout: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A mail as RFC 5322 text: its headers (unfolded) and its body, decoded
/// from base64 as UTF-8, with `\n` line ends.
struct Mail {
    headers: Vec<(String, String)>,
    body: String,
}

impl Mail {
    fn parse(raw: &str) -> Self {
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .expect("headers, a blank line, a body");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                let last = headers.last_mut().expect("a folded line follows a header");
                last.1.push_str(line.trim_start());
            } else {
                let (name, value) = line.split_once(':').expect("a header line");
                headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let mail = Self {
            headers,
            body: String::new(),
        };
        assert_eq!(
            mail.header("content-transfer-encoding"),
            "base64",
            "the body of a Japanese mail is base64"
        );
        assert!(
            mail.header("content-type")
                .to_ascii_lowercase()
                .starts_with("text/plain; charset=utf-8"),
            "{}",
            mail.header("content-type")
        );
        let encoded: String = body.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("valid base64");
        Self {
            // lettre sends CRLF line ends; compare lines as written.
            body: String::from_utf8(bytes)
                .expect("UTF-8")
                .replace("\r\n", "\n"),
            ..mail
        }
    }

    /// The `From` header, its RFC 2047 encoded words decoded.
    fn from(&self) -> String {
        decode_words(self.header("from"))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header"))
    }
}

/// A header value with its `=?utf-8?b?…?=` words decoded (the spaces
/// between two encoded words dropped, as RFC 2047 says).
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut last_encoded = false;
    for word in value.split_whitespace() {
        let encoded = word
            .strip_prefix("=?utf-8?b?")
            .or_else(|| word.strip_prefix("=?UTF-8?B?"))
            .and_then(|w| w.strip_suffix("?="));
        let joined = last_encoded && encoded.is_some();
        if !out.is_empty() && !joined {
            out.push(' ');
        }
        match encoded {
            Some(text) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .expect("valid base64");
                out.push_str(&String::from_utf8(bytes).expect("UTF-8"));
            }
            None => out.push_str(word),
        }
        last_encoded = encoded.is_some();
    }
    out
}

/// Asserts what every completion mail holds, and what it never holds.
#[track_caller]
fn assert_completion_mail(raw: &str, id: &str, completed_at: i64) -> Mail {
    for secret in [KEY_A, LINE_A] {
        assert!(!raw.contains(secret), "the raw mail shows {secret}");
    }
    let mail = Mail::parse(raw);
    assert_eq!(mail.from(), MAIL_FROM, "{}", mail.header("from"));
    for name in [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
    ] {
        let count = mail.headers.iter().filter(|(n, _)| n == name).count();
        assert_eq!(count, 1, "{name} headers in\n{raw}");
    }
    // Made of the application's ID and the sender's domain: a redelivery
    // is recognisably the same mail.
    let domain = MAIL_FROM
        .rsplit_once('@')
        .map(|(_, domain)| domain.trim_end_matches('>'))
        .expect("a domain");
    assert_eq!(
        mail.header("message-id"),
        format!("<{id}.completion@{domain}>")
    );
    assert_eq!(mail.header("mime-version"), "1.0");
    // The completion of the work, not the time of this attempt.
    let date: SystemTime = Date::parse(mail.header("date"))
        .unwrap_or_else(|e| panic!("not an RFC 5322 date ({e}): {}", mail.header("date")))
        .into();
    let completed = UNIX_EPOCH + Duration::from_secs(completed_at.unsigned_abs());
    assert_eq!(date, completed, "{}", mail.header("date"));
    assert_eq!(mail.header("to"), "taro@example.jp");
    assert!(
        mail.header("subject").starts_with("=?utf-8?"),
        "{}",
        mail.header("subject")
    );
    let body = &mail.body;
    for secret in [KEY_A, LINE_A] {
        assert!(!body.contains(secret), "the mail shows {secret}:\n{body}");
    }
    assert!(body.starts_with("山田 太郎 様\n"), "{body}");
    assert!(body.contains("工事が完了しました"), "{body}");
    assert!(body.contains(&format!("お申し込みID：{id}\n")), "{body}");
    // The customer ID, masked.
    assert!(body.contains("お客さまID：CAF******0001\n"), "{body}");
    let completed = Timestamp::from_unix(completed_at).display_jst();
    assert!(
        completed.len() == 19
            && completed.char_indices().all(|(i, c)| match i {
                4 | 7 => c == '/',
                10 => c == ' ',
                13 | 16 => c == ':',
                _ => c.is_ascii_digit(),
            }),
        "YYYY/MM/DD HH:MM:SS: {completed}"
    );
    assert!(
        body.contains(&format!("工事完了日時：{completed}\n")),
        "{body}"
    );
    mail
}

#[tokio::test]
async fn a_wished_mail_is_written_once_as_an_eml_in_japanese_and_an_unwished_one_not_at_all() {
    let mail_dir = TempDir::new().expect("a folder");
    let dir = mail_dir.path().to_path_buf();
    let app = spawn_app_with(|c| c.mail_dir = dir).await;
    let client = app.line_a().await;
    let added = client.submit_ok("notify", &["W0010", "W0011"]).await;
    let stopped = client.submit_ok("do_not_notify", &["W0001"]).await;
    let mut unwished = client.draft("notify", &["W0012"]).await;
    unwished["applicant"]["wants_mail"] = json!(false);
    let reply = client.submit_draft(&unwished).await;
    assert_eq!(reply.status, StatusCode::CREATED, "body: {}", reply.body);
    let unwished = reply.body["id"].as_str().expect("an ID").to_owned();

    let mut completed_at = Vec::new();
    for id in [&added, &stopped, &unwished] {
        let done = client.wait_until_completed(id).await;
        completed_at.push(done["completed_at"].as_i64().expect("a completion time"));
    }
    let expected: BTreeSet<String> = [&added, &stopped].map(|id| format!("{id}.eml")).into();
    wait_until("both mails written", MAIL_TIMEOUT, async || {
        files_in(mail_dir.path()) == expected
    })
    .await;

    // Delivered, recorded (just after the file is in place), and out of
    // the outbox: never sent again.
    wait_until("the outbox empties", MAIL_TIMEOUT, async || {
        app.store
            .outbox()
            .await
            .expect("the outbox reads")
            .is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        files_in(mail_dir.path()),
        expected,
        "no mail for {unwished}"
    );
    for (id, completed) in [(&added, completed_at[0]), (&stopped, completed_at[1])] {
        let sent = record(&app, id)
            .await
            .mail_sent_at
            .expect("mail_sent_at recorded");
        assert!(sent.unix() >= completed, "sent {sent:?} before completion");
    }
    assert_eq!(record(&app, &unwished).await.mail_sent_at, None);

    let raw = std::fs::read_to_string(mail_dir.path().join(format!("{added}.eml")))
        .expect("a UTF-8 .eml");
    let mail = assert_completion_mail(&raw, &added, completed_at[0]);
    for n in [10, 11] {
        assert!(
            mail.body.contains(&format!(
                "・{}（{}）：通知する\n",
                provider_name(n),
                crate::helpers::service_name(n)
            )),
            "{}",
            mail.body
        );
    }
    assert!(!mail.body.contains("通知しない"), "{}", mail.body);

    let raw = std::fs::read_to_string(mail_dir.path().join(format!("{stopped}.eml")))
        .expect("a UTF-8 .eml");
    let mail = assert_completion_mail(&raw, &stopped, completed_at[1]);
    assert!(
        mail.body.contains(&format!(
            "・{}（{}）：通知しない\n",
            provider_name(1),
            crate::helpers::service_name(1)
        )),
        "{}",
        mail.body
    );
}

/// What the test relay saw.
#[derive(Debug, Default)]
struct RelayLog {
    /// Every refusal, in order: `"421 greeting"`, `"451 MAIL FROM"`,
    /// `"530 MAIL FROM"` (no STARTTLS or no login first), `"535 AUTH"` or
    /// `"451 DATA"`.
    refusals: Vec<&'static str>,
    /// Every login tried: the mechanism, the user, and whether the
    /// credentials were the expected ones.
    logins: Vec<(String, String, bool)>,
    /// Every message accepted.
    messages: Vec<Delivered>,
    /// The data of every message refused after its end (`refuse_first_data`).
    refused_data: Vec<String>,
}

/// One accepted message.
#[derive(Debug, Clone)]
struct Delivered {
    from: String,
    to: Vec<String>,
    data: String,
    /// Whether it came over TLS.
    encrypted: bool,
    /// The user logged in, if any.
    user: Option<String>,
}

/// How a test relay is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RelayTls {
    /// Plain SMTP.
    None,
    /// STARTTLS offered, and required before `MAIL FROM`.
    StartTls,
    /// TLS from the first byte.
    Implicit,
}

/// The test relay's behaviour.
struct RelayOptions {
    /// 421 to the first connection, 451 at `MAIL FROM` until
    /// [`Relay::accept`].
    refuse_at_first: bool,
    tls: RelayTls,
    /// When set, `AUTH PLAIN LOGIN` is offered and a login with exactly
    /// these is required before `MAIL FROM`.
    login: Option<(&'static str, &'static str)>,
    /// Answer the first message's data with 451 (after reading it all), as
    /// a relay that fails while queueing it.
    refuse_first_data: bool,
}

/// A small SMTP relay on `127.0.0.1:0` speaking enough of RFC 5321 (and
/// RFC 3207 STARTTLS, RFC 4954 AUTH) for lettre. By default
/// ([`Relay::start`]) it answers its first connection with 421 and closes
/// it, refuses every later transaction with 451 at `MAIL FROM` until
/// [`Relay::accept`], then accepts. Over TLS it shows a self-signed
/// certificate for `127.0.0.1`, whose PEM is in [`Relay::ca_file`].
struct Relay {
    port: u16,
    log: Arc<Mutex<RelayLog>>,
    accepting: Arc<AtomicBool>,
    scheme: &'static str,
    _ca_dir: TempDir,
    ca_file: PathBuf,
}

/// What every connection of one relay shares.
struct RelayShared {
    log: Arc<Mutex<RelayLog>>,
    accepting: Arc<AtomicBool>,
    options: RelayOptions,
    acceptor: TlsAcceptor,
}

impl Relay {
    async fn start() -> Self {
        Self::start_with(RelayOptions {
            refuse_at_first: true,
            tls: RelayTls::None,
            login: None,
            refuse_first_data: false,
        })
        .await
    }

    async fn start_with(options: RelayOptions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("bound").port();
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .expect("a certificate");
        let ca_dir = TempDir::new().expect("a folder");
        let ca_file = ca_dir.path().join("relay-ca.pem");
        std::fs::write(&ca_file, certified.cert.pem()).expect("written");
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key.into())
        .expect("a TLS configuration");
        let scheme = match options.tls {
            RelayTls::Implicit => "smtps",
            RelayTls::None | RelayTls::StartTls => "smtp",
        };
        let log = Arc::new(Mutex::new(RelayLog::default()));
        let accepting = Arc::new(AtomicBool::new(!options.refuse_at_first));
        let shared = Arc::new(RelayShared {
            log: log.clone(),
            accepting: accepting.clone(),
            options,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        });
        tokio::spawn(async move {
            let mut connections = 0_usize;
            while let Ok((stream, _)) = listener.accept().await {
                connections += 1;
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = converse(stream, connections == 1, &shared).await;
                });
            }
        });
        Self {
            port,
            log,
            accepting,
            scheme,
            _ca_dir: ca_dir,
            ca_file,
        }
    }

    /// `smtp://127.0.0.1:PORT` or `smtps://…`, then `rest` (a query).
    fn url_with(&self, rest: &str) -> String {
        format!("{}://127.0.0.1:{}{rest}", self.scheme, self.port)
    }

    fn url(&self) -> String {
        self.url_with("")
    }

    fn accept(&self) {
        self.accepting.store(true, Ordering::SeqCst);
    }

    fn refusals(&self) -> Vec<&'static str> {
        self.log.lock().expect("the log").refusals.clone()
    }

    fn logins(&self) -> Vec<(String, String, bool)> {
        self.log.lock().expect("the log").logins.clone()
    }

    fn messages(&self) -> Vec<Delivered> {
        self.log.lock().expect("the log").messages.clone()
    }

    fn refused_data(&self) -> Vec<String> {
        self.log.lock().expect("the log").refused_data.clone()
    }
}

/// The `<path>` of `MAIL FROM:<path> params` or `RCPT TO:<path>`.
fn path_of(command: &str) -> String {
    command
        .split_once(':')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("")
        .to_owned()
}

/// A connection, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Writes `reply` and flushes it (TLS buffers).
async fn say(io: &mut BufReader<Box<dyn Io>>, reply: &[u8]) -> std::io::Result<()> {
    io.write_all(reply).await?;
    io.flush().await
}

/// Reads one line, without its line end; `None` at the end of the stream.
async fn hear(io: &mut BufReader<Box<dyn Io>>) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if io.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

/// Base64 text as UTF-8 (lossy: a test relay).
fn unbase64(text: &str) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One SMTP session.
async fn converse(stream: TcpStream, first: bool, relay: &RelayShared) -> std::io::Result<()> {
    let options = &relay.options;
    let log = &relay.log;
    let mut encrypted = options.tls == RelayTls::Implicit;
    let stream: Box<dyn Io> = if encrypted {
        Box::new(relay.acceptor.accept(stream).await?)
    } else {
        Box::new(stream)
    };
    let mut io = BufReader::new(stream);
    if first && options.refuse_at_first {
        log.lock().expect("the log").refusals.push("421 greeting");
        return say(&mut io, b"421 4.3.2 relay.test busy, try again later\r\n").await;
    }
    say(&mut io, b"220 relay.test ESMTP test relay\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut user: Option<String> = None;
    loop {
        let Some(command) = hear(&mut io).await? else {
            return Ok(());
        };
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let needs_tls = options.tls == RelayTls::StartTls && !encrypted;
        let reply: Vec<u8> = match verb.as_str() {
            "EHLO" => {
                let mut reply = String::from("250-relay.test\r\n");
                if needs_tls {
                    reply.push_str("250-STARTTLS\r\n");
                } else if options.login.is_some() {
                    reply.push_str("250-AUTH PLAIN LOGIN\r\n");
                }
                reply.push_str("250 8BITMIME\r\n");
                reply.into_bytes()
            }
            "HELO" => b"250 relay.test\r\n".to_vec(),
            "STARTTLS" if needs_tls => {
                say(&mut io, b"220 2.0.0 ready to start TLS\r\n").await?;
                // The client waits for the 220 before its handshake: nothing
                // is buffered.
                let plain = io.into_inner();
                let tls: Box<dyn Io> = Box::new(relay.acceptor.accept(plain).await?);
                io = BufReader::new(tls);
                encrypted = true;
                continue;
            }
            "AUTH" if !needs_tls && options.login.is_some() && user.is_none() => {
                let mut words = command.split_whitespace().skip(1);
                let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
                let initial = words.next().map(str::to_owned);
                let (name, password) = match mechanism.as_str() {
                    "PLAIN" => {
                        let response = match initial {
                            Some(response) => response,
                            None => {
                                say(&mut io, b"334 \r\n").await?;
                                hear(&mut io).await?.unwrap_or_default()
                            }
                        };
                        // authzid NUL authcid NUL password
                        let decoded = unbase64(&response);
                        let mut parts = decoded.split('\0').skip(1);
                        (
                            parts.next().unwrap_or("").to_owned(),
                            parts.next().unwrap_or("").to_owned(),
                        )
                    }
                    "LOGIN" => {
                        say(&mut io, b"334 VXNlcm5hbWU6\r\n").await?;
                        let name = unbase64(&hear(&mut io).await?.unwrap_or_default());
                        say(&mut io, b"334 UGFzc3dvcmQ6\r\n").await?;
                        let password = unbase64(&hear(&mut io).await?.unwrap_or_default());
                        (name, password)
                    }
                    _ => {
                        say(&mut io, b"504 5.5.4 unrecognised mechanism\r\n").await?;
                        continue;
                    }
                };
                let right = options.login == Some((name.as_str(), password.as_str()));
                let mut log = log.lock().expect("the log");
                log.logins.push((mechanism, name.clone(), right));
                if right {
                    user = Some(name);
                    b"235 2.7.0 authentication successful\r\n".to_vec()
                } else {
                    log.refusals.push("535 AUTH");
                    b"535 5.7.8 authentication credentials invalid\r\n".to_vec()
                }
            }
            "MAIL" if needs_tls || (options.login.is_some() && user.is_none()) => {
                log.lock().expect("the log").refusals.push("530 MAIL FROM");
                b"530 5.7.0 must issue STARTTLS and AUTH first\r\n".to_vec()
            }
            "MAIL" if !relay.accepting.load(Ordering::SeqCst) => {
                log.lock().expect("the log").refusals.push("451 MAIL FROM");
                b"451 4.3.0 temporarily refused, try again later\r\n".to_vec()
            }
            "MAIL" => {
                from = path_of(&command);
                to.clear();
                b"250 2.1.0 OK\r\n".to_vec()
            }
            "RCPT" => {
                to.push(path_of(&command));
                b"250 2.1.5 OK\r\n".to_vec()
            }
            "DATA" => {
                say(&mut io, b"354 end data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut data = String::new();
                loop {
                    let mut line = String::new();
                    if io.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    // Dot-unstuffing (RFC 5321 4.5.2).
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                let mut log = log.lock().expect("the log");
                if options.refuse_first_data && log.refused_data.is_empty() {
                    log.refusals.push("451 DATA");
                    log.refused_data.push(data);
                    b"451 4.3.0 could not queue it, try again later\r\n".to_vec()
                } else {
                    log.messages.push(Delivered {
                        from: from.clone(),
                        to: to.clone(),
                        data,
                        encrypted,
                        user: user.clone(),
                    });
                    b"250 2.0.0 queued\r\n".to_vec()
                }
            }
            "RSET" | "NOOP" => b"250 2.0.0 OK\r\n".to_vec(),
            "QUIT" => {
                return say(&mut io, b"221 2.0.0 bye\r\n").await;
            }
            _ => b"502 5.5.2 command not implemented\r\n".to_vec(),
        };
        say(&mut io, &reply).await?;
    }
}

#[tokio::test]
async fn a_relay_that_refuses_at_first_delays_the_mail_which_then_arrives_exactly_once() {
    let relay = Relay::start().await;
    let app = spawn_app_with(|c| {
        c.smtp_url = Some(relay.url().into());
        c.mail_retry_base = Duration::from_secs(1);
    })
    .await;
    let client = app.line_a().await;
    let id = client.submit_ok("notify", &["W0010"]).await;
    let done = client.wait_until_completed(&id).await;
    let completed_at = done["completed_at"].as_i64().expect("a completion time");

    // The relay refuses (first at its greeting, then at MAIL FROM): the
    // mail waits in the outbox with its failed attempts, not lost.
    wait_until("two refusals", MAIL_TIMEOUT, async || {
        relay.refusals().len() >= 2
    })
    .await;
    assert_eq!(relay.refusals()[..2], ["421 greeting", "451 MAIL FROM"]);
    assert!(relay.messages().is_empty());
    let outbox = app.store.outbox().await.expect("the outbox reads");
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    let (queued, mail) = &outbox[0];
    assert_eq!(queued.to_string(), id);
    assert!(mail.attempts >= 1, "{mail:?}");
    assert!(mail.last_error.is_some(), "{mail:?}");
    assert_eq!(record(&app, &id).await.mail_sent_at, None);

    // Then it accepts: the next retry delivers the mail, once.
    relay.accept();
    wait_until("the mail delivered", MAIL_TIMEOUT, async || {
        !relay.messages().is_empty()
    })
    .await;
    wait_until("the delivery recorded", WORK_TIMEOUT, async || {
        record(&app, &id).await.mail_sent_at.is_some()
    })
    .await;
    assert!(
        app.store
            .outbox()
            .await
            .expect("the outbox reads")
            .is_empty()
    );
    // Longer than the next few back-offs: nothing is sent again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let messages = relay.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message.from, "<notice@example.jp>", "the envelope sender");
    assert_eq!(message.to, ["<taro@example.jp>"]);
    assert_completion_mail(&message.data, &id, completed_at);
}

/// The login the relays of the tests below require: the password has
/// characters a URL must escape.
const RELAY_USER: &str = "kaisen";
const RELAY_PASSWORD: &str = "p@ss wörd/1";

/// A relay that accepts at once, over `tls`, requiring `login`.
async fn accepting_relay(tls: RelayTls, login: Option<(&'static str, &'static str)>) -> Relay {
    Relay::start_with(RelayOptions {
        refuse_at_first: false,
        tls,
        login,
        refuse_first_data: false,
    })
    .await
}

/// Line A submits an application wishing a mail; returns its ID and
/// completion time once the work is done.
async fn complete_one(app: &crate::helpers::TestApp) -> (String, i64) {
    let client = app.line_a().await;
    let id = client.submit_ok("notify", &["W0010"]).await;
    let done = client.wait_until_completed(&id).await;
    let completed_at = done["completed_at"].as_i64().expect("a completion time");
    (id, completed_at)
}

/// Waits until the mail of `id` has failed at least once; returns the
/// error recorded.
async fn first_failure(app: &crate::helpers::TestApp, id: &str) -> String {
    let mut error = None;
    wait_until("a failed attempt", MAIL_TIMEOUT, async || {
        let outbox = app.store.outbox().await.expect("the outbox reads");
        error = outbox
            .iter()
            .find(|(queued, mail)| queued.to_string() == id && mail.attempts >= 1)
            .and_then(|(_, mail)| mail.last_error.clone());
        error.is_some()
    })
    .await;
    assert_eq!(record(app, id).await.mail_sent_at, None);
    error.expect("an error")
}

/// Waits for the relay's one message and asserts that it came over TLS
/// after a login as [`RELAY_USER`] with the right password, refused nowhere.
async fn delivered_encrypted_and_logged_in(relay: &Relay) -> Delivered {
    wait_until("the mail delivered", MAIL_TIMEOUT, async || {
        !relay.messages().is_empty()
    })
    .await;
    let messages = relay.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = messages[0].clone();
    assert!(message.encrypted, "sent before TLS");
    assert_eq!(message.user.as_deref(), Some(RELAY_USER));
    assert_eq!(
        relay.logins(),
        [("PLAIN".to_owned(), RELAY_USER.to_owned(), true)]
    );
    assert!(relay.refusals().is_empty(), "{:?}", relay.refusals());
    message
}

#[tokio::test]
async fn over_starttls_with_the_login_of_the_flags_the_mail_arrives_encrypted_and_logged_in() {
    let relay = accepting_relay(RelayTls::StartTls, Some((RELAY_USER, RELAY_PASSWORD))).await;
    let app = spawn_app_with(|c| {
        c.smtp_url = Some(relay.url_with("?tls=required").into());
        c.smtp_user = Some(RELAY_USER.to_owned());
        c.smtp_password = Some(RELAY_PASSWORD.to_owned().into());
        c.smtp_ca_file = Some(relay.ca_file.clone());
    })
    .await;
    let (id, completed_at) = complete_one(&app).await;
    let message = delivered_encrypted_and_logged_in(&relay).await;
    assert_eq!(message.to, ["<taro@example.jp>"]);
    assert_completion_mail(&message.data, &id, completed_at);
}

#[tokio::test]
async fn over_implicit_tls_with_the_login_in_the_url_the_mail_arrives_encrypted_and_logged_in() {
    let relay = accepting_relay(RelayTls::Implicit, Some((RELAY_USER, RELAY_PASSWORD))).await;
    let escaped =
        percent_encoding::utf8_percent_encode(RELAY_PASSWORD, percent_encoding::NON_ALPHANUMERIC);
    let url = format!("smtps://{RELAY_USER}:{escaped}@127.0.0.1:{}", relay.port);
    let app = spawn_app_with(|c| {
        c.smtp_url = Some(url.into());
        c.smtp_ca_file = Some(relay.ca_file.clone());
    })
    .await;
    let (id, completed_at) = complete_one(&app).await;
    let message = delivered_encrypted_and_logged_in(&relay).await;
    assert_completion_mail(&message.data, &id, completed_at);
}

#[tokio::test]
async fn a_relay_certificate_from_no_trusted_ca_gets_no_mail_which_waits_in_the_outbox() {
    // The relay's certificate is self-signed and no --smtp-ca-file is given:
    // Mozilla's roots do not vouch for it.
    let relay = accepting_relay(RelayTls::Implicit, None).await;
    let app = spawn_app_with(|c| c.smtp_url = Some(relay.url().into())).await;
    let (id, _) = complete_one(&app).await;
    let error = first_failure(&app, &id).await;
    assert!(
        error.to_ascii_lowercase().contains("certificate"),
        "{error}"
    );
    assert!(relay.messages().is_empty());
}

#[tokio::test]
async fn tls_required_sends_nothing_to_a_relay_that_offers_no_starttls() {
    let relay = accepting_relay(RelayTls::None, None).await;
    let app = spawn_app_with(|c| {
        c.smtp_url = Some(relay.url_with("?tls=required").into());
        c.smtp_ca_file = Some(relay.ca_file.clone());
    })
    .await;
    let (id, _) = complete_one(&app).await;
    let error = first_failure(&app, &id).await;
    assert!(
        relay.messages().is_empty() && relay.refusals().is_empty(),
        "the mail went out in the clear: {:?}",
        relay.messages()
    );
    assert!(error.contains("STARTTLS"), "{error}");
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_the_mail_waits_without_the_password_in_its_error() {
    let relay = accepting_relay(RelayTls::StartTls, Some((RELAY_USER, RELAY_PASSWORD))).await;
    let wrong = "not-the-password-123";
    let app = spawn_app_with(|c| {
        c.smtp_url = Some(relay.url_with("?tls=required").into());
        c.smtp_user = Some(RELAY_USER.to_owned());
        c.smtp_password = Some(wrong.to_owned().into());
        c.smtp_ca_file = Some(relay.ca_file.clone());
    })
    .await;
    let (id, _) = complete_one(&app).await;
    let error = first_failure(&app, &id).await;
    assert!(!error.contains(wrong), "{error}");
    assert_eq!(relay.refusals()[0], "535 AUTH");
    assert_eq!(
        relay.logins()[0],
        ("PLAIN".to_owned(), RELAY_USER.to_owned(), false)
    );
    assert!(relay.messages().is_empty());
}

#[tokio::test]
async fn without_mail_from_files_come_from_the_example_sender_and_smtp_does_not_start() {
    let refusal = start_refusal(|c| {
        c.mail_from = None;
        c.smtp_url = Some("smtp://127.0.0.1:25".to_owned().into());
    })
    .await;
    assert!(
        refusal.contains("--mail-from (KAISEN_MAIL_FROM) is required with --smtp-url"),
        "{refusal}"
    );

    let mail_dir = TempDir::new().expect("a folder");
    let dir = mail_dir.path().to_path_buf();
    let app = spawn_app_with(|c| {
        c.mail_from = None;
        c.mail_dir = dir;
    })
    .await;
    let (id, _) = complete_one(&app).await;
    let eml = mail_dir.path().join(format!("{id}.eml"));
    wait_until("the mail written", MAIL_TIMEOUT, async || eml.exists()).await;
    let raw = std::fs::read_to_string(&eml).expect("a UTF-8 .eml");
    assert_eq!(Mail::parse(&raw).from(), kaisen::mail::EXAMPLE_SENDER);
}

/// Runs `kaisen serve` (the real binary) on a fresh folder with `flags`
/// and no `KAISEN_*` variable, expecting it to stop at once (it is killed
/// after 20 s); returns its stderr.
async fn serve_refusal(flags: &[&str]) -> String {
    let dir = TempDir::new().expect("a folder");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kaisen"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KAISEN_") {
            command.env_remove(name);
        }
    }
    command
        .arg("serve")
        .arg("--db")
        .arg(dir.path().join("db"))
        .arg("--site")
        .arg(dir.path())
        .args(["--addr", "127.0.0.1:0"])
        .args(flags)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("kaisen runs");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("waitable").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kaisen serve {flags:?} started instead of stopping");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let output = child.wait_with_output().expect("its output");
    assert!(!output.status.success(), "kaisen serve succeeded");
    assert!(
        !dir.path().join("db").exists(),
        "the database was made before the refusal"
    );
    String::from_utf8(output.stderr).expect("UTF-8")
}

#[tokio::test]
async fn serve_without_contact_details_or_with_a_bad_mail_flag_stops_before_opening_the_database_naming_the_flag()
 {
    let stderr = serve_refusal(&[]).await;
    assert!(
        stderr.contains("kaisen: --contact (KAISEN_CONTACT) is required")
            && stderr.contains("--demo"),
        "{stderr}"
    );
    let refusal = start_refusal(|c| c.contact = vec![String::new(), "  ".to_owned()]).await;
    assert!(
        refusal.contains("--contact (KAISEN_CONTACT) is required"),
        "{refusal}"
    );

    for bad in ["noreply", "受付 <noreply@example.jp"] {
        let stderr = serve_refusal(&["--contact", "受付窓口", "--mail-from", bad]).await;
        assert!(
            stderr.contains("--mail-from") && stderr.contains("<noreply@example.jp>"),
            "{bad}: {stderr}"
        );
    }
    let relay = ["--contact", "受付窓口", "--smtp-url", "smtp://127.0.0.1:25"];
    let stderr = serve_refusal(&relay).await;
    assert!(
        stderr.contains("kaisen: --mail-from (KAISEN_MAIL_FROM) is required with --smtp-url"),
        "{stderr}"
    );
    let stderr = serve_refusal(&[
        "--contact",
        "受付窓口",
        "--mail-from",
        "noreply@example.jp",
        "--smtp-url",
        "smtp://kaisen:hunter2@127.0.0.1:587?tls=require",
    ])
    .await;
    assert!(
        stderr.contains(
            "kaisen: --smtp-url smtp://kaisen:***@127.0.0.1:587?tls=require: tls=require"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test]
async fn with_demo_and_no_contact_details_the_receipt_and_the_mail_show_demo_ones() {
    let mail_dir = TempDir::new().expect("a folder");
    let dir = mail_dir.path().to_path_buf();
    let app = spawn_app_with(|c| {
        c.contact = Vec::new();
        c.demo = true;
        c.mail_dir = dir;
    })
    .await;
    let (id, completed_at) = complete_one(&app).await;
    let receipt = app
        .line_a()
        .await
        .get(&format!("/api/applications/{id}"))
        .await;
    assert_eq!(receipt.status, StatusCode::OK, "body: {}", receipt.body);
    let contact: Vec<&str> = receipt.body["contact"]
        .as_array()
        .expect("contact lines")
        .iter()
        .map(|line| line.as_str().expect("a line"))
        .collect();
    assert!(!contact.is_empty());
    for line in &contact {
        assert!(line.starts_with("【デモ】"), "{line}");
        assert!(!line.contains("0120"), "an invented number: {line}");
    }

    let eml = mail_dir.path().join(format!("{id}.eml"));
    wait_until("the mail written", MAIL_TIMEOUT, async || eml.exists()).await;
    let raw = std::fs::read_to_string(&eml).expect("a UTF-8 .eml");
    let mail = assert_completion_mail(&raw, &id, completed_at);
    for line in &contact {
        assert!(mail.body.contains(&format!("{line}\n")), "{}", mail.body);
    }
}

#[tokio::test]
async fn a_mail_sent_again_after_the_relay_failed_with_its_data_is_the_same_mail_byte_for_byte() {
    let relay = Relay::start_with(RelayOptions {
        refuse_at_first: false,
        tls: RelayTls::None,
        login: None,
        refuse_first_data: true,
    })
    .await;
    let app = spawn_app_with(|c| {
        c.smtp_url = Some(relay.url().into());
        c.mail_retry_base = Duration::from_secs(1);
    })
    .await;
    let (id, completed_at) = complete_one(&app).await;
    wait_until("the mail delivered", MAIL_TIMEOUT, async || {
        !relay.messages().is_empty()
    })
    .await;

    assert_eq!(relay.refusals(), ["451 DATA"]);
    let (first, again) = (&relay.refused_data()[0], &relay.messages()[0].data);
    // The same Message-ID and Date: the receiving side can tell it is the
    // mail it may already have.
    assert_eq!(first, again, "the second attempt differs from the first");
    assert_completion_mail(again, &id, completed_at);
}
