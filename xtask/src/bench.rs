//! `cargo xtask bench [--runs N] [load] [logins] [scale] [--secs N]
//! [--lines N,N] [--engine sled|postgres] [--pg-set name=value]…`: builds
//! the client and the server for release and prints issue 6's figures: the
//! client's size, cold load to interactive in headless Chromium, then the
//! server's and the store's on sled and on PostgreSQL, side by side
//! (`cargo bench -p kaisen-server --bench bench`, which takes the remaining
//! arguments).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use std::{env, fs};

use crate::{Result, client, root, run};

/// The first load's goal, brotli bytes (issue 6); the budget, which the
/// build enforces, is [`client::FIRST_LOAD_BUDGET`].
const GOAL: u64 = 120_000;

/// Runs the whole bench.
pub fn bench(args: &[String]) -> Result {
    let root = root();
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let site = client::build(client::Wasm::Optimised)?;
    sizes(&site)?;

    run(Command::new(&cargo).current_dir(&root).args([
        "build",
        "--release",
        "--package",
        "kaisen-server",
    ]))?;
    let runs = value(args, "--runs").map_or(Ok(20), |r| r.parse())?;
    cold_load(&root, &site, runs)?;

    let rest: Vec<&String> = skip_flag(args, "--runs");
    run(Command::new(&cargo)
        .current_dir(&root)
        .args([
            "bench",
            "--package",
            "kaisen-server",
            "--bench",
            "bench",
            "--",
        ])
        .args(rest))
}

fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
}

/// `args` without `flag` and its value.
fn skip_flag<'a>(args: &'a [String], flag: &str) -> Vec<&'a String> {
    let mut rest = Vec::new();
    let mut skip = false;
    for arg in args {
        if skip {
            skip = false;
        } else if arg == flag {
            skip = true;
        } else {
            rest.push(arg);
        }
    }
    rest
}

/// Prints each file of the site raw, gzip and brotli (as served), the
/// first load (every file but the lazy ones) and the lazy files.
fn sizes(site: &Path) -> Result {
    let mut files = vec![site.join("index.html")];
    let mut assets: Vec<PathBuf> = fs::read_dir(site.join("assets"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.extension().is_some_and(|e| e == "br" || e == "gz"))
        .collect();
    assets.sort();
    files.extend(assets);

    println!();
    println!("Client (target/site, as served: .br/.gz copies made by the build)");
    println!(
        "{:<34} {:>10} {:>10} {:>10}",
        "file", "raw", "gzip", "brotli"
    );
    // The first load, and the lazy files fetched after it.
    let mut totals = [[0u64; 3]; 2];
    for file in &files {
        let raw = fs::metadata(file)?.len();
        let copy = |suffix: &str| {
            let mut name = file.as_os_str().to_owned();
            name.push(suffix);
            fs::metadata(name).map_or(raw, |m| m.len())
        };
        let row = [raw, copy(".gz"), copy(".br")];
        let total = &mut totals[usize::from(client::is_lazy(file))];
        for (t, r) in total.iter_mut().zip(row) {
            *t += r;
        }
        let name = file
            .strip_prefix(site)
            .unwrap_or(file)
            .display()
            .to_string();
        size_row(&name, row, "");
    }
    let [first, lazy] = totals;
    size_row(
        "first load, all but lazy-*",
        first,
        &format!(
            "   budget {}, goal {} (brotli)",
            bytes(client::FIRST_LOAD_BUDGET),
            bytes(GOAL)
        ),
    );
    size_row(
        "lazy-*, the screens after S0",
        lazy,
        "   fetched once S0 is drawn",
    );
    Ok(())
}

/// One row of the size table: raw, gzip and brotli bytes, then `note`.
fn size_row(name: &str, [raw, gzip, brotli]: [u64; 3], note: &str) {
    println!(
        "{name:<34} {:>10} {:>10} {:>10}{note}",
        bytes(raw),
        bytes(gzip),
        bytes(brotli)
    );
}

/// Serves the demo data with the release server and times `runs` cold loads
/// of the login page in headless Chromium (end2end/bench/cold-load.mjs), on
/// loopback and on an emulated slow 4G.
fn cold_load(root: &Path, site: &Path, runs: usize) -> Result {
    let target = env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let db = tempfile::tempdir()?;
    let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut server = Command::new(target.join("release/kaisen"))
        .arg("serve")
        .arg("--demo")
        .arg("--addr")
        .arg(addr.to_string())
        .arg("--db")
        .arg(db.path().join("db"))
        .arg("--site")
        .arg(site)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            let _ = server.kill();
            return Err("the demo server did not start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let outcome = ["loopback", "slow-4g"]
        .into_iter()
        .try_for_each(|network| cold_loads(root, addr, runs, network));
    let _ = server.kill();
    let _ = server.wait();
    outcome
}

/// Times `runs` cold loads from the server at `addr` over `network`
/// (`loopback`, or `slow-4g`: Chromium's emulation of a phone's network).
fn cold_loads(root: &Path, addr: std::net::SocketAddr, runs: usize, network: &str) -> Result {
    let output = Command::new("node")
        .current_dir(root.join("end2end"))
        .arg("bench/cold-load.mjs")
        .arg(format!("http://{addr}/"))
        .arg(runs.to_string())
        .arg(network)
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("cold-load.mjs failed: {}", output.status).into());
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let mut times: Vec<f64> = report["times"]
        .as_array()
        .ok_or("no times")?
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    times.sort_by(f64::total_cmp);
    let transfer = report["transfers"][0].as_f64().unwrap_or(f64::NAN);
    println!();
    println!(
        "Cold load to interactive (login form drawn), headless Chromium on localhost, network {network}, {} runs, each in a new context (empty cache)",
        times.len()
    );
    let goal = if network == "loopback" {
        "   goal p50 ≤ 300 ms"
    } else {
        ""
    };
    println!(
        "  p50 {:.0} ms, p95 {:.0} ms, min {:.0} ms, max {:.0} ms; the browser counted {} transferred (headers included){goal}",
        quantile(&times, 0.5),
        quantile(&times, 0.95),
        times.first().copied().unwrap_or(f64::NAN),
        times.last().copied().unwrap_or(f64::NAN),
        bytes(transfer as u64)
    );
    Ok(())
}

/// The `q`-quantile (nearest rank) of sorted `samples`.
fn quantile(samples: &[f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

/// `123,456 B`.
fn bytes(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out + " B"
}
