//! Memory after many logins (issue 10 point 6): the real `kaisen serve`,
//! 1,000 successful logins from 8 concurrent clients, each from its own
//! address (through `--trusted-proxy`), and the server's resident memory
//! (VmRSS) read from `/proc` before, right after and after a quiet pause.
//! Goal: under 200 MiB after the 1,000 logins.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::http::{self, Conn};
use crate::server::{self, Server, status_kib};

/// Successful logins in all.
const LOGINS: usize = 1_000;
/// Clients logging in at once.
const CLIENTS: usize = 8;
/// Lines logged in to, in turn (few logins each, as subscribers would).
const LINES: u64 = 200;

/// Runs the measurement and prints it.
pub async fn run() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (db, site) = (dir.path().join("db"), dir.path().join("site"));
    std::fs::create_dir(&site).expect("site made");
    std::fs::write(site.join("index.html"), "<!doctype html>").expect("index written");
    let file = dir.path().join("import.json");
    server::write_import(
        std::fs::File::create(&file).expect("file made"),
        10,
        1,
        LINES,
        1,
        &server::key_hash(),
    )
    .expect("import file written");
    server::import(&file, &db);
    let server = Server::start(&db, &site, &["--trusted-proxy", "127.0.0.1"]).await;
    let pid = server.pid();
    let before = status_kib(pid, "VmRSS");

    let started = Instant::now();
    let succeeded = Arc::new(AtomicUsize::new(0));
    let busy = Arc::new(AtomicUsize::new(0));
    let addr = server.addr;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (succeeded, busy) = (succeeded.clone(), busy.clone());
            tokio::spawn(async move {
                let mut conn = Conn::connect(addr).await.expect("connected");
                let mut n = client;
                while succeeded.load(Ordering::Relaxed) < LOGINS {
                    let line = server::customer_id(n as u64 % LINES + 1);
                    let from = format!("10.7.{}.{}", n / 250, n % 250 + 1);
                    let answer = conn
                        .send(&http::login(addr, &line, server::KEY, Some(&from)))
                        .await
                        .expect("a login is answered");
                    match answer.status {
                        200 => {
                            succeeded.fetch_add(1, Ordering::Relaxed);
                            n += CLIENTS;
                        }
                        503 => {
                            busy.fetch_add(1, Ordering::Relaxed);
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
    let elapsed = started.elapsed();
    let after = status_kib(pid, "VmRSS");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = status_kib(pid, "VmRSS");
    let peak = status_kib(pid, "VmHWM");

    println!();
    println!("Memory after logins (the real server; goal: under 200 MiB after {LOGINS})");
    println!(
        "{} logins from {CLIENTS} clients in {:.1} s ({} answered 503 and were retried)",
        succeeded.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        busy.load(Ordering::Relaxed)
    );
    println!(
        "VmRSS: {} before, {} after, {} after 5 s idle; VmHWM {}",
        mib(before),
        mib(after),
        mib(idle),
        mib(peak)
    );
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}
