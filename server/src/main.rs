//! The `kaisen` binary: parses the command line and hands over.

use std::process::ExitCode;

use clap::Parser;
use kaisen::config::{Cli, Command};
use kaisen::operator;
use kaisen::startup::Server;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let outcome = match Cli::parse().command {
        Command::Serve(config) => serve(*config).await,
        Command::Import { file, db } => operator::run_import(&file, &db).map(|s| println!("{s}")),
        Command::Export { file, db } => operator::run_export(&file, &db).map(|s| println!("{s}")),
        Command::Restore { file, db } => operator::run_restore(&file, &db).map(|s| println!("{s}")),
        Command::Application { id, db } => {
            operator::run_application(&id, &db).map(|s| print!("{s}"))
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kaisen: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: kaisen::config::ServeConfig) -> Result<(), String> {
    let server = Server::build(config).await.map_err(|e| e.to_string())?;
    let addr = server.local_addr().map_err(|e| e.to_string())?;
    tracing::info!("kaisen listening on http://{addr}");
    server.run().await.map_err(|e| e.to_string())
}
