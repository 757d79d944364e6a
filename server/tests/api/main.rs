//! kaisen's HTTP integration tests: one binary, the real server on
//! `127.0.0.1:0` with a temporary database (see `helpers::spawn_app`), one
//! module per resource. Every test goes through HTTP and asserts status and
//! body.

mod access;
mod applications;
mod connections;
mod console;
mod events;
mod export;
mod health;
mod helpers;
mod import;
mod lines;
mod lockout;
mod login_limits;
mod mail;
mod provider;
mod provider_example;
mod provider_openapi;
mod providers;
mod session;
mod static_files;
mod tls;
