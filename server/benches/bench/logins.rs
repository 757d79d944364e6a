//! Memory after many logins (issue 10 point 6): the real `kaisen serve`,
//! 1,000 successful logins from 8 concurrent clients, each from its own
//! address (through `--trusted-proxy`), and the server's resident memory
//! (VmRSS) read from `/proc` before, right after and after a quiet pause,
//! on each engine (with PostgreSQL, the database's own processes are not
//! counted). Goal: under 200 MiB after the 1,000 logins.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::http::{self, Conn};
use crate::server::{self, Server, status_kib};
use crate::stores::{Engine, Stores};
use crate::table::{Table, thousands};

/// Successful logins in all.
const LOGINS: usize = 1_000;
/// Clients logging in at once.
const CLIENTS: usize = 8;
/// Lines logged in to, in turn (few logins each, as subscribers would).
const LINES: u64 = 200;

/// Runs the measurement on each engine, prints it and puts it in `table`.
pub async fn run(stores: &Stores, table: &mut Table) {
    println!();
    println!("Memory after logins (the real server; goal: under 200 MiB after {LOGINS})");
    for &engine in stores.engines() {
        measure(engine, stores, table).await;
    }
}

async fn measure(engine: Engine, stores: &Stores, table: &mut Table) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let site = dir.path().join("site");
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
    let db = stores.create(engine, dir.path(), "logins");
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
    drop(server);
    stores.remove(&db);

    let (succeeded, busy) = (
        succeeded.load(Ordering::Relaxed),
        busy.load(Ordering::Relaxed),
    );
    println!(
        "{:<10} {succeeded} logins from {CLIENTS} clients in {:.1} s ({busy} answered 503 and were retried)",
        engine.name(),
        elapsed.as_secs_f64(),
    );
    println!(
        "{:<10} VmRSS: {} before, {} after, {} after 5 s idle; VmHWM {}",
        "",
        mib(before),
        mib(after),
        mib(idle),
        mib(peak)
    );
    table.put(
        &format!("{} logins, {CLIENTS} clients", thousands(LOGINS as u64)),
        "",
        engine.column(),
        format!(
            "{:.1} s, {:.0}/s ({busy} retried after 503)",
            elapsed.as_secs_f64(),
            succeeded as f64 / elapsed.as_secs_f64()
        ),
    );
    table.put(
        &format!(
            "server RSS after {} logins (at start; after 5 s idle)",
            thousands(LOGINS as u64)
        ),
        "< 200 MiB",
        engine.column(),
        format!("{} ({}; {})", mib(after), mib(before), mib(idle)),
    );
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}
