//! Slow clients (issue 10, point 3): connections that trickle a request
//! header, or send nothing, are closed after `--header-read-timeout` /
//! `--keep-alive-timeout`, on the plain and the TLS listener, while
//! ordinary requests are still answered; beyond `--max-connections` a
//! connection gets a 503 at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app_with};

/// Trickling connections opened at once (the test raises its own
/// open-files limit to afford them).
const TRICKLERS: usize = 2_000;
/// The limits the test server gets.
const HEADER_READ: Duration = Duration::from_secs(2);
const KEEP_ALIVE: Duration = Duration::from_secs(3);
/// How long after the limits every slow connection must be gone.
const MARGIN: Duration = Duration::from_secs(10);

fn short_limits(config: &mut kaisen::config::ServeConfig) {
    config.header_read_timeout = HEADER_READ;
    config.keep_alive_timeout = KEEP_ALIVE;
}

fn addr(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Sends `head` one byte every 200 ms, for ever, until the server closes
/// the connection; returns when it did (or `None` if it never did within
/// the deadline).
async fn trickle<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    deadline: Instant,
) -> Option<Instant> {
    let head = b"GET / HTTP/1.1\r\nHost: kaisen.test\r\nX-Slow: ";
    let mut buf = [0u8; 512];
    for byte in head.iter().cycle() {
        if Instant::now() > deadline {
            return None;
        }
        if stream.write_all(&[*byte]).await.is_err() {
            return Some(Instant::now());
        }
        // A closed connection reads as EOF (or a reset).
        let read = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await;
        if let Ok(Ok(0) | Err(_)) = read {
            return Some(Instant::now());
        }
    }
    None
}

/// Waits until the server closes an idle `stream`.
async fn closed_when_idle<S: AsyncRead + Unpin>(mut stream: S, deadline: Instant) -> bool {
    let mut buf = [0u8; 512];
    let wait = deadline.saturating_duration_since(Instant::now());
    loop {
        match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// An ordinary request on a fresh connection.
async fn ordinary_request_is_answered(app: &TestApp) {
    let status = reqwest::Client::new()
        .get(app.url("/livez"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("an ordinary request is answered")
        .status();
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_trickling_and_idle_connections_are_closed_while_others_are_served() {
    rlimit::increase_nofile_limit(u64::MAX).expect("the open-files limit can be raised");
    let app = spawn_app_with(short_limits).await;
    let started = Instant::now();
    let deadline = started + KEEP_ALIVE + MARGIN;

    let mut tricklers = Vec::new();
    let mut idle = Vec::new();
    for n in 0..TRICKLERS {
        let stream = TcpStream::connect(addr(&app)).await.expect("connected");
        if n % 4 == 0 {
            idle.push(tokio::spawn(closed_when_idle(stream, deadline)));
        } else {
            tricklers.push(tokio::spawn(trickle(stream, deadline)));
        }
    }
    // While they hang on, everyone else is served.
    for _ in 0..5 {
        ordinary_request_is_answered(&app).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut open = 0;
    let mut latest = Duration::ZERO;
    for task in tricklers {
        match task.await.expect("no panic") {
            Some(closed) => latest = latest.max(closed - started),
            None => open += 1,
        }
    }
    let idle_open = futures_count(idle).await;
    assert_eq!(
        open,
        0,
        "trickling connections still open after {:?}",
        deadline - started
    );
    assert_eq!(idle_open, 0, "idle connections still open");
    println!("{TRICKLERS} slow connections closed, the last after {latest:?}");
    ordinary_request_is_answered(&app).await;
}

/// How many of the tasks answered `false`.
async fn futures_count(tasks: Vec<tokio::task::JoinHandle<bool>>) -> usize {
    let mut open = 0;
    for task in tasks {
        if !task.await.expect("no panic") {
            open += 1;
        }
    }
    open
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_a_half_sent_header_after_the_handshake_is_closed_too() {
    let dir = tempfile::TempDir::new().expect("a folder");
    let (der, cert, key) = crate::tls::certificate(dir.path());
    let app = spawn_app_with(|c| {
        short_limits(c);
        c.tls_cert = Some(cert.clone());
        c.tls_key = Some(key.clone());
    })
    .await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.into()).expect("the test certificate");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    ));
    let started = Instant::now();
    let deadline = started + KEEP_ALIVE + MARGIN;
    let mut tasks = Vec::new();
    for _ in 0..300 {
        let tcp = TcpStream::connect(addr(&app)).await.expect("connected");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
        let mut stream = tls.connect(name, tcp).await.expect("a handshake");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Half: ")
            .await
            .expect("sent");
        tasks.push(tokio::spawn(closed_when_idle(stream, deadline)));
    }
    // A connection that never even starts its handshake is closed as well.
    let silent = TcpStream::connect(addr(&app)).await.expect("connected");
    tasks.push(tokio::spawn(closed_when_idle(silent, deadline)));
    assert_eq!(futures_count(tasks).await, 0, "TLS connections still open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_cap_a_connection_is_refused_with_503_at_once() {
    let app = spawn_app_with(|c| c.max_connections = Some(20)).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(addr(&app)).await.expect("connected"));
    }
    // The server takes them in order; let it take all twenty.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = TcpStream::connect(addr(&app)).await.expect("connected");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), extra.read_to_string(&mut answer))
        .await
        .expect("refused at once")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("Retry-After: "), "{answer}");

    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    ordinary_request_is_answered(&app).await;
}
