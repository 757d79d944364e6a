//! `cargo bench -p kaisen-server --bench bench -- [load] [logins] [scale]
//! [--secs N] [--lines 1000000,10000000]`: the server's and the store's
//! figures for issues 6 and 10, printed, never asserted. `cargo xtask
//! bench` runs it after the client's figures. Everything runs on
//! 127.0.0.1, every load loop is bounded in count and in time.

mod http;
mod load;
mod logins;
mod scale;
mod server;

use std::path::Path;

fn main() {
    // cargo passes `--bench` to a bench without the test harness.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("floor") => load::floor(&args[1], &args[2]),
        Some("reopen") => {
            scale::reopen(Path::new(&args[1]), args[2].parse().expect("a line count"))
        }
        _ => bench(&args),
    }
}

fn bench(args: &[String]) {
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let secs = value("--secs").map_or(5, |s| s.parse().expect("--secs N"));
    let sizes: Vec<u64> = value("--lines").map_or(vec![1_000_000, 10_000_000], |s| {
        s.split(',')
            .map(|n| n.trim().replace('_', "").parse().expect("--lines N[,N…]"))
            .collect()
    });
    let all = !args
        .iter()
        .any(|a| a == "load" || a == "logins" || a == "scale");
    if all || args.iter().any(|a| a == "load") {
        tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(load::run(secs));
    }
    // `load` includes the logins' memory; `logins` alone is only that.
    if all || args.iter().any(|a| a == "load" || a == "logins") {
        tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(logins::run());
    }
    if all || args.iter().any(|a| a == "scale") {
        scale::run(&sizes);
    }
}
