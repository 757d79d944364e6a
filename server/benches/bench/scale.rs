//! The cost of growth: import files of 100k and 1M lines (`--lines`) with
//! 1,000 providers (keys as `access_key_hash`, so nothing is hashed),
//! imported by the real `kaisen import` on each engine; then the store
//! reopened in a fresh process and read at random.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kaisen::store::{Location, Store};
use shared::domain::CustomerId;

use crate::http::quantile_ms;
use crate::server::{self, kaisen, spawn_self, status_kib};
use crate::stores::{self, Engine, Stores};
use crate::table::{Table, thousands};

/// Providers in the generated files.
const PROVIDERS: usize = 1_000;
/// 「通知する」 settings per line.
const NOTIFY: usize = 2;
/// Point reads timed after reopening.
const READS: usize = 20_000;

/// Measures each size in turn, on each engine, prints a table and puts
/// the figures in `table`.
pub fn run(sizes: &[u64], stores: &Stores, table: &mut Table) {
    println!();
    println!(
        "Scale: {PROVIDERS} providers, {NOTIFY} settings and 1 service per line, keys as access_key_hash"
    );
    println!(
        "{:<10} {:>11} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>11}",
        "",
        "lines",
        "file",
        "import",
        "lines/s",
        "peak RSS",
        "on disk",
        "reopen",
        "RSS open",
        "read p50/p99"
    );
    for &lines in sizes {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let file = dir.path().join("lines.json");
        server::write_import(
            std::fs::File::create(&file).expect("file made"),
            PROVIDERS,
            1,
            lines,
            NOTIFY,
            &server::key_hash(),
        )
        .expect("import file written");
        let file_bytes = std::fs::metadata(&file).map_or(0, |m| m.len());
        for &engine in stores.engines() {
            let db = stores.create(engine, dir.path(), &format!("scale_{lines}"));
            measure(engine, &db, &file, file_bytes, lines, stores, table);
            stores.remove(&db);
        }
    }
}

fn measure(
    engine: Engine,
    db: &Location,
    file: &Path,
    file_bytes: u64,
    lines: u64,
    stores: &Stores,
    table: &mut Table,
) {
    let started = Instant::now();
    let mut child = Command::new(kaisen())
        .arg("import")
        .arg(file)
        .args(stores::args(db))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("kaisen import runs");
    // VmHWM is the peak so far: the last reading before the exit is the
    // peak but for the last 100 ms.
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waited") {
            break status;
        }
        peak = peak.max(status_kib(child.id(), "VmHWM"));
        std::thread::sleep(Duration::from_millis(100));
    };
    let import = started.elapsed();
    assert!(status.success(), "kaisen import failed: {status}");
    let disk = stores.bytes(db);

    let (_child, report) = spawn_self(&["reopen", &stores::to_arg(db), &lines.to_string()]);
    let report: serde_json::Value = serde_json::from_str(&report).expect("the child's report");
    let per_second = lines as f64 / import.as_secs_f64();
    let (open_s, rss_open) = (
        report["open_s"].as_f64().unwrap_or(f64::NAN),
        mb(report["rss_kib"].as_u64().unwrap_or(0) * 1024),
    );
    let (p50, p99) = (
        report["p50_ms"].as_f64().unwrap_or(f64::NAN),
        report["p99_ms"].as_f64().unwrap_or(f64::NAN),
    );
    println!(
        "{:<10} {:>11} {:>9} {:>8.1}s {:>10.0} {:>9} {:>9} {:>8.2}s {:>9} {p50:>5.3}/{p99:.3} ms",
        engine.name(),
        thousands(lines),
        mb(file_bytes),
        import.as_secs_f64(),
        per_second,
        mb(peak * 1024),
        mb(disk),
        open_s,
        rss_open,
    );
    let column = engine.column();
    let size = thousands(lines);
    table.put(
        &format!("import {size} lines"),
        "≥ 100,000 lines/s",
        column,
        format!(
            "{} lines/s ({:.1} s)",
            thousands(per_second as u64),
            import.as_secs_f64()
        ),
    );
    table.put(
        &format!("import {size} lines: peak RSS of `kaisen import`; on disk"),
        "",
        column,
        format!("{}; {}", mb(peak * 1024), mb(disk)),
    );
    table.put(
        &format!("reopen {size} lines: time, RSS; S2 read p50/p99"),
        "≤ 30 s, RSS ≤ 2 GB",
        column,
        format!("{open_s:.2} s, {rss_open}; {p50:.2}/{p99:.2} ms"),
    );
}

/// The child's side: opens the store `db` (of `lines` lines), reads
/// random lines' S2 data, and prints one JSON line.
pub fn reopen(db: &Location, lines: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(reopen_async(db, lines));
}

async fn reopen_async(db: &Location, lines: u64) {
    let started = Instant::now();
    let store = Store::open(db, kaisen::store::Purpose::Serve)
        .await
        .expect("the store opens");
    let open = started.elapsed();
    let rss_kib = status_kib(std::process::id(), "VmRSS");
    let mut samples = Vec::with_capacity(READS);
    for _ in 0..READS {
        let n = rand::random_range(1..=lines);
        let id = CustomerId::parse(&server::customer_id(n)).expect("an ID");
        let started = Instant::now();
        let line = store.line(&id).await.expect("read");
        let rows = store.notifications(&id).await.expect("read");
        samples.push(started.elapsed());
        assert!(
            line.is_some() && rows.len() == NOTIFY,
            "line {id} as imported"
        );
    }
    samples.sort_unstable();
    println!(
        "{}",
        serde_json::json!({
            "open_s": open.as_secs_f64(),
            "rss_kib": rss_kib,
            "p50_ms": quantile_ms(&samples, 0.5),
            "p99_ms": quantile_ms(&samples, 0.99),
        })
    );
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}
