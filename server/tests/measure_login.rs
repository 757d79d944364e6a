//! Measurements for issue 4's note, printed and never asserted (SPEC §6:
//! performance is reported as figures, not asserted by timed tests):
//! the cost of one Argon2id hash, login latency, and how other reads fare
//! while logins flood in. Run it in release, on an otherwise idle machine:
//!
//! `cargo test --release -p kaisen-server --test measure_login -- --ignored --nocapture`

#[path = "api/helpers.rs"]
#[expect(
    dead_code,
    reason = "the API tests' helpers, of which this binary uses a few"
)]
mod helpers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use shared::domain::AccessKey;

use helpers::{Client, KEY_A, KEY_B, LINE_A, LINE_B, TestApp, spawn_app_with};

/// Hashes timed for the median.
const HASHES: usize = 20;
/// Logins timed one after another.
const SEQUENTIAL_LOGINS: usize = 200;
/// Clients flooding the login route at once.
const FLOOD_CLIENTS: usize = 50;
/// How long a flood lasts.
const FLOOD: Duration = Duration::from_secs(10);

/// The `q`-quantile (nearest rank) of sorted `samples`, in ms.
fn quantile(samples: &[Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1].as_secs_f64() * 1000.0
}

fn summary(samples: &mut [Duration]) -> String {
    samples.sort_unstable();
    format!(
        "n = {}, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        samples.len(),
        quantile(samples, 0.5),
        quantile(samples, 0.99),
        quantile(samples, 1.0)
    )
}

/// `GET /api/line` as the logged-in `b`, one after another until `stop`.
async fn read_until(b: &Client, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let mut samples = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let reply = b.get("/api/line").await;
        samples.push(started.elapsed());
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    samples
}

/// `FLOOD_CLIENTS` clients sending logins with wrong keys for unknown IDs
/// for `FLOOD`, while line B reads its top page; returns the flood's
/// statuses and the reads' latencies. With `spread`, each login claims a
/// different client address through the trusted proxy, as a botnet would.
async fn flood(
    app: &TestApp,
    b: &Client,
    spread: bool,
) -> (BTreeMap<String, u64>, Vec<Duration>, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::new();
    let mut flooders = Vec::new();
    for client in 0..FLOOD_CLIENTS {
        let (http, stop, url) = (http.clone(), stop.clone(), app.url("/api/session"));
        flooders.push(tokio::spawn(async move {
            let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let customer_id = format!("CAF9{:03}{:06}", client, n % 1_000_000);
                let mut request = http
                    .post(&url)
                    .json(&json!({"customer_id": customer_id, "access_key": "wrong-key"}));
                if spread {
                    let address = format!("198.18.{}.{}", client, n % 250 + 1);
                    request = request.header("X-Forwarded-For", address);
                }
                let status = match request.send().await {
                    Ok(response) => response.status().as_u16().to_string(),
                    Err(e) => format!("error ({e})"),
                };
                *statuses.entry(status).or_default() += 1;
            }
            statuses
        }));
    }
    let reads = {
        let stop = stop.clone();
        let reader = read_until(b, stop.clone());
        let timer = async {
            tokio::time::sleep(FLOOD).await;
            stop.store(true, Ordering::Relaxed);
        };
        tokio::join!(reader, timer).0
    };
    let mut statuses = BTreeMap::new();
    let mut total = 0;
    for flooder in flooders {
        for (status, count) in flooder.await.expect("a flooder does not panic") {
            total += count;
            *statuses.entry(status).or_default() += count;
        }
    }
    (statuses, reads, total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
async fn login_costs_and_reads_during_a_login_flood_are_printed() {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!(
        "measure_login: {} build, {cores} cores, Argon2 slots = {cores}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );

    let key = AccessKey::parse(KEY_A).expect("a key");
    let phc = kaisen::password::hash(&key).expect("hashes");
    let (mut hashes, mut verifies) = tokio::task::spawn_blocking(move || {
        let mut hashes = Vec::new();
        let mut verifies = Vec::new();
        for _ in 0..HASHES {
            let started = Instant::now();
            let _ = kaisen::password::hash(&key).expect("hashes");
            hashes.push(started.elapsed());
            let started = Instant::now();
            assert!(kaisen::password::verify(&key, &phc));
            verifies.push(started.elapsed());
        }
        (hashes, verifies)
    })
    .await
    .expect("hashing does not panic");
    println!(
        "Argon2id hash (m=19456 KiB, t=2, p=1): {}",
        summary(&mut hashes)
    );
    println!(
        "Argon2id verify:                      {}",
        summary(&mut verifies)
    );

    // The sequential logins are all line A's, from one address: the login
    // limits are raised out of their way.
    let app = spawn_app_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().expect("an IP")];
        c.logins_per_line = 1_000;
        c.logins_per_address = 1_000;
    })
    .await;
    let client = app.client();
    let mut logins = Vec::new();
    for _ in 0..SEQUENTIAL_LOGINS {
        let started = Instant::now();
        let reply = client.log_in(LINE_A, KEY_A).await;
        logins.push(started.elapsed());
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    println!(
        "login, sequential, right key:         {}",
        summary(&mut logins)
    );

    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = stop.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            stop.store(true, Ordering::Relaxed);
        }
    };
    // The reader logs in before any flood: the single-address flood makes
    // this address wait out the failure window, for every login.
    let b = app.line_b().await;
    let (mut quiet, ()) = tokio::join!(read_until(&b, stop), timer);
    println!(
        "GET /api/line, no flood:              {}",
        summary(&mut quiet)
    );

    for (spread, label) in [
        (true, "addresses spread via X-Forwarded-For"),
        (false, "one client address"),
    ] {
        let (statuses, mut reads, total) = flood(&app, &b, spread).await;
        println!(
            "flood, {FLOOD_CLIENTS} clients × {FLOOD:?}, {label}: {total} logins ({:.0}/s), statuses {statuses:?}",
            total as f64 / FLOOD.as_secs_f64()
        );
        println!(
            "  GET /api/line meanwhile:            {}",
            summary(&mut reads)
        );
    }

    // The floods left the fixture lines alone: B can still log in, from an
    // address that did not flood.
    let login = app
        .client()
        .http
        .post(app.url("/api/session"))
        .header("X-Forwarded-For", "192.0.2.1")
        .json(&json!({"customer_id": LINE_B, "access_key": KEY_B}))
        .send()
        .await
        .expect("sent");
    assert_eq!(login.status(), StatusCode::OK);
}
