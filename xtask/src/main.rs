//! kaisen's developer tasks, from registries only:
//!
//! - `cargo xtask client [--no-opt | --names]` builds the browser client into
//!   `target/site`: cargo for wasm32 on one pinned nightly
//!   (`client::WASM_TOOLCHAIN`, for `-Zbuild-std`), wasm-bindgen as a library (its version
//!   pinned to the `wasm-bindgen` crate's, so they cannot drift), the wasm
//!   split at its `#[wasm_split]` points (`wasm_split_cli_support`: S0's
//!   code in the first load, the other screens' in a lazy file), `wasm-opt`
//!   from the npm package `binaryen` (≥ 132; Debian's 108 silently breaks the
//!   bundle), the JS through terser and the CSS through csso (npm too),
//!   content-hashed names, brotli and gzip copies; it prints the first load
//!   and fails above its budget. `--names` keeps the wasm's function names,
//!   for `twiggy`; `--no-opt` leaves out wasm-opt and the minifiers.
//! - `cargo xtask bench` measures the client, the server and the store and
//!   prints the figures (see the README's "Performance").

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;
mod client;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage: cargo xtask client [--no-opt | --names]\n       cargo xtask bench [--runs N] [load] [logins] [scale] [--secs N] [--lines N,N] [--engine sled|postgres] [--pg-set name=value]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("client") => client::build_within_budget(if args.iter().any(|a| a == "--no-opt") {
            client::Wasm::Plain
        } else if args.iter().any(|a| a == "--names") {
            client::Wasm::Named
        } else {
            client::Wasm::Optimised
        }),
        Some("bench") => bench::bench(&args[1..]),
        _ => Err(USAGE.into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}").into())
    }
}
