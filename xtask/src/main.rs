//! `cargo xtask client`: builds kaisen's browser client into `target/site`,
//! from registries only: cargo for wasm32, wasm-bindgen as a library (its
//! version pinned to the `wasm-bindgen` crate's, so they cannot drift), and
//! `wasm-opt` from the npm package `binaryen` (≥ 132; Debian's 108 silently
//! breaks the bundle).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::{env, fs};

use wasm_bindgen_cli_support::Bindgen;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage: cargo xtask client [--no-opt]";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("client") => build_client(!args.iter().any(|a| a == "--no-opt")),
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

fn build_client(optimise: bool) -> Result {
    let root = root();
    let site = root.join("target/site");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo).current_dir(&root).args([
        "build",
        "--package",
        "kaisen-app",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "wasm-release",
    ]))?;
    let target = env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let wasm = target.join("wasm32-unknown-unknown/wasm-release/kaisen-app.wasm");

    if site.exists() {
        fs::remove_dir_all(&site)?;
    }
    fs::create_dir_all(&site)?;
    Bindgen::new()
        .input_path(&wasm)
        .web(true)?
        .typescript(false)
        .out_name("kaisen")
        .generate(&site)?;

    let bundle = site.join("kaisen_bg.wasm");
    if optimise {
        let wasm_opt = root.join("end2end/node_modules/.bin/wasm-opt");
        if !wasm_opt.exists() {
            return Err(format!(
                "{} is missing: run `npm ci` in end2end/",
                wasm_opt.display()
            )
            .into());
        }
        run(Command::new(wasm_opt)
            .args(["-Oz", "--strip-debug", "--strip-producers"])
            .args(WASM_FEATURES)
            .arg(&bundle)
            .arg("-o")
            .arg(&bundle))?;
    }

    for entry in fs::read_dir(root.join("public"))? {
        let path = entry?.path();
        if let Some(name) = path.file_name() {
            fs::copy(&path, site.join(name))?;
        }
    }
    let mut css = String::new();
    let mut sheets: Vec<_> = fs::read_dir(root.join("style"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    sheets.sort();
    for sheet in sheets
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "css"))
    {
        css.push_str(&fs::read_to_string(sheet)?);
        css.push('\n');
    }
    fs::write(site.join("kaisen.css"), css)?;

    for name in ["kaisen_bg.wasm", "kaisen.js", "kaisen.css"] {
        println!(
            "{name:>16}: {:>8} bytes",
            fs::metadata(site.join(name))?.len()
        );
    }
    println!("client built in {}", site.display());
    Ok(())
}

/// The WebAssembly features rustc enables for wasm32 by default, which
/// wasm-opt must be told about to keep (and may use).
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];
