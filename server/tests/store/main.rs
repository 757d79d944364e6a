//! The storage interface's conformance suite: every operation and every
//! promise of SPEC §4 that storage keeps, held to one contract on both
//! engines. Each case runs twice, `sled` (a temporary folder) and
//! `postgres` (a fresh database on a private PostgreSQL cluster), through
//! the same `Store` calls the server makes.

mod engines;

mod applications;
mod disclosures;
mod events;
mod export;
mod import;
mod logins;
mod mail;
mod operators;
mod prefixes;
mod provider_api;
mod work;
