//! `cargo xtask client`: builds kaisen's browser client into `target/site`.
//!
//! The site is `index.html` (revalidated on every load) and `assets/`, whose
//! file names carry a hash of their content (cached for good). Every file
//! that compresses is also written as `.br` and `.gz`, which the server
//! sends to browsers that accept them.
//!
//! The first load, everything `index.html` pulls before the login form is
//! drawn, is held to [`FIRST_LOAD_BUDGET`]: the build fails above it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use wasm_bindgen_cli_support::Bindgen;

use crate::{Result, root, run};

/// The most the first load may weigh: brotli bytes, as the server sends
/// them: what issue 14's cuts reached (173,239 B) plus 5 %, so that size
/// cannot creep back. Lower it whenever a cut lands.
pub const FIRST_LOAD_BUDGET: u64 = 181_901;

/// The one toolchain the client is built with, pinned: a dated nightly,
/// for [`NIGHTLY_ARGS`] (16 KB brotli off the first load). Only the wasm
/// build uses it; the server, the tests and clippy stay on stable.
/// `scripts/setup.sh` installs it (with `rust-src`, which `-Zbuild-std`
/// compiles).
pub const WASM_TOOLCHAIN: &str = "nightly-2026-10-29";

/// What the nightly is for: the standard library compiled with the client
/// (optimised for size, and linked in with LTO like the rest); panics that
/// abort at once, without formatting a message (they abort already, with
/// `panic = "abort"`, and wasm32's std has nowhere to print the message);
/// `{:?}` formatting and source locations compiled out (the client shows
/// neither).
const NIGHTLY_ARGS: &[&str] = &[
    "-Zbuild-std=std,panic_abort",
    "-Zpanic-immediate-abort",
    "--config",
    "profile.wasm-release.panic=\"immediate-abort\"",
    "--config",
    "target.wasm32-unknown-unknown.rustflags=[\"-Zfmt-debug=none\", \"-Zlocation-detail=none\"]",
];

/// What wasm-opt does to the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wasm {
    /// Nothing: the bundle as wasm-bindgen wrote it (`--no-opt`).
    Plain,
    /// Optimised for size and stripped: what is served.
    Optimised,
    /// Optimised for size, keeping the function names, for `twiggy`
    /// (`--names`).
    Named,
}

/// Builds the client into `target/site`.
pub fn build(wasm: Wasm) -> Result<PathBuf> {
    let root = root();
    let site = root.join("target/site");
    // rustup's `cargo`, which understands `+toolchain`.
    let mut cargo = Command::new("cargo");
    cargo
        .current_dir(&root)
        .env_remove("RUSTUP_TOOLCHAIN")
        .arg(format!("+{WASM_TOOLCHAIN}"))
        .args([
            "build",
            "--package",
            "kaisen-app",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm-release",
        ])
        .args(NIGHTLY_ARGS);
    run(&mut cargo)?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let compiled = target.join("wasm32-unknown-unknown/wasm-release/kaisen-app.wasm");

    let work = tempfile::tempdir()?;
    Bindgen::new()
        .input_path(&compiled)
        .web(true)?
        .typescript(false)
        .out_name("kaisen")
        .generate(work.path())?;
    // JS snippets of dependencies would be imported from paths this build
    // does not serve; none are used today: fail loudly if one appears.
    if work.path().join("snippets").exists() {
        return Err("wasm-bindgen wrote snippets/, which the site does not serve yet".into());
    }
    let bundle = work.path().join("kaisen_bg.wasm");
    if wasm != Wasm::Plain {
        wasm_opt(&root, &bundle, wasm == Wasm::Named)?;
    }

    if site.exists() {
        fs::remove_dir_all(&site)?;
    }
    fs::create_dir_all(site.join("assets"))?;
    let mut assets = Assets {
        dir: site.join("assets"),
        names: Vec::new(),
    };
    let wasm_path = assets.add("kaisen_bg.wasm", &fs::read(&bundle)?)?;
    // The loader: wasm-bindgen's module, told where the wasm is and started.
    let mut js = fs::read_to_string(work.path().join("kaisen.js"))?;
    js.push_str(&format!(
        "\n__wbg_init({{ module_or_path: \"{wasm_path}\" }});\n"
    ));
    assets.add("kaisen.js", js.as_bytes())?;
    assets.add("kaisen.css", stylesheet(&root)?.as_bytes())?;
    let mut index = None;
    for entry in fs::read_dir(root.join("public"))? {
        let path = entry?.path();
        let name = file_name(&path)?;
        if name == "index.html" {
            index = Some(fs::read_to_string(&path)?);
        } else {
            assets.add(name, &fs::read(&path)?)?;
        }
    }

    // index.html names every asset by its logical name, e.g. "/kaisen.js".
    let mut index = index.ok_or("public/index.html is missing")?;
    for (logical, hashed) in &assets.names {
        let quoted = format!("\"/{logical}\"");
        if !index.contains(&quoted) {
            return Err(format!("public/index.html does not refer to {quoted}").into());
        }
        index = index.replace(&quoted, &format!("\"{hashed}\""));
    }
    write_compressed(&site.join("index.html"), index.as_bytes())?;

    println!("client built in {}", site.display());
    for (logical, hashed) in &assets.names {
        println!("  {logical:>16} → {hashed}");
    }
    Ok(site)
}

