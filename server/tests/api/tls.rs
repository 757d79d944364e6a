//! HTTPS from the one binary (`--tls-cert`/`--tls-key`): the session cookie
//! becomes `__Host-` and `Secure` (when removed too), and HSTS is sent.

use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

use crate::helpers::{KEY_A, LINE_A, spawn_app_with};

/// Sends one HTTP/1.1 request over TLS, trusting only `cert_der`, and
/// returns the whole response as text.
async fn https_request(addr: &str, cert_der: Vec<u8>, request: String) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der.into()).expect("the test certificate");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connected");
    let name = ServerName::try_from("localhost").expect("a name");
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("a TLS handshake");
    tls.write_all(request.as_bytes()).await.expect("sent");
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await.expect("read");
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn over_tls_the_session_cookie_is_host_prefixed_and_secure_and_hsts_is_sent() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let dir = tempfile::TempDir::new().expect("a folder");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("written");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("written");
    let app = spawn_app_with(|c| {
        c.tls_cert = Some(cert.clone());
        c.tls_key = Some(key.clone());
    })
    .await;
    let addr = app.address.trim_start_matches("http://").to_owned();

    let body = format!(r#"{{"customer_id":"{LINE_A}","access_key":"{KEY_A}"}}"#);
    let login = format!(
        "POST /api/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = https_request(&addr, certified.cert.der().to_vec(), login).await;

    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let lower = response.to_ascii_lowercase();
    let cookie = lower
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .expect("a session cookie");
    assert!(
        cookie.starts_with("set-cookie: __host-kaisen_session="),
        "{cookie}"
    );
    assert!(
        cookie.contains("; secure")
            && cookie.contains("; httponly")
            && cookie.contains("samesite=strict"),
        "{cookie}"
    );
    assert!(
        cookie.contains("path=/") && !cookie.contains("domain="),
        "{cookie}"
    );
    assert!(
        lower.contains("strict-transport-security: max-age=63072000; includesubdomains"),
        "{response}"
    );

    // Logging out removes it with the same attributes: a browser removes a
    // `__Host-` cookie only by a `Secure` one.
    let session = response
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("the session cookie");
    let logout = format!(
        "DELETE /api/session HTTP/1.1\r\nHost: localhost\r\nCookie: {session}\r\nConnection: close\r\n\r\n"
    );
    let response = https_request(&addr, certified.cert.der().to_vec(), logout).await;
    assert!(response.starts_with("HTTP/1.1 204"), "{response}");
    let removal = response
        .to_ascii_lowercase()
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .expect("the cookie removed")
        .to_owned();
    assert!(
        removal.starts_with("set-cookie: __host-kaisen_session=;")
            && removal.contains("max-age=0")
            && removal.contains("; secure")
            && removal.contains("path=/"),
        "{removal}"
    );

    // Plain HTTP on the same port is not served.
    let plain = reqwest::get(format!("http://{addr}/")).await;
    assert!(plain.is_err() || !plain.expect("a response").status().is_success());
}

#[tokio::test]
async fn over_plain_http_no_hsts_is_sent_and_the_cookie_is_not_secure() {
    let app = spawn_app_with(|_| {}).await;
    let response = app.client().log_in_response(LINE_A, KEY_A).await;
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(
        cookie.starts_with("kaisen_session=") && !cookie.contains("Secure"),
        "{cookie}"
    );
}
