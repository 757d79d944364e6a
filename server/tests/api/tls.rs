//! HTTPS from the one binary (`--tls-cert`/`--tls-key`): the session cookie
//! becomes `__Host-` and `Secure`, and HSTS is sent.

use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

use crate::helpers::{KEY_A, LINE_A, TestApp, spawn_app_with};

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

/// An app serving HTTPS with a fresh self-signed certificate for
/// `localhost`: its `host:port` and the certificate (DER) to trust.
struct TlsApp {
    _app: TestApp,
    addr: String,
    cert_der: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl TlsApp {
    async fn start() -> Self {
        let dir = tempfile::TempDir::new().expect("a folder");
        let (cert_der, cert, key) = certificate(dir.path());
        let app = spawn_app_with(|c| {
            c.tls_cert = Some(cert.clone());
            c.tls_key = Some(key.clone());
        })
        .await;
        let addr = app.address.trim_start_matches("http://").to_owned();
        Self {
            _app: app,
            addr,
            cert_der,
            _dir: dir,
        }
    }

    /// Sends `method path` with `headers` (each ending in CRLF) and `body`.
    async fn request(&self, method: &str, path: &str, headers: &str, body: &str) -> String {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        https_request(&self.addr, self.cert_der.clone(), request).await
    }

    /// Logs line A in; the whole response.
    async fn log_in(&self) -> String {
        let body = format!(r#"{{"customer_id":"{LINE_A}","access_key":"{KEY_A}"}}"#);
        self.request(
            "POST",
            "/api/session",
            "Content-Type: application/json\r\n",
            &body,
        )
        .await
    }
}

/// The first `Set-Cookie` header line of `response`, lower-cased.
fn set_cookie(response: &str) -> String {
    response
        .to_ascii_lowercase()
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .expect("a Set-Cookie header")
        .to_owned()
}

#[tokio::test]
async fn over_tls_the_session_cookie_is_host_prefixed_and_secure_and_hsts_is_sent() {
    let tls = TlsApp::start().await;

    let response = tls.log_in().await;

    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let lower = response.to_ascii_lowercase();
    let cookie = set_cookie(&response);
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

    // Plain HTTP on the same port is not served.
    let plain = reqwest::get(format!("http://{}/", tls.addr)).await;
    assert!(plain.is_err() || !plain.expect("a response").status().is_success());
}

#[tokio::test]
async fn over_tls_logout_removes_the_host_cookie_with_the_attributes_it_was_set_with() {
    let tls = TlsApp::start().await;
    let login = tls.log_in().await;
    assert!(login.starts_with("HTTP/1.1 200"), "{login}");
    let cookie = login
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let with_cookie = format!("Cookie: {cookie}\r\n");

    let logout = tls
        .request("DELETE", "/api/session", &with_cookie, "")
        .await;

    assert!(logout.starts_with("HTTP/1.1 204"), "{logout}");
    let removal = set_cookie(&logout);
    // A browser drops a `__Host-` cookie only when the removal is itself
    // Secure, for Path=/ and without Domain; the rest as it was set.
    assert!(
        removal.starts_with("set-cookie: __host-kaisen_session=;"),
        "{removal}"
    );
    for attribute in [
        "; secure",
        "; httponly",
        "samesite=strict",
        "path=/",
        "max-age=0",
    ] {
        assert!(removal.contains(attribute), "{attribute} in {removal}");
    }
    assert!(!removal.contains("domain="), "{removal}");
    let replayed = tls.request("GET", "/api/line", &with_cookie, "").await;
    assert!(replayed.starts_with("HTTP/1.1 401"), "{replayed}");
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

/// A self-signed certificate for `localhost`, written as PEM files in
/// `dir`: (certificate DER, certificate path, key path).
pub fn certificate(dir: &std::path::Path) -> (Vec<u8>, std::path::PathBuf, std::path::PathBuf) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("written");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("written");
    (certified.cert.der().to_vec(), cert, key)
}

/// A client that speaks HTTP/2 only (as browsers do over TLS) and trusts
/// only `cert_der`, sending `origin` as a browser would.
fn http2_client(cert_der: &[u8], origin: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("origin", origin.parse().expect("a header value"));
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_der(cert_der).expect("DER"))
        .http2_prior_knowledge()
        .default_headers(headers)
        .cookie_store(true)
        .build()
        .expect("a client")
}

#[tokio::test]
async fn a_browser_speaking_http2_over_tls_can_log_in_and_out() {
    let tls = TlsApp::start().await;
    let der = tls.cert_der.clone();
    let port = tls.addr.rsplit(':').next().expect("a port").to_owned();
    let base = format!("https://localhost:{port}");
    let client = http2_client(&der, &base);

    let login = client
        .post(format!("{base}/api/session"))
        .json(&serde_json::json!({"customer_id": LINE_A, "access_key": KEY_A}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(login.version(), reqwest::Version::HTTP_2);
    assert_eq!(login.status(), 200, "{:?}", login.text().await);
    let logout = client
        .delete(format!("{base}/api/session"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(logout.status(), 204);

    // Another origin is still refused, over HTTP/2 too.
    let other = http2_client(&der, &format!("https://localhost.evil.example:{port}"));
    let refused = other
        .post(format!("{base}/api/session"))
        .json(&serde_json::json!({"customer_id": LINE_A, "access_key": KEY_A}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn the_plain_listener_refuses_an_https_origin_and_a_public_url_decides_the_origin() {
    let app = spawn_app_with(|_| {}).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let url = app.url("/api/session");
    assert_eq!(
        login_status(&url, None, &format!("https://{addr}")).await,
        403
    );
    assert_eq!(
        login_status(&url, None, &format!("http://{addr}")).await,
        200
    );

    // Behind a proxy on a non-default port: the proxy's origin, whatever
    // `Host` the proxy forwards.
    let proxied = spawn_app_with(|c| {
        c.public_url = Some(
            kaisen::config::PublicOrigin::parse("https://kaisen.example.jp:8443").expect("a URL"),
        );
    })
    .await;
    let url = proxied.url("/api/session");
    let host = Some("kaisen.example.jp");
    assert_eq!(
        login_status(&url, host, "https://kaisen.example.jp:8443").await,
        200
    );
    assert_eq!(
        login_status(&url, host, "https://kaisen.example.jp").await,
        403
    );
}

/// The status of line A's login POSTed to `url` with this `Origin` (and
/// `Host`, as a proxy would forward it).
async fn login_status(url: &str, host: Option<&str>, origin: &str) -> reqwest::StatusCode {
    let mut request = reqwest::Client::new().post(url).header("origin", origin);
    if let Some(host) = host {
        request = request.header("host", host);
    }
    request
        .json(&serde_json::json!({"customer_id": LINE_A, "access_key": KEY_A}))
        .send()
        .await
        .expect("an answer")
        .status()
}