/// The files of `assets/`, named by content.
struct Assets {
    dir: PathBuf,
    /// Logical name, e.g. `kaisen.js`, and path served, e.g.
    /// `/assets/kaisen-0123456789abcdef.js`.
    names: Vec<(String, String)>,
}

impl Assets {
    /// Writes `bytes` as `<stem>-<hash>.<extension>` and answers its path.
    fn add(&mut self, logical: &str, bytes: &[u8]) -> Result<String> {
        let (stem, extension) = logical.rsplit_once('.').unwrap_or((logical, ""));
        let hash = hex::encode(&Sha256::digest(bytes)[..8]);
        let name = format!("{stem}-{hash}.{extension}");
        write_compressed(&self.dir.join(&name), bytes)?;
        let path = format!("/assets/{name}");
        self.names.push((logical.to_owned(), path.clone()));
        Ok(path)
    }
}

/// Writes `path`, and `path.br` and `path.gz` where compressing saves bytes.
fn write_compressed(path: &Path, bytes: &[u8]) -> Result {
    fs::write(path, bytes)?;
    let mut br = Vec::new();
    brotli::BrotliCompress(
        &mut &bytes[..],
        &mut br,
        &brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: 22,
            ..Default::default()
        },
    )?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes)?;
    let gz = gz.finish()?;
    for (suffix, compressed) in [("br", br), ("gz", gz)] {
        if compressed.len() < bytes.len() {
            let mut name = path.as_os_str().to_owned();
            name.push(format!(".{suffix}"));
            fs::write(name, compressed)?;
        }
    }
    Ok(())
}

fn file_name(path: &Path) -> Result<&str> {
    path.file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{} has no UTF-8 file name", path.display()).into())
}

/// `style/*.css`, in name order, as one sheet.
fn stylesheet(root: &Path) -> Result<String> {
    let mut sheets: Vec<_> = fs::read_dir(root.join("style"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "css"))
        .collect();
    sheets.sort();
    let mut css = String::new();
    for sheet in sheets {
        css.push_str(&fs::read_to_string(sheet)?);
        css.push('\n');
    }
    Ok(css)
}

/// The first load: `index.html` and every asset, which it all names (the
/// build checks that), each as the server sends it, its brotli copy where
/// there is one.
pub fn first_load(site: &Path) -> Result<u64> {
    let mut files = vec![site.join("index.html")];
    for entry in fs::read_dir(site.join("assets"))? {
        let path = entry?.path();
        if !path.extension().is_some_and(|e| e == "br" || e == "gz") {
            files.push(path);
        }
    }
    let mut total = 0;
    for file in files {
        let mut br = file.clone().into_os_string();
        br.push(".br");
        total += fs::metadata(br).or_else(|_| fs::metadata(&file))?.len();
    }
    Ok(total)
}

/// Builds the client, prints its first load and fails when that is over
/// [`FIRST_LOAD_BUDGET`] (an unoptimised or named build is only reported).
pub fn build_within_budget(wasm: Wasm) -> Result {
    let site = build(wasm)?;
    let total = first_load(&site)?;
    println!("first load, brotli: {total} B (budget {FIRST_LOAD_BUDGET} B)");
    if wasm == Wasm::Optimised && total > FIRST_LOAD_BUDGET {
        return Err(format!(
            "the first load is {total} B brotli, over the budget of {FIRST_LOAD_BUDGET} B \
             (xtask/src/client.rs FIRST_LOAD_BUDGET)"
        )
        .into());
    }
    Ok(())
}

/// `-Oz` and stripped (debug info, the producers and the target features
/// sections: the browser reads none of them); with `names`, the name
/// section is kept.
fn wasm_opt(root: &Path, bundle: &Path, names: bool) -> Result {
    let wasm_opt = root.join("end2end/node_modules/.bin/wasm-opt");
    if !wasm_opt.exists() {
        return Err(format!(
            "{} is missing: run `npm ci` in end2end/ (scripts/setup.sh does)",
            wasm_opt.display()
        )
        .into());
    }
    let mut cmd = Command::new(wasm_opt);
    cmd.arg("-Oz");
    if names {
        cmd.arg("--debuginfo");
    } else {
        cmd.args([
            "--strip-debug",
            "--strip-producers",
            "--strip-target-features",
        ]);
    }
    run(cmd.args(WASM_FEATURES).arg(bundle).arg("-o").arg(bundle))
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
