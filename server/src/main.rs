//! The `kaisen` binary: parses the command line and hands over.

// Server code answers failures; it does not panic on them (tests may).
#![deny(clippy::unwrap_used)]

use std::process::ExitCode;

use clap::Parser;
use kaisen::config::{Cli, Command};
use kaisen::operator;
use kaisen::startup::Server;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    kaisen::telemetry::init_logging(cli.log_format);
    let outcome = match cli.command {
        Command::Serve(config) => serve(*config).await,
        Command::Import { file, database } => operator::run_import(&file, &database)
            .await
            .map(|s| println!("{s}")),
        Command::Export { file, database } => operator::run_export(&file, &database)
            .await
            .map(|s| println!("{s}")),
        Command::Restore { file, database } => operator::run_restore(&file, &database)
            .await
            .map(|s| println!("{s}")),
        Command::Migrate { database } => operator::run_migrate(&database)
            .await
            .map(|s| println!("{s}")),
        Command::Operator { command } => {
            operator::run_operator(command).await.map(|s| print!("{s}"))
        }
        Command::Application { id, database } => operator::run_application(&id, &database)
            .await
            .map(|s| print!("{s}")),
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
