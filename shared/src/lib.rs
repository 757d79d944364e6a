//! Types and validation shared by kaisen's server and browser client.
//!
//! `domain` holds the newtypes that can only be built from valid input
//! ("parse, don't validate"); `api` holds the JSON shapes of `/api`. The same
//! rules run in the browser, for instant messages, and on the server, which
//! never trusts the client.

pub mod api;
pub mod domain;
pub mod draft;
