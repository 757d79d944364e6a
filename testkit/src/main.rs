//! `testkit`: a PostgreSQL cluster for shell scripts (the e2e serve script),
//! started by one command and stopped by another.
//!
//! ```text
//! testkit start --dir <dir> [--port N] [--fsync]   # prints the URL, writes <dir>/url
//! testkit stop --dir <dir>
//! ```

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use testkit::{Cluster, Error, Options};

/// Private PostgreSQL clusters for kaisen's scripts.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to do with the cluster in a directory.
#[derive(Debug, Subcommand)]
enum Command {
    /// Starts a cluster in `--dir` (made if missing; an existing one is
    /// started as it is) that outlives this command; prints its URL and
    /// writes it to `<dir>/url`.
    Start {
        /// The cluster's directory.
        #[arg(long)]
        dir: PathBuf,
        /// The port on 127.0.0.1 (default: a free one).
        #[arg(long)]
        port: Option<u16>,
        /// Turns `fsync` on (it is off by default).
        #[arg(long)]
        fsync: bool,
    },
    /// Stops the cluster in `--dir` (fast shutdown); a stopped one is left
    /// as it is.
    Stop {
        /// The cluster's directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("testkit: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Carries out one command.
fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Start { dir, port, fsync } => {
            let cluster = Cluster::start(Options {
                fsync,
                dir: Some(dir),
                port,
                ..Options::default()
            })?;
            let url = cluster.url();
            let url_file = cluster.dir().join("url");
            fs::write(&url_file, format!("{url}\n")).map_err(|source| Error::Io {
                action: format!("writing {}", url_file.display()),
                source,
            })?;
            cluster.detach();
            println!("{url}");
            Ok(())
        }
        Command::Stop { dir } => {
            let cluster = Cluster::attach(dir)?;
            if cluster.is_running() {
                cluster.stop()
            } else {
                eprintln!(
                    "testkit: the cluster in {} is not running",
                    cluster.dir().display()
                );
                Ok(())
            }
        }
    }
}
