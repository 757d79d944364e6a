//! The completion mail (工事完了通知メール, issue 3 point 5): written as an
//! `.eml` file by default, sent through an SMTP relay when one is given —
//! here a real one, started by the test, that refuses at first.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::StatusCode;
use serde_json::json;
use shared::domain::{ApplicationId, Timestamp};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{KEY_A, LINE_A, WORK_TIMEOUT, provider_name, spawn_app_with};

/// How long a test waits for a mail at most.
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

/// An application's stored record, read from the app's own store.
fn record(app: &crate::helpers::TestApp, id: &str) -> kaisen::store::ApplicationRecord {
    let id = ApplicationId::parse(id).expect("an ID");
    app.store
        .application(id)
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
async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
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

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header"))
    }
}

/// Asserts what every completion mail holds, and what it never holds.
#[track_caller]
fn assert_completion_mail(raw: &str, id: &str, completed_at: i64) -> Mail {
    for secret in [KEY_A, LINE_A] {
        assert!(!raw.contains(secret), "the raw mail shows {secret}");
    }
    let mail = Mail::parse(raw);
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
    wait_until("both mails written", MAIL_TIMEOUT, || {
        files_in(mail_dir.path()) == expected
    })
    .await;

    // Delivered, recorded, and out of the outbox: never sent again.
    assert!(app.store.outbox().expect("the outbox reads").is_empty());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        files_in(mail_dir.path()),
        expected,
        "no mail for {unwished}"
    );
    for (id, completed) in [(&added, completed_at[0]), (&stopped, completed_at[1])] {
        let sent = record(&app, id)
            .mail_sent_at
            .expect("mail_sent_at recorded");
        assert!(sent.unix() >= completed, "sent {sent:?} before completion");
    }
    assert_eq!(record(&app, &unwished).mail_sent_at, None);

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
    /// Every refusal, in order: `"421 greeting"` or `"451 MAIL FROM"`.
    refusals: Vec<&'static str>,
    /// Every message accepted.
    messages: Vec<Delivered>,
}

/// One accepted message.
#[derive(Debug, Clone)]
struct Delivered {
    from: String,
    to: Vec<String>,
    data: String,
}

/// A small SMTP relay on `127.0.0.1:0` speaking enough of RFC 5321 for
/// lettre: it answers its first connection with 421 and closes it, refuses
/// every later transaction with 451 at `MAIL FROM` until [`Relay::accept`],
/// then accepts.
struct Relay {
    port: u16,
    log: Arc<Mutex<RelayLog>>,
    accepting: Arc<AtomicBool>,
}

impl Relay {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("bound").port();
        let log = Arc::new(Mutex::new(RelayLog::default()));
        let accepting = Arc::new(AtomicBool::new(false));
        let (task_log, task_accepting) = (log.clone(), accepting.clone());
        tokio::spawn(async move {
            let mut connections = 0_usize;
            while let Ok((stream, _)) = listener.accept().await {
                connections += 1;
                let (log, accepting) = (task_log.clone(), task_accepting.clone());
                tokio::spawn(async move {
                    let _ = converse(stream, connections == 1, &log, &accepting).await;
                });
            }
        });
        Self {
            port,
            log,
            accepting,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn accept(&self) {
        self.accepting.store(true, Ordering::SeqCst);
    }

    fn refusals(&self) -> Vec<&'static str> {
        self.log.lock().expect("the log").refusals.clone()
    }

    fn messages(&self) -> Vec<Delivered> {
        self.log.lock().expect("the log").messages.clone()
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

/// One SMTP session.
async fn converse(
    stream: TcpStream,
    first: bool,
    log: &Mutex<RelayLog>,
    accepting: &AtomicBool,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    if first {
        log.lock().expect("the log").refusals.push("421 greeting");
        write
            .write_all(b"421 4.3.2 relay.test busy, try again later\r\n")
            .await?;
        return Ok(());
    }
    write
        .write_all(b"220 relay.test ESMTP test relay\r\n")
        .await?;
    let mut from = String::new();
    let mut to = Vec::new();
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-relay.test\r\n250 8BITMIME\r\n",
            "HELO" => b"250 relay.test\r\n",
            "MAIL" if !accepting.load(Ordering::SeqCst) => {
                log.lock().expect("the log").refusals.push("451 MAIL FROM");
                b"451 4.3.0 temporarily refused, try again later\r\n"
            }
            "MAIL" => {
                from = path_of(&command);
                to.clear();
                b"250 2.1.0 OK\r\n"
            }
            "RCPT" => {
                to.push(path_of(&command));
                b"250 2.1.5 OK\r\n"
            }
            "DATA" => {
                write
                    .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    let mut line = String::new();
                    if read.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    // Dot-unstuffing (RFC 5321 4.5.2).
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                log.lock().expect("the log").messages.push(Delivered {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
                b"250 2.0.0 queued\r\n"
            }
            "RSET" | "NOOP" => b"250 2.0.0 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

#[tokio::test]
async fn a_relay_that_refuses_at_first_delays_the_mail_which_then_arrives_exactly_once() {
    let relay = Relay::start().await;
    let app = spawn_app_with(|c| {
        c.smtp_url = Some(relay.url());
        c.mail_retry_base = Duration::from_secs(1);
    })
    .await;
    let client = app.line_a().await;
    let id = client.submit_ok("notify", &["W0010"]).await;
    let done = client.wait_until_completed(&id).await;
    let completed_at = done["completed_at"].as_i64().expect("a completion time");

    // The relay refuses (first at its greeting, then at MAIL FROM): the
    // mail waits in the outbox with its failed attempts, not lost.
    wait_until("two refusals", MAIL_TIMEOUT, || relay.refusals().len() >= 2).await;
    assert_eq!(relay.refusals()[..2], ["421 greeting", "451 MAIL FROM"]);
    assert!(relay.messages().is_empty());
    let outbox = app.store.outbox().expect("the outbox reads");
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    let (queued, mail) = &outbox[0];
    assert_eq!(queued.to_string(), id);
    assert!(mail.attempts >= 1, "{mail:?}");
    assert!(mail.last_error.is_some(), "{mail:?}");
    assert_eq!(record(&app, &id).mail_sent_at, None);

    // Then it accepts: the next retry delivers the mail, once.
    relay.accept();
    wait_until("the mail delivered", MAIL_TIMEOUT, || {
        !relay.messages().is_empty()
    })
    .await;
    wait_until("the delivery recorded", WORK_TIMEOUT, || {
        record(&app, &id).mail_sent_at.is_some()
    })
    .await;
    assert!(app.store.outbox().expect("the outbox reads").is_empty());
    // Longer than the next few back-offs: nothing is sent again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let messages = relay.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message.from, "<noreply@kaisen.example>");
    assert_eq!(message.to, ["<taro@example.jp>"]);
    assert_completion_mail(&message.data, &id, completed_at);
}
