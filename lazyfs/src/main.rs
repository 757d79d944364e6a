//! `lazyfs mount <backing> <mountpoint>`: a power-loss file system for
//! scripts.
//!
//! Runs in the foreground. SIGTERM or SIGINT unmounts cleanly (everything
//! becomes durable); SIGUSR1 cuts the power (everything not fsynced is lost)
//! and then unmounts. Prints `mounted` on standard output once the mount is
//! ready.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

#[derive(Parser)]
#[command(about = "A FUSE file system that loses unsynced writes when its power is cut")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Mounts BACKING at MOUNTPOINT until SIGTERM/SIGINT (clean unmount) or
    /// SIGUSR1 (power cut, then unmount).
    Mount {
        /// The directory that holds the durable state.
        backing: PathBuf,
        /// An existing directory to mount on.
        mountpoint: PathBuf,
    },
}

fn main() -> ExitCode {
    let Command::Mount {
        backing,
        mountpoint,
    } = Cli::parse().command;
    match run(&backing, &mountpoint) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lazyfs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(backing: &std::path::Path, mountpoint: &std::path::Path) -> std::io::Result<()> {
    // Registered before mounting, so that no signal is missed once
    // "mounted" is printed.
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGUSR1])?;
    let fs = lazyfs::LazyFs::mount(backing, mountpoint)?;
    println!("mounted");
    if signals.forever().next() == Some(SIGUSR1) {
        fs.cut()?;
        eprintln!("lazyfs: power cut");
    }
    fs.unmount()
}
