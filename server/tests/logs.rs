//! The log an operator ships, and the metrics (issue 10, points 10 and 11):
//! the real `kaisen serve` binary with `--log-format json` and
//! `--metrics-addr`, a login flood against it, and its log read back.
//! Every security event is there as one JSON object with its time, the
//! masked customer ID, the client's address, the outcome and the request's
//! ID; no line holds a customer ID's digits or an access key.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const LINE_A: &str = "CAF0000000001";
const KEY_A: &str = "Alpha-Key-0001";
const LINE_B: &str = "CAF0000000002";
const KEY_B: &str = "Bravo-Key-0002";
/// The address a trusted proxy (127.0.0.1) names for the flood.
const CLIENT: &str = "198.51.100.7";
/// The address that fails until it has to wait.
const GUESSER: &str = "198.51.100.9";

struct Served {
    child: Child,
    base: String,
    metrics: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn kaisen() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kaisen"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KAISEN_") {
            command.env_remove(name);
        }
    }
    command
}

async fn serve() -> Served {
    let dir = tempfile::TempDir::new().expect("a folder");
    let db = dir.path().join("db");
    let site = dir.path().join("site");
    std::fs::create_dir(&site).expect("site/");
    std::fs::write(
        site.join("index.html"),
        "<!doctype html><title>kaisen</title>\n",
    )
    .expect("index.html");
    let file = dir.path().join("lines.json");
    let import = json!({
        "providers": [{"code": "W0001", "service_name": "IP電話", "name": "テスト通信株式会社"}],
        "lines": [
            {"customer_id": LINE_A, "access_key": KEY_A},
            {"customer_id": LINE_B, "access_key": KEY_B},
        ],
        "consent": {"version": "2026-04", "text": "同意します。"},
    });
    std::fs::write(&file, import.to_string()).expect("written");
    let imported = kaisen()
        .arg("import")
        .arg(&file)
        .arg("--db")
        .arg(&db)
        .output()
        .expect("kaisen import runs");
    assert!(imported.status.success(), "{imported:?}");

    let (port, metrics_port) = (free_port(), free_port());
    let log = dir.path().join("server.log");
    let child = kaisen()
        .args(["--log-format", "json", "serve", "--db"])
        .arg(&db)
        .arg("--site")
        .arg(&site)
        .arg("--mail-dir")
        .arg(dir.path().join("mail"))
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
        .args(["--trusted-proxy", "127.0.0.1"])
        .args(["--contact", "回線情報通知 試験窓口"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("the log file"))
        .spawn()
        .expect("kaisen serve starts");
    let served = Served {
        child,
        base: format!("http://127.0.0.1:{port}"),
        metrics: format!("http://127.0.0.1:{metrics_port}/metrics"),
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{}/readyz", served.base))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    served
}

/// A login as a browser behind the trusted proxy would send it.
async fn log_in(
    client: &reqwest::Client,
    base: &str,
    from: &str,
    customer_id: &str,
    key: &str,
    request_id: Option<&str>,
) -> reqwest::Response {
    let mut request = client
        .post(format!("{base}/api/session"))
        .header("x-forwarded-for", from)
        .json(&json!({"customer_id": customer_id, "access_key": key}));
    if let Some(id) = request_id {
        request = request.header("x-request-id", id);
    }
    request.send().await.expect("an answer")
}

/// The log's security events, each line parsed.
fn security_events(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .expect("the log")
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .filter(|v| v["target"] == "kaisen::security")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_leaves_every_security_event_in_the_json_log_and_the_metrics() {
    let served = serve().await;
    let base = &served.base;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("a client");

    // A success, with the proxy's request ID echoed.
    let ok = log_in(
        &browser,
        base,
        CLIENT,
        LINE_A,
        KEY_A,
        Some("proxy-req-0001"),
    )
    .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-request-id"], "proxy-req-0001");
    // Ten wrong keys lock line B; the right key is then refused unchecked.
    let other = reqwest::Client::new();
    for n in 0..10 {
        let wrong = log_in(
            &other,
            base,
            CLIENT,
            LINE_B,
            &format!("Wrong-Key-{n:02}"),
            None,
        )
        .await;
        assert!(wrong.status().is_client_error(), "{}", wrong.status());
    }
    let locked = log_in(&other, base, CLIENT, LINE_B, KEY_B, None).await;
    assert_eq!(locked.status(), 423, "locked");
    let made_up = locked.headers()["x-request-id"]
        .to_str()
        .expect("text")
        .to_owned();
    assert_eq!(
        made_up.len(),
        32,
        "a request ID is made when none is trusted"
    );
    // One address guessing across IDs until it has to wait.
    let mut waited = false;
    for n in 0..40 {
        let guess = log_in(
            &other,
            base,
            GUESSER,
            &format!("CAF12345{n:05}"),
            "Guess-Key",
            None,
        )
        .await;
        if guess.status() == 429 {
            waited = true;
            break;
        }
    }
    assert!(waited, "the guessing address was made to wait");
    // A cross-site POST, and a logout.
    let cross = other
        .post(format!("{base}/api/session"))
        .header("origin", "http://evil.example")
        .json(&json!({"customer_id": LINE_A, "access_key": KEY_A}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(cross.status(), 403);
    let out = browser
        .delete(format!("{base}/api/session"))
        .header("x-forwarded-for", CLIENT)
        .send()
        .await
        .expect("an answer");
    assert_eq!(out.status(), 204);

    let metrics = reqwest::get(&served.metrics)
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("a body");
    for needle in [
        r#"kaisen_http_requests_total{method="POST",route="/api/session",status="200"}"#,
        r#"kaisen_http_request_duration_seconds_bucket{method="POST",route="/api/session",status="401""#,
        r#"kaisen_security_events_total{event="login_failed"}"#,
        r#"kaisen_security_events_total{event="locked_out"} 1"#,
        r#"kaisen_security_events_total{event="rate_limited"}"#,
        "kaisen_work_queue_depth 0",
        "kaisen_mail_queue_depth 0",
        "kaisen_event_queue_depth 0",
        "kaisen_hashing_slots_in_use 0",
        "kaisen_connections_open",
    ] {
        assert!(metrics.contains(needle), "{needle} not in\n{metrics}");
    }

    // Let the log reach the file, then read it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = security_events(&served.log);
    let named = |name: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e["fields"]["event"] == name)
            .collect()
    };
    let success = named("login_succeeded");
    assert_eq!(success.len(), 1, "{events:#?}");
    let success = success[0];
    assert_eq!(success["fields"]["customer"], "CAF******0001");
    assert_eq!(success["fields"]["client"], CLIENT);
    assert_eq!(success["fields"]["outcome"], "success");
    assert_eq!(success["span"]["request_id"], "proxy-req-0001");
    assert!(
        success["timestamp"]
            .as_str()
            .is_some_and(|t| t.starts_with("20"))
    );
    assert!(named("login_failed").len() >= 9, "{events:#?}");
    let lockout = named("locked_out");
    assert_eq!(lockout.len(), 1, "{events:#?}");
    assert_eq!(lockout[0]["fields"]["customer"], "CAF******0002");
    assert_eq!(lockout[0]["fields"]["outcome"], "failure");
    let while_locked = named("login_while_locked");
    assert_eq!(while_locked.len(), 1, "{events:#?}");
    assert_eq!(while_locked[0]["span"]["request_id"], made_up.as_str());
    let limited = named("rate_limited");
    assert!(!limited.is_empty(), "{events:#?}");
    assert_eq!(limited[0]["fields"]["client"], GUESSER);
    assert_eq!(named("cross_site_refused").len(), 1, "{events:#?}");
    assert_eq!(named("logged_out").len(), 1, "{events:#?}");

    let everything = std::fs::read_to_string(&served.log).expect("the log");
    for secret in [
        LINE_A,
        LINE_B,
        "0000000001",
        KEY_A,
        KEY_B,
        "Wrong-Key",
        "Guess-Key",
        "CAF12345",
    ] {
        assert!(!everything.contains(secret), "{secret} is in the log");
    }
}
