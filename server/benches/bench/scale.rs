//! The cost of growth: import files of 1M and 10M lines with 1,000
//! providers (keys as `access_key_hash`, so nothing is hashed), imported by
//! the real `kaisen import`; then the store reopened in a fresh process and
//! read at random.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kaisen::store::Store;
use shared::domain::CustomerId;

use crate::http::quantile_ms;
use crate::server::{self, KAISEN, spawn_self, status_kib};

/// Providers in the generated files.
const PROVIDERS: usize = 1_000;
/// 「通知する」 settings per line.
const NOTIFY: usize = 2;
/// Point reads timed after reopening.
const READS: usize = 20_000;

/// Measures each size in turn and prints a table.
pub fn run(sizes: &[u64]) {
    println!();
    println!(
        "Scale: {PROVIDERS} providers, {NOTIFY} settings and 1 service per line, keys as access_key_hash"
    );
    println!(
        "{:>11} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>11}",
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
        measure(lines);
    }
}

fn measure(lines: u64) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (file, db) = (dir.path().join("lines.json"), dir.path().join("db"));
    let key_hash = server::key_hash();
    server::write_import(
        std::fs::File::create(&file).expect("file made"),
        PROVIDERS,
        1,
        lines,
        NOTIFY,
        &key_hash,
    )
    .expect("import file written");
    let file_bytes = std::fs::metadata(&file).map_or(0, |m| m.len());

    let started = Instant::now();
    let mut child = Command::new(KAISEN)
        .arg("import")
        .arg(&file)
        .arg("--db")
        .arg(&db)
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
    std::fs::remove_file(&file).expect("file removed");
    let disk = bytes_in(&db);

    let (_child, report) = spawn_self(&["reopen", db.to_str().expect("UTF-8"), &lines.to_string()]);
    let report: serde_json::Value = serde_json::from_str(&report).expect("the child's report");
    println!(
        "{:>11} {:>9} {:>8.1}s {:>10.0} {:>9} {:>9} {:>8.2}s {:>9} {:>5.3}/{:.3} ms",
        thousands(lines),
        mb(file_bytes),
        import.as_secs_f64(),
        lines as f64 / import.as_secs_f64(),
        mb(peak * 1024),
        mb(disk),
        report["open_s"].as_f64().unwrap_or(f64::NAN),
        mb(report["rss_kib"].as_u64().unwrap_or(0) * 1024),
        report["p50_ms"].as_f64().unwrap_or(f64::NAN),
        report["p99_ms"].as_f64().unwrap_or(f64::NAN),
    );
}

/// The child's side: opens the store in `db` (of `lines` lines), reads
/// random lines' S2 data, and prints one JSON line.
pub fn reopen(db: &Path, lines: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(reopen_async(db, lines));
}

async fn reopen_async(db: &Path, lines: u64) {
    let started = Instant::now();
    let location = kaisen::store::Location::Sled(db.to_path_buf());
    let store = Store::open(&location, kaisen::store::Purpose::Serve)
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

/// The bytes of the files under `dir`.
fn bytes_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => bytes_in(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
