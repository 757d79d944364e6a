//! Memory after many logins (issue 10 point 6): the real `kaisen serve`
//! must not keep an Argon2 block (19 MiB) per thread that ever hashed. 300
//! logins from 8 concurrent clients, then the server's VmRSS from `/proc`
//! must stay under a generous bound: the hashing slots' blocks and the rest
//! of a debug server take well under 100 MiB; one block kept per blocking
//! thread (the fault) takes hundreds.
//!
//! The bench prints the figure after 1,000 logins in release
//! (`cargo bench -p kaisen-server --bench bench -- logins`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use shared::domain::AccessKey;

/// Successful logins in all.
const LOGINS: usize = 300;
/// Clients logging in at once.
const CLIENTS: usize = 8;
/// Lines logged in to, in turn.
const LINES: usize = 100;
/// Every line's key.
const KEY: &str = "Memory-Key-2026";
/// The bound on the server's resident memory after the logins.
const BOUND_MIB: u64 = 250;

/// A child process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `/proc/<pid>/status`'s VmRSS in MiB.
fn rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:").map(str::to_owned))
        })
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

fn customer_id(n: usize) -> String {
    format!("CAF{:010}", 5_000_000 + n % LINES)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_logins_leave_the_server_under_a_bounded_memory() {
    let binary = env!("CARGO_BIN_EXE_kaisen");
    let dir = tempfile::TempDir::new().expect("a folder");
    let (db, site, file) = (
        dir.path().join("db"),
        dir.path().join("site"),
        dir.path().join("lines.json"),
    );
    std::fs::create_dir(&site).expect("site made");
    std::fs::write(site.join("index.html"), "<!doctype html>").expect("written");
    let hash = kaisen::password::hash(&AccessKey::parse(KEY).expect("a key")).expect("hashed");
    let lines: Vec<_> = (0..LINES)
        .map(|n| json!({"customer_id": customer_id(n), "access_key_hash": hash}))
        .collect();
    std::fs::write(&file, json!({"lines": lines}).to_string()).expect("written");
    let imported = Command::new(binary)
        .arg("import")
        .arg(&file)
        .arg("--db")
        .arg(&db)
        .env("RUST_LOG", "warn")
        .output()
        .expect("kaisen import runs");
    assert!(imported.status.success(), "{imported:?}");

    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KAISEN_") {
            command.env_remove(name);
        }
    }
    let server = Process(
        command
            .args(["serve", "--hash-slots", "2", "--trusted-proxy", "127.0.0.1"])
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--db")
            .arg(&db)
            .arg("--site")
            .arg(&site)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("kaisen serve starts"),
    );
    let url = format!("http://127.0.0.1:{port}/api/session");
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(&url).await.is_err() {
        assert!(Instant::now() < deadline, "kaisen serve did not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let succeeded = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (succeeded, url) = (succeeded.clone(), url.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut n = client;
                while succeeded.load(Ordering::Relaxed) < LOGINS {
                    let status = http
                        .post(&url)
                        .header(
                            "x-forwarded-for",
                            format!("10.9.{}.{}", n / 250, n % 250 + 1),
                        )
                        .json(&json!({"customer_id": customer_id(n), "access_key": KEY}))
                        .send()
                        .await
                        .expect("a login is answered")
                        .status();
                    match status {
                        StatusCode::OK => {
                            succeeded.fetch_add(1, Ordering::Relaxed);
                            n += CLIENTS;
                        }
                        StatusCode::SERVICE_UNAVAILABLE => {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        status => panic!("login answered {status}"),
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.await.expect("a login client does not panic");
    }

    let rss = rss_mib(server.0.id());
    println!("VmRSS after {LOGINS} logins: {rss} MiB");
    assert!(
        rss < BOUND_MIB,
        "after {LOGINS} logins the server holds {rss} MiB (bound {BOUND_MIB} MiB)"
    );
}
