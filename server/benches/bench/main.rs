//! `cargo bench -p kaisen-server --bench bench -- [load] [logins] [scale]
//! [--secs N] [--lines 100000,1000000] [--engine sled|postgres]
//! [--pg-set name=value]…`: the server's and the store's figures for
//! issues 6 and 10, on sled and on PostgreSQL (and two portals on one
//! PostgreSQL), printed as they are measured and then side by side; never
//! asserted. `cargo xtask bench` runs it after the client's figures.
//! Everything runs on 127.0.0.1, every load loop is bounded in count and
//! in time.

mod http;
mod load;
mod logins;
mod lookups;
mod scale;
mod server;
mod stores;
mod table;

use stores::{Engine, Stores};
use table::Table;

fn main() {
    // cargo passes `--bench` to a bench without the test harness.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("floor") => load::floor_server(&args[1], &args[2]),
        Some("reopen") => scale::reopen(
            &stores::from_arg(&args[1]),
            args[2].parse().expect("a line count"),
        ),
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
    let sizes: Vec<u64> = value("--lines").map_or(vec![100_000, 1_000_000], |s| {
        s.split(',')
            .map(|n| n.trim().replace('_', "").parse().expect("--lines N[,N…]"))
            .collect()
    });
    let engines = value("--engine").map_or(vec![Engine::Sled, Engine::Postgres], |e| {
        vec![Engine::parse(&e).expect("--engine sled|postgres")]
    });
    let settings: Vec<(String, String)> = args
        .windows(2)
        .filter(|pair| pair[0] == "--pg-set")
        .map(|pair| {
            let (name, value) = pair[1].split_once('=').expect("--pg-set name=value");
            (name.to_owned(), value.to_owned())
        })
        .collect();
    let all = !args
        .iter()
        .any(|a| a == "load" || a == "logins" || a == "scale");
    let stores = Stores::start(engines, settings);
    let mut table = Table::default();
    if all || args.iter().any(|a| a == "load") {
        tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(load::run(secs, &stores, &mut table));
    }
    // `load` includes the logins' memory; `logins` alone is only that.
    if all || args.iter().any(|a| a == "load" || a == "logins") {
        tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(logins::run(&stores, &mut table));
    }
    if all || args.iter().any(|a| a == "scale") {
        scale::run(&sizes, &stores, &mut table);
    }
    table.print();
}
