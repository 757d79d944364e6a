//! kaisen's server: the portal's JSON API and static client (axum), its
//! storage (sled, behind `store`), the worker that applies changes, and the
//! operator's subcommands.

// Server code answers failures; it does not panic on them (tests may).
#![deny(clippy::unwrap_used)]

pub mod config;
pub mod connections;
pub mod console;
pub mod csrf;
pub mod demo;
pub mod error;
pub mod extract;
pub mod hashing;
pub mod import;
pub mod limit;
pub mod mail;
pub mod operator;
pub mod password;
pub mod provider;
pub mod rfc3339;
pub mod routes;
pub mod security;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod work;
